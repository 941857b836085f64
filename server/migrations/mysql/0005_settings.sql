-- Venue settings: an IANA time zone (so daylight saving is followed), queues' open hours,
-- and removing queues and counters. A removed row stays, because history refers to it; its
-- slug or name gets a `~<id>` suffix so the name can be used again at once (slugs cannot
-- contain `~`).
ALTER TABLE venues ADD COLUMN IF NOT EXISTS time_zone VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE queues ADD COLUMN IF NOT EXISTS open_hours TEXT NULL;
ALTER TABLE queues ADD COLUMN IF NOT EXISTS removed_at BIGINT NULL;
ALTER TABLE counters ADD COLUMN IF NOT EXISTS removed_at BIGINT NULL;
