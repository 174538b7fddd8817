-- EventFlow schema v5: endpoint signing secrets encrypted at rest (issue #9).
--
-- `secret_sealed` and `previous_secret_sealed` hold
-- `efsec1:<key id>:<base64>` (XChaCha20-Poly1305 under a key from
-- EVENTFLOW_SECRETS_KEY, bound to the endpoint's id). The plaintext columns
-- stay only for rows written before this migration: the query API and the
-- dispatcher seal them on start-up (and `eventflow migrate` does when it has
-- the key), setting the plaintext to NULL. New rows never hold plaintext.
ALTER TABLE endpoints
    ADD COLUMN secret_sealed text,
    ADD COLUMN previous_secret_sealed text,
    ALTER COLUMN secret DROP NOT NULL,
    ADD CONSTRAINT endpoints_secret_present CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL);
