-- Queue status (open, paused, closed) and the limit on waiting tickets reach MySQL through the
-- history projector, which delivers at least once and in any order: each column keeps the log
-- offset of the event that set it, and only a newer event replaces it.
ALTER TABLE queues ADD COLUMN IF NOT EXISTS status_offset BIGINT NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN IF NOT EXISTS limit_offset BIGINT NOT NULL DEFAULT 0;
