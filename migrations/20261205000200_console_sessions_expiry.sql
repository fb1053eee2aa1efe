-- A session's end is its sign-in time plus the lifetime (shared::console_sessions::LIFETIME):
-- derived, not stored. The purge goes by the last page seen, so the index was never used.
DROP INDEX console_sessions_expires_idx;
ALTER TABLE console_sessions DROP COLUMN expires_at;
