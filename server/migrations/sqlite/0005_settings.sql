-- Venue settings: an IANA time zone (so daylight saving is followed), queues' open hours,
-- and removing queues and counters. A removed row stays, because history refers to it; its
-- slug or name gets a `~<id>` suffix so the name can be used again at once (slugs cannot
-- contain `~`).
ALTER TABLE venues ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE queues ADD COLUMN open_hours TEXT;
ALTER TABLE queues ADD COLUMN removed_at INTEGER;
ALTER TABLE counters ADD COLUMN removed_at INTEGER;
