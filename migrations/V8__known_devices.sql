-- Known devices (OWASP's "device cookies"). Conventions: see V1.
--
-- A successful signup or signin hands the browser (or app) a device token; a later
-- password check that presents a token of that very account is judged by the device's own
-- failure counter instead of the email's, so strangers failing for an email from many
-- addresses cannot lock its owner out of a device used before. A token is kept here only
-- as its HMAC-SHA256 under a key derived from BETTER_AUTH_SECRET; it lives 400 days from
-- its last use, goes with its account, and is deleted once its own counter is full.
CREATE TABLE devices (
    token_digest bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    CONSTRAINT devices_token_digest_length CHECK (octet_length(token_digest) = 32)
);

CREATE INDEX devices_user_id ON devices (user_id);
CREATE INDEX devices_expires_at ON devices (expires_at);

-- Failed password checks presented with a known device count against that device.
ALTER TABLE throttle_counters DROP CONSTRAINT throttle_counters_rule;
ALTER TABLE throttle_counters ADD CONSTRAINT throttle_counters_rule
    CHECK (rule IN ('signin_email_ip', 'signin_email', 'signin_ip', 'signup_ip',
                    'reset_ip', 'reset_email', 'signin_device'));
