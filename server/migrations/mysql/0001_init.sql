-- Fila distributed schema (MySQL 8 / MariaDB 10.6+). Timestamps are milliseconds since the
-- Unix epoch (UTC). Live queue state is in Redis; this holds configuration, staff accounts and
-- the history the projector writes.
--
-- Text is utf8mb4 with a binary collation, so comparisons are case-sensitive as in the SQLite
-- schema (tokens, slugs and e-mails match exactly). Every statement is `IF NOT EXISTS`: MySQL
-- DDL commits as it goes, so a migration interrupted halfway can simply be run again.
-- `rank` and `offset` are keywords in MySQL, hence `ticket_rank` and `event_offset`.

CREATE TABLE IF NOT EXISTS venues (
    id                  BIGINT NOT NULL AUTO_INCREMENT,
    slug                VARCHAR(64) NOT NULL,
    name                VARCHAR(255) NOT NULL,
    utc_offset_minutes  INT NOT NULL DEFAULT 0,
    -- Highest event offset and next ticket id the projector has written.
    event_offset        BIGINT NOT NULL DEFAULT 0,
    next_ticket_id      BIGINT NOT NULL DEFAULT 1,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY venues_slug (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS queues (
    id            BIGINT NOT NULL AUTO_INCREMENT,
    venue_id      BIGINT NOT NULL,
    slug          VARCHAR(64) NOT NULL,
    name          VARCHAR(255) NOT NULL,
    prefix        VARCHAR(16) NOT NULL,
    status        VARCHAR(16) NOT NULL DEFAULT 'open',
    max_waiting   BIGINT NULL,
    day           BIGINT NOT NULL DEFAULT -9223372036854775808,
    last_number   BIGINT NOT NULL DEFAULT 0,
    pace_ms       BIGINT NOT NULL DEFAULT 120000,
    last_call_at  BIGINT NULL,
    sort_order    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY queues_venue_slug (venue_id, slug),
    CONSTRAINT queues_venue FOREIGN KEY (venue_id) REFERENCES venues (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS counters (
    id        BIGINT NOT NULL AUTO_INCREMENT,
    venue_id  BIGINT NOT NULL,
    name      VARCHAR(255) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY counters_venue_name (venue_id, name),
    CONSTRAINT counters_venue FOREIGN KEY (venue_id) REFERENCES venues (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Current state of every ticket, as of the newest log entry the projector has written:
-- `version` is that entry's last event offset, and older entries never overwrite newer ones.
CREATE TABLE IF NOT EXISTS tickets (
    venue_id     BIGINT NOT NULL,
    id           BIGINT NOT NULL,
    queue_id     BIGINT NOT NULL,
    number       VARCHAR(32) NOT NULL,
    token        VARCHAR(128) NOT NULL,
    name         VARCHAR(255) NOT NULL,
    party_size   BIGINT NOT NULL,
    notes        TEXT NULL,
    walk_in      BOOLEAN NOT NULL,
    status       VARCHAR(16) NOT NULL,
    ticket_rank  BIGINT NOT NULL,
    counter_id   BIGINT NULL,
    calls        BIGINT NOT NULL,
    day          BIGINT NOT NULL,
    joined_at    BIGINT NOT NULL,
    called_at    BIGINT NULL,
    serving_at   BIGINT NULL,
    finished_at  BIGINT NULL,
    version      BIGINT NOT NULL,
    PRIMARY KEY (venue_id, id),
    UNIQUE KEY tickets_token (token),
    KEY tickets_active (venue_id, status),
    KEY tickets_day (venue_id, day),
    CONSTRAINT tickets_venue FOREIGN KEY (venue_id) REFERENCES venues (id),
    CONSTRAINT tickets_queue FOREIGN KEY (queue_id) REFERENCES queues (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every event, in order: the venue's history and audit trail. `body` is the event as JSON.
CREATE TABLE IF NOT EXISTS events (
    venue_id      BIGINT NOT NULL,
    event_offset  BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    kind          VARCHAR(32) NOT NULL,
    ticket_id     BIGINT NULL,
    actor         BIGINT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (venue_id, event_offset),
    CONSTRAINT events_venue FOREIGN KEY (venue_id) REFERENCES venues (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS staff_users (
    id             BIGINT NOT NULL AUTO_INCREMENT,
    email          VARCHAR(255) NOT NULL,
    password_hash  VARCHAR(255) NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY staff_users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS venue_staff (
    venue_id  BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    role      VARCHAR(16) NOT NULL,
    PRIMARY KEY (venue_id, user_id),
    KEY venue_staff_user (user_id),
    CONSTRAINT venue_staff_venue FOREIGN KEY (venue_id) REFERENCES venues (id),
    CONSTRAINT venue_staff_user FOREIGN KEY (user_id) REFERENCES staff_users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sessions (
    token_hash  VARCHAR(128) NOT NULL,
    user_id     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (token_hash),
    KEY sessions_user (user_id),
    CONSTRAINT sessions_user FOREIGN KEY (user_id) REFERENCES staff_users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
