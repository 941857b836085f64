-- Staff invites: a single-use, expiring link an owner gives to a new team member.
CREATE TABLE IF NOT EXISTS invites (
    token_hash  VARCHAR(64) NOT NULL PRIMARY KEY,
    venue_id    BIGINT NOT NULL,
    email       VARCHAR(254) NOT NULL,
    role        VARCHAR(16) NOT NULL,
    created_by  BIGINT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NULL,
    CONSTRAINT invites_venue FOREIGN KEY (venue_id) REFERENCES venues (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
