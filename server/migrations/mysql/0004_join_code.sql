-- Optional: joining needs the rotating code from the venue screen's QR (people at the door,
-- not at home). The secret the codes derive from is made when the setting is first turned on.
ALTER TABLE venues ADD COLUMN IF NOT EXISTS join_code_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE venues ADD COLUMN IF NOT EXISTS join_secret VARCHAR(64) NULL;
