//! Brute-force throttling (the contract's "Throttling" rules): one counter per rule and key
//! in `throttle_counters`, counting attempts in a fixed window that opens with the first.
//!
//! An attempt is judged and counted inside the statement that does the request's own work,
//! so throttling adds no round trip. Its counters are locked (in one order, so two attempts
//! cannot deadlock), whether or not their rows exist yet, and only then read: if any is at
//! its limit, the attempt is refused and **no** counter moves, so an address over its own
//! limit cannot push other people's accounts into lockout. Otherwise every counter is
//! incremented before the password is looked at, and parallel guesses, first ones
//! included, queue on those locks instead of slipping between a check and a write (the
//! database function `count_attempt`, migration V7). A successful signin then gives its
//! attempts back.

use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use crate::auth::digest::DigestKeys;
use crate::config::ThrottleLimits;

/// The window of every rule, as a PostgreSQL interval.
pub const WINDOW: &str = "interval '15 minutes'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Failed password checks for one email from one source IP.
    SigninEmailIp,
    /// Failed password checks for one email from all addresses.
    SigninEmail,
    /// Failed password checks from one source IP.
    SigninIp,
    /// Signups from one source IP.
    SignupIp,
    /// Password-reset requests from one source IP.
    ResetIp,
    /// Password-reset requests for one email.
    ResetEmail,
}

impl Rule {
    /// The value of `throttle_counters.rule`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::SigninEmailIp => "signin_email_ip",
            Rule::SigninEmail => "signin_email",
            Rule::SigninIp => "signin_ip",
            Rule::SignupIp => "signup_ip",
            Rule::ResetIp => "reset_ip",
            Rule::ResetEmail => "reset_email",
        }
    }
}

/// The counters one request touches, each with its key (a keyed digest, never the email
/// or address itself) and limit. Rules that are off (limit 0) or whose key is unknown are
/// left out, so they cost nothing.
#[derive(Debug, Default)]
pub struct Attempt {
    rules: Vec<&'static str>,
    keys: Vec<Vec<u8>>,
    limits: Vec<i32>,
}

impl Attempt {
    /// A password check (signin, and every later confirmation of a password): counts
    /// against the email from this address, the email from all addresses, and the address.
    pub fn password_check(
        limits: &ThrottleLimits,
        digests: &DigestKeys,
        email: &str,
        source_ip: Option<&str>,
    ) -> Self {
        let email_ip = source_ip.map(|ip| digests.throttle_key(&[email, ip]));
        let email = Some(digests.throttle_key(&[email]));
        let ip = source_ip.map(|ip| digests.throttle_key(&[ip]));
        Self::default()
            .count(
                Rule::SigninEmailIp,
                email_ip,
                limits.signin_per_email_and_ip,
            )
            .count(Rule::SigninEmail, email, limits.signin_per_email)
            .count(Rule::SigninIp, ip, limits.signin_per_ip)
    }

    /// A signup: counts against the source IP.
    pub fn signup(limits: &ThrottleLimits, digests: &DigestKeys, source_ip: Option<&str>) -> Self {
        let ip = source_ip.map(|ip| digests.throttle_key(&[ip]));
        Self::default().count(Rule::SignupIp, ip, limits.signup_per_ip)
    }

    /// A password-reset request: counts against the source IP and the email.
    pub fn reset(
        limits: &ThrottleLimits,
        digests: &DigestKeys,
        email: &str,
        source_ip: Option<&str>,
    ) -> Self {
        let ip = source_ip.map(|ip| digests.throttle_key(&[ip]));
        let email = Some(digests.throttle_key(&[email]));
        Self::default()
            .count(Rule::ResetIp, ip, limits.reset_per_ip)
            .count(Rule::ResetEmail, email, limits.reset_per_email)
    }

    fn count(mut self, rule: Rule, key: Option<Vec<u8>>, limit: u32) -> Self {
        if let (Some(key), true) = (key, limit > 0) {
            self.rules.push(rule.name());
            self.keys.push(key);
            self.limits.push(i32::try_from(limit).unwrap_or(i32::MAX));
        }
        self
    }

    /// The counter of `rule` in this attempt, if it counts against it: what a successful
    /// signin clears or gives back.
    pub fn key(&self, rule: Rule) -> Option<&[u8]> {
        self.rules
            .iter()
            .zip(&self.keys)
            .find(|(name, _)| **name == rule.name())
            .map(|(_, key)| key.as_slice())
    }

    /// The three keys that [`success_ctes`] reads (of types [`SUCCESS_TYPES`]).
    pub(super) fn success_keys(&self) -> [Option<&[u8]>; 3] {
        [
            self.key(Rule::SigninEmailIp),
            self.key(Rule::SigninEmail),
            self.key(Rule::SigninIp),
        ]
    }

    /// The three arrays that [`counting_ctes`] reads (of types [`COUNTING_TYPES`]).
    pub(super) fn values(&self) -> [&(dyn ToSql + Sync); 3] {
        [&self.rules, &self.keys, &self.limits]
    }
}

/// The types of the parameters [`counting_ctes`] reads.
pub(super) const COUNTING_TYPES: [Type; 3] =
    [Type::TEXT_ARRAY, Type::BYTEA_ARRAY, Type::INT4_ARRAY];

/// `$1` (text: the email) and an [`Attempt`] counted by [`counting_ctes`] as `$2`..`$4`,
/// the start of every statement that judges an attempt on an email.
pub(super) fn email_and_attempt_types() -> Vec<Type> {
    let mut types = vec![Type::TEXT];
    types.extend(COUNTING_TYPES);
    types
}

/// The types of the parameters [`success_ctes`] reads.
pub(super) const SUCCESS_TYPES: [Type; 3] = [Type::BYTEA, Type::BYTEA, Type::BYTEA];

/// A CTE that judges and counts an [`Attempt`] given as parameters `$first`..`$first+2`:
/// `throttle_verdict`, one row whose `retry_after` is the seconds until the latest full
/// counter's window ends, or null when the attempt may proceed (and has been counted).
/// Statements that may not proceed when throttled test
/// `(SELECT retry_after FROM throttle_verdict) IS NULL`. The work is `count_attempt`'s
/// (migration V7), which serialises attempts on each counter, existing or not.
pub(super) fn counting_ctes(first: usize) -> String {
    counting_ctes_if(first, "true")
}

/// [`counting_ctes`] for an attempt that counts only when `condition` (SQL reading earlier
/// CTEs) holds: a password confirmation counts only for a live session.
pub(super) fn counting_ctes_if(first: usize, condition: &str) -> String {
    let (rules, keys, limits) = (first, first + 1, first + 2);
    format!(
        "throttle_verdict AS (
             SELECT CASE WHEN {condition}
                         THEN todo_api.count_attempt(${rules}::text[], ${keys}::bytea[], ${limits}::int4[])
                    END AS retry_after
         )"
    )
}

/// CTEs for a password check that succeeded, given the keys of its [`Attempt`] as
/// parameters `$first`..`$first+2` ([`Attempt::success_keys`]), applied when
/// `condition` holds: the email's count from this address is cleared, and the attempt
/// counted against the email from everywhere and against the address is given back.
pub(super) fn success_ctes(first: usize, condition: &str) -> String {
    let (email_ip_key, email_key, ip_key) = (first, first + 1, first + 2);
    format!(
        "throttle_reset AS (
             DELETE FROM todo_api.throttle_counters
              WHERE rule = '{email_ip}' AND key = ${email_ip_key} AND {condition}
         ), throttle_given_back AS (
             UPDATE todo_api.throttle_counters SET attempts = attempts - 1
              WHERE attempts > 0 AND {condition}
                AND ((rule = '{email}' AND key = ${email_key}) OR (rule = '{ip}' AND key = ${ip_key}))
         )",
        email_ip = Rule::SigninEmailIp.name(),
        email = Rule::SigninEmail.name(),
        ip = Rule::SigninIp.name(),
    )
}

/// A throttle rule refused the attempt: no counter moved and nothing was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until the full counter's window ends (`Retry-After`).
    pub retry_after_secs: u64,
}

/// What a statement that judges an attempt did: refused it, or counted it and did its
/// work, which gave `T`.
pub type Judged<T> = Result<T, Throttled>;

/// The verdict in `row`'s column `column` (a `retry_after` from [`counting_ctes`]):
/// [`Throttled`], or what `then` reads from the rest of the row.
pub(super) fn judged<T>(
    row: &Row,
    column: usize,
    then: impl FnOnce() -> Result<T, tokio_postgres::Error>,
) -> Result<Judged<T>, tokio_postgres::Error> {
    match row.try_get::<_, Option<i64>>(column)? {
        Some(secs) => Ok(Err(Throttled {
            retry_after_secs: u64::try_from(secs).unwrap_or(1).max(1),
        })),
        None => then().map(Ok),
    }
}
