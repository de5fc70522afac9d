-- Brute-force throttling (the contract's "Throttling" rules). Conventions: see V1.
--
-- One row per (rule, key) counts the attempts in a fixed 15-minute window that opens with
-- the first attempt. Keys are SHA-256 digests of the email or source IP, so the table
-- never holds the address of somebody who only mistyped theirs. Rows whose window has
-- passed are dead and removed by the scheduled clean-up.
CREATE TABLE throttle_counters (
    rule         text NOT NULL,
    key          bytea NOT NULL,
    window_start timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL,
    PRIMARY KEY (rule, key),
    CONSTRAINT throttle_counters_rule CHECK (rule IN ('signin_email', 'signin_ip', 'signup_ip')),
    CONSTRAINT throttle_counters_attempts CHECK (attempts >= 0)
);

CREATE INDEX throttle_counters_window_start ON throttle_counters (window_start);
