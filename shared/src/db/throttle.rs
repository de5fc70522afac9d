//! Brute-force throttling (the contract's "Throttling" rules): one counter per rule and key in
//! `throttle_counters`, counting attempts in a fixed window that opens with the first one.
//!
//! An attempt is counted *before* it is judged, inside the statement that does the
//! request's own work. So parallel guesses cannot slip between a check and a write, and
//! throttling adds no round trip. A successful signin then gives its attempts back.

use tokio_postgres::types::{ToSql, Type};

use crate::config::ThrottleLimits;

/// The window of every rule, as a PostgreSQL interval.
pub const WINDOW: &str = "interval '15 minutes'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Failed signins for one email.
    SigninEmail,
    /// Failed signins from one source IP.
    SigninIp,
    /// Signups from one source IP.
    SignupIp,
}

impl Rule {
    /// The value of `throttle_counters.rule`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::SigninEmail => "signin_email",
            Rule::SigninIp => "signin_ip",
            Rule::SignupIp => "signup_ip",
        }
    }
}

/// The counters one request bumps, each with its key and limit. Rules that are off
/// (limit 0) or whose key is unknown are left out, so they cost nothing.
#[derive(Debug, Default)]
pub struct Attempt {
    rules: Vec<&'static str>,
    keys: Vec<String>,
    limits: Vec<i32>,
}

impl Attempt {
    /// A signin: counts against the email and the source IP.
    pub fn signin(limits: &ThrottleLimits, email: &str, source_ip: Option<&str>) -> Self {
        Self::default()
            .count(Rule::SigninEmail, Some(email), limits.signin_per_email)
            .count(Rule::SigninIp, source_ip, limits.signin_per_ip)
    }

    /// A signup: counts against the source IP.
    pub fn signup(limits: &ThrottleLimits, source_ip: Option<&str>) -> Self {
        Self::default().count(Rule::SignupIp, source_ip, limits.signup_per_ip)
    }

    fn count(mut self, rule: Rule, key: Option<&str>, limit: u32) -> Self {
        if let (Some(key), true) = (key, limit > 0) {
            self.rules.push(rule.name());
            self.keys.push(key.to_owned());
            self.limits.push(i32::try_from(limit).unwrap_or(i32::MAX));
        }
        self
    }

    /// The three array parameters that [`counting_ctes`] reads.
    pub(super) fn params(&self) -> [(&(dyn ToSql + Sync), Type); 3] {
        [
            (&self.rules, Type::TEXT_ARRAY),
            (&self.keys, Type::TEXT_ARRAY),
            (&self.limits, Type::INT4_ARRAY),
        ]
    }
}

/// The SQL digest of a key (a text expression): what `throttle_counters.key` holds.
pub(super) fn key_digest(key: &str) -> String {
    format!("sha256(convert_to({key}, 'UTF8'))")
}

/// Two CTEs that count an [`Attempt`] given as parameters `$first`..`$first+2`:
/// `throttle_hits` (the counters after this attempt) and `throttle_verdict` (one row whose
/// `retry_after` is the seconds until the latest passed limit's window ends, or null when
/// no limit is passed). Statements that may not proceed when throttled test
/// `(SELECT retry_after FROM throttle_verdict) IS NULL`.
pub(super) fn counting_ctes(first: usize) -> String {
    let (rules, keys, limits) = (first, first + 1, first + 2);
    let digest = key_digest("a.key");
    format!(
        "throttle_attempt AS (
             SELECT a.rule, {digest} AS key, a.max_attempts
               FROM unnest(${rules}::text[], ${keys}::text[], ${limits}::int4[])
                    AS a(rule, key, max_attempts)
         ), throttle_hits AS (
             INSERT INTO throttle_counters AS c (rule, key, window_start, attempts)
             SELECT rule, key, now(), 1 FROM throttle_attempt
             ON CONFLICT (rule, key) DO UPDATE SET
                 window_start = CASE WHEN c.window_start <= now() - {WINDOW}
                                     THEN now() ELSE c.window_start END,
                 attempts = CASE WHEN c.window_start <= now() - {WINDOW}
                                 THEN 1 ELSE c.attempts + 1 END
             RETURNING rule, attempts, window_start
         ), throttle_verdict AS (
             SELECT max(greatest(1, ceil(extract(epoch FROM
                        h.window_start + {WINDOW} - now()))))::int8 AS retry_after
               FROM throttle_hits h JOIN throttle_attempt a USING (rule)
              WHERE h.attempts > a.max_attempts
         )"
    )
}

/// Seconds to wait, from a statement's `retry_after` column.
pub(super) fn retry_after(value: Option<i64>) -> Option<u64> {
    value.map(|secs| u64::try_from(secs).unwrap_or(1).max(1))
}
