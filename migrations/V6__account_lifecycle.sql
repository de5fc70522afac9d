-- The account lifecycle: mailed password resets, and their throttles. Conventions: see V1.
--
-- A reset token is sent by mail and kept here only as its SHA-256 digest, so a copy of
-- this table resets nobody's password. It is single use (deleted when used), expires
-- (RESET_TOKEN_TTL, 30 minutes by default), and a newer request for the same account
-- deletes the older ones. Deleting the account deletes them.
CREATE TABLE password_resets (
    token_digest bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    CONSTRAINT password_resets_token_digest_sha256 CHECK (octet_length(token_digest) = 32)
);

CREATE INDEX password_resets_user_id ON password_resets (user_id);
CREATE INDEX password_resets_expires_at ON password_resets (expires_at);

-- Reset requests count per source IP and per email.
ALTER TABLE throttle_counters DROP CONSTRAINT throttle_counters_rule;
ALTER TABLE throttle_counters ADD CONSTRAINT throttle_counters_rule
    CHECK (rule IN ('signin_email_ip', 'signin_email', 'signin_ip', 'signup_ip',
                    'reset_ip', 'reset_email'));
