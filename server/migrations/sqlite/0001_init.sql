-- Fila embedded schema. Timestamps are milliseconds since the Unix epoch (UTC).

CREATE TABLE venues (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    slug                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    utc_offset_minutes  INTEGER NOT NULL DEFAULT 0,
    -- Engine bookkeeping: last event offset and next ticket id, written with every batch.
    event_offset        INTEGER NOT NULL DEFAULT 0,
    next_ticket_id      INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL
);

CREATE TABLE queues (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    venue_id      INTEGER NOT NULL REFERENCES venues(id),
    slug          TEXT NOT NULL,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'open',
    max_waiting   INTEGER,
    day           INTEGER NOT NULL DEFAULT -9223372036854775808,
    last_number   INTEGER NOT NULL DEFAULT 0,
    pace_ms       INTEGER NOT NULL DEFAULT 120000,
    last_call_at  INTEGER,
    sort_order    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (venue_id, slug)
);

CREATE TABLE counters (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    venue_id  INTEGER NOT NULL REFERENCES venues(id),
    name      TEXT NOT NULL,
    UNIQUE (venue_id, name)
);

CREATE TABLE tickets (
    venue_id     INTEGER NOT NULL REFERENCES venues(id),
    id           INTEGER NOT NULL,
    queue_id     INTEGER NOT NULL REFERENCES queues(id),
    number       TEXT NOT NULL,
    token        TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    party_size   INTEGER NOT NULL,
    notes        TEXT,
    walk_in      INTEGER NOT NULL,
    status       TEXT NOT NULL,
    rank         INTEGER NOT NULL,
    counter_id   INTEGER,
    calls        INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    joined_at    INTEGER NOT NULL,
    called_at    INTEGER,
    serving_at   INTEGER,
    finished_at  INTEGER,
    PRIMARY KEY (venue_id, id)
);
CREATE INDEX tickets_active ON tickets (venue_id, status);

-- Every event, in order: the venue's history and audit trail.
CREATE TABLE events (
    venue_id   INTEGER NOT NULL REFERENCES venues(id),
    offset     INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    ticket_id  INTEGER,
    actor      INTEGER,
    body       TEXT NOT NULL,
    PRIMARY KEY (venue_id, offset)
);

CREATE TABLE staff_users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE venue_staff (
    venue_id  INTEGER NOT NULL REFERENCES venues(id),
    user_id   INTEGER NOT NULL REFERENCES staff_users(id),
    role      TEXT NOT NULL,
    PRIMARY KEY (venue_id, user_id)
);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES staff_users(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
