-- Optional: joining needs the rotating code from the venue screen's QR (people at the door,
-- not at home). The secret the codes derive from is made when the setting is first turned on.
ALTER TABLE venues ADD COLUMN join_code_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE venues ADD COLUMN join_secret TEXT;
