-- A dump downloaded by the server (url, s3): where from. Its file is fetched into `file` in the
-- Fetching phase, so a restart fetches it again rather than restoring a partial download.
ALTER TABLE dumps ADD COLUMN source jsonb;
