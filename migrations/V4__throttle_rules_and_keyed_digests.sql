-- Throttling, revised (the contract's "Throttling" rules). Conventions: see V1.
--
-- Failed password checks now count against three rules: the email from one source IP,
-- the email from all addresses, and the address. Keys become HMAC-SHA256 digests under a
-- key derived from BETTER_AUTH_SECRET (a plain SHA-256 of an IPv4 address reverses in
-- seconds), so every counter keyed the old way is meaningless: they only ever live 15
-- minutes, and are dropped here rather than left to the clean-up.
DELETE FROM throttle_counters;

ALTER TABLE throttle_counters DROP CONSTRAINT throttle_counters_rule;
ALTER TABLE throttle_counters ADD CONSTRAINT throttle_counters_rule
    CHECK (rule IN ('signin_email_ip', 'signin_email', 'signin_ip', 'signup_ip'));
ALTER TABLE throttle_counters ADD CONSTRAINT throttle_counters_key_digest
    CHECK (octet_length(key) = 32);
