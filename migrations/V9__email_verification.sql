-- Email verification and change of email. Conventions: see V1.
--
-- Accounts that existed before are marked unverified: under EMAIL_VERIFICATION=optional
-- nothing changes for them, and they can verify whenever they like.
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
-- A Better Auth caller's row (no email) has nothing to verify.
ALTER TABLE users ADD CONSTRAINT users_email_verified_own_account
    CHECK (email IS NOT NULL OR NOT email_verified);

-- A mailed verification link's token, kept only as its SHA-256 digest, for the address it
-- verifies: the account's own (after signup) or the one it asked to change to. Single use,
-- expiring (VERIFY_TOKEN_TTL), and a newer token of the account deletes the older ones.
CREATE TABLE email_verifications (
    token_digest bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    CONSTRAINT email_verifications_token_digest_sha256 CHECK (octet_length(token_digest) = 32),
    CONSTRAINT email_verifications_email_lowercase CHECK (email = lower(email)),
    CONSTRAINT email_verifications_email_length CHECK (char_length(email) BETWEEN 3 AND 254)
);

CREATE INDEX email_verifications_user_id ON email_verifications (user_id);
CREATE INDEX email_verifications_expires_at ON email_verifications (expires_at);

-- Requests for a verification link count per source IP and per email; a signin refused
-- for an unverified email mails a fresh link at most once a window per account.
ALTER TABLE throttle_counters DROP CONSTRAINT throttle_counters_rule;
ALTER TABLE throttle_counters ADD CONSTRAINT throttle_counters_rule
    CHECK (rule IN ('signin_email_ip', 'signin_email', 'signin_ip', 'signup_ip',
                    'reset_ip', 'reset_email', 'signin_device',
                    'verify_ip', 'verify_email', 'verify_signin'));
