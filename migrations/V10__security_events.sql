-- Security events: what a password reset, a password change, a sign-out everywhere, an
-- email change and an account deletion do to every credential and pending link of an
-- account (the contract's Security events table; shared/src/db/security_events.rs holds
-- it as one list). Conventions: see V1.
--
-- A mailed link for an address is either the account's own address to verify, or the
-- address the account asked to move to. The two are voided by different events (a
-- password reset cancels a pending change of email but not the signup link), and a newer
-- link of one kind voids the older of that kind only.
ALTER TABLE email_verifications ADD COLUMN purpose text NOT NULL DEFAULT 'verify';
ALTER TABLE email_verifications ADD CONSTRAINT email_verifications_purpose
    CHECK (purpose IN ('verify', 'change'));
UPDATE email_verifications v SET purpose = 'change'
  FROM users u WHERE u.id = v.user_id AND v.email <> lower(coalesce(u.email, ''));
ALTER TABLE email_verifications ALTER COLUMN purpose DROP DEFAULT;

-- Change-of-email requests mail a third party: counted per account and per source IP,
-- on counters of their own.
ALTER TABLE throttle_counters DROP CONSTRAINT throttle_counters_rule;
ALTER TABLE throttle_counters ADD CONSTRAINT throttle_counters_rule
    CHECK (rule IN ('signin_email_ip', 'signin_email', 'signin_ip', 'signup_ip',
                    'reset_ip', 'reset_email', 'signin_device',
                    'verify_ip', 'verify_email', 'verify_signin',
                    'change_email_account', 'change_email_ip'));

-- A known device's failure counter is keyed by the device's own stored digest, so a
-- statement that finds which of several presented tokens is the account's also knows its
-- counter. Counters under the former key start afresh.
DELETE FROM throttle_counters WHERE rule = 'signin_device';
