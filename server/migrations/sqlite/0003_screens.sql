-- Venue screens: paired once with a short-lived code, then hold a display-only credential.
ALTER TABLE venues ADD COLUMN screens_need_pairing INTEGER NOT NULL DEFAULT 0;

CREATE TABLE pairing_codes (
    code_hash   TEXT PRIMARY KEY,
    venue_id    INTEGER NOT NULL REFERENCES venues(id),
    created_by  INTEGER REFERENCES staff_users(id),
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

CREATE TABLE screens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    venue_id    INTEGER NOT NULL REFERENCES venues(id),
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
