-- Venue screens: paired once with a short-lived code, then hold a display-only credential.
-- (MariaDB's IF NOT EXISTS keeps a half-applied migration re-runnable.)
ALTER TABLE venues ADD COLUMN IF NOT EXISTS screens_need_pairing BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE IF NOT EXISTS pairing_codes (
    code_hash   VARCHAR(64) NOT NULL PRIMARY KEY,
    venue_id    BIGINT NOT NULL,
    created_by  BIGINT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NULL,
    CONSTRAINT pairing_codes_venue FOREIGN KEY (venue_id) REFERENCES venues (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS screens (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    venue_id    BIGINT NOT NULL,
    name        VARCHAR(100) NOT NULL,
    token_hash  VARCHAR(64) NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT NULL,
    UNIQUE KEY screens_token (token_hash),
    CONSTRAINT screens_venue FOREIGN KEY (venue_id) REFERENCES venues (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
