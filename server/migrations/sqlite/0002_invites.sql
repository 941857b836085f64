-- Staff invites: a single-use, expiring link an owner gives to a new team member.
CREATE TABLE invites (
    token_hash  TEXT PRIMARY KEY,
    venue_id    INTEGER NOT NULL REFERENCES venues(id),
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_by  INTEGER REFERENCES staff_users(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
