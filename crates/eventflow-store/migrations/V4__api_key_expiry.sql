-- EventFlow schema v4: API keys can expire (issue #9).
--
-- NULL never expires, as every key created before this migration. The
-- services refuse a key from `expires_at` on (their auth cache checks the
-- time on every request, so an expired key stops at once, not after the
-- cache's TTL).
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
