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
//!
//! A password check that presents a known device of the account (OWASP's device cookies)
//! is judged by that device's counter and the address's instead of the email's: however
//! many strangers fail for an email, its owner still signs in from a device used before.
//! The choice is made inside the statement, which alone knows whose the device is.

use std::net::IpAddr;

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
    /// Failed password checks presented with one known device.
    SigninDevice,
    /// Verification-link requests from one source IP.
    VerifyIp,
    /// Verification-link requests for one email.
    VerifyEmail,
    /// Verification links mailed to an account whose signin waited for one.
    VerifySignin,
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
            Rule::SigninDevice => "signin_device",
            Rule::VerifyIp => "verify_ip",
            Rule::VerifyEmail => "verify_email",
            Rule::VerifySignin => "verify_signin",
        }
    }
}

/// What a source address is counted as: an IPv4 address as itself; an IPv6 address as its
/// /64, which one host (or one attacker) holds whole. An IPv4 address written as IPv6
/// (`::ffff:a.b.c.d`) is that IPv4 address.
pub fn source_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
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
    /// A signup: counts against the source IP.
    pub fn signup(
        limits: &ThrottleLimits,
        digests: &DigestKeys,
        source_ip: Option<IpAddr>,
    ) -> Self {
        let ip = source_ip.map(|ip| digests.throttle_key(&[&source_key(ip)]));
        Self::default().count(Rule::SignupIp, ip, limits.signup_per_ip)
    }

    /// A password-reset request: counts against the source IP and the email.
    pub fn reset(
        limits: &ThrottleLimits,
        digests: &DigestKeys,
        email: &str,
        source_ip: Option<IpAddr>,
    ) -> Self {
        let rules = [Rule::ResetIp, Rule::ResetEmail];
        Self::link_request(rules, limits, digests, email, source_ip)
    }

    /// A request for a verification link: counts against the source IP and the email, on
    /// counters of its own with the reset limits.
    pub fn verification_request(
        limits: &ThrottleLimits,
        digests: &DigestKeys,
        email: &str,
        source_ip: Option<IpAddr>,
    ) -> Self {
        let rules = [Rule::VerifyIp, Rule::VerifyEmail];
        Self::link_request(rules, limits, digests, email, source_ip)
    }

    /// A request for a mailed link, counted by `[per_ip, per_email]` with the reset limits.
    fn link_request(
        [per_ip, per_email]: [Rule; 2],
        limits: &ThrottleLimits,
        digests: &DigestKeys,
        email: &str,
        source_ip: Option<IpAddr>,
    ) -> Self {
        let ip = source_ip.map(|ip| digests.throttle_key(&[&source_key(ip)]));
        let email = Some(digests.throttle_key(&[email]));
        Self::default()
            .count(per_ip, ip, limits.reset_per_ip)
            .count(per_email, email, limits.reset_per_email)
    }

    /// The link a signin refused for an unverified address mails: one per window and
    /// account, however often the right password is tried.
    pub fn verification_after_signin(digests: &DigestKeys, user_id: uuid::Uuid) -> Self {
        let account = Some(digests.throttle_key(&["verify after signin", &user_id.to_string()]));
        Self::default().count(Rule::VerifySignin, account, 1)
    }

    fn count(mut self, rule: Rule, key: Option<Vec<u8>>, limit: u32) -> Self {
        if let (Some(key), true) = (key, limit > 0) {
            self.rules.push(rule.name());
            self.keys.push(key);
            self.limits.push(i32::try_from(limit).unwrap_or(i32::MAX));
        }
        self
    }

    /// The three arrays that [`counting_ctes`] reads (of types [`COUNTING_TYPES`]).
    pub(super) fn values(&self) -> [&(dyn ToSql + Sync); 3] {
        [&self.rules, &self.keys, &self.limits]
    }
}

/// A password check (signin, and every later confirmation of a password), with the device
/// token it presents, if any: judged by the email's rules (from this address, from
/// everywhere, and the address), or, when the device is a known one of the account, by the
/// device's own counter and the address.
#[derive(Debug)]
pub struct PasswordAttempt {
    by_email: Attempt,
    by_device: Attempt,
    /// The presented device token's digest.
    device: Option<Vec<u8>>,
    email_ip: Option<Vec<u8>>,
    email: Vec<u8>,
    ip: Option<Vec<u8>>,
    device_counter: Option<Vec<u8>>,
}

impl PasswordAttempt {
    pub fn new(
        limits: &ThrottleLimits,
        digests: &DigestKeys,
        email: &str,
        source_ip: Option<IpAddr>,
        device_token: Option<&str>,
    ) -> Self {
        let source = source_ip.map(source_key);
        let email_ip = source
            .as_deref()
            .map(|ip| digests.throttle_key(&[email, ip]));
        let email_key = digests.throttle_key(&[email]);
        let ip = source.as_deref().map(|ip| digests.throttle_key(&[ip]));
        let device_counter = device_token.map(|token| digests.throttle_key(&["device", token]));
        Self {
            by_email: Attempt::default()
                .count(
                    Rule::SigninEmailIp,
                    email_ip.clone(),
                    limits.signin_per_email_and_ip,
                )
                .count(
                    Rule::SigninEmail,
                    Some(email_key.clone()),
                    limits.signin_per_email,
                )
                .count(Rule::SigninIp, ip.clone(), limits.signin_per_ip),
            by_device: Attempt::default()
                .count(
                    Rule::SigninDevice,
                    device_counter.clone(),
                    limits.signin_per_device,
                )
                .count(Rule::SigninIp, ip.clone(), limits.signin_per_ip),
            device: device_token.map(|token| digests.device_digest(token)),
            email_ip,
            email: email_key,
            ip,
            device_counter,
        }
    }

    /// The seven values [`password_counting_ctes`] reads (of types
    /// [`PASSWORD_COUNTING_TYPES`]).
    pub(super) fn values(&self) -> [&(dyn ToSql + Sync); 7] {
        let [email_rules, email_keys, email_limits] = self.by_email.values();
        let [device_rules, device_keys, device_limits] = self.by_device.values();
        [
            email_rules,
            email_keys,
            email_limits,
            device_rules,
            device_keys,
            device_limits,
            &self.device,
        ]
    }

    /// What a successful check settles, by whether its device was a known one: with the
    /// device, its count is cleared; without, the email's count from this address is; and
    /// the attempt counted against the email from everywhere (without a device) and against
    /// the address is given back.
    pub fn settlement(&self, known_device: bool) -> Settlement {
        let mut settlement = Settlement::default();
        if known_device {
            settlement
                .clear
                .add_some(Rule::SigninDevice, &self.device_counter);
        } else {
            settlement
                .clear
                .add_some(Rule::SigninEmailIp, &self.email_ip);
            settlement
                .give_back
                .add(Rule::SigninEmail, self.email.clone());
        }
        settlement.give_back.add_some(Rule::SigninIp, &self.ip);
        settlement
    }
}

/// What a successful password check does to its counters.
#[derive(Debug, Default)]
pub struct Settlement {
    clear: Counters,
    give_back: Counters,
}

impl Settlement {
    /// The four arrays [`success_ctes`] reads (of types [`SUCCESS_TYPES`]).
    pub(super) fn values(&self) -> [&(dyn ToSql + Sync); 4] {
        let (clear_rules, clear_keys) = self.clear.values();
        let (back_rules, back_keys) = self.give_back.values();
        [clear_rules, clear_keys, back_rules, back_keys]
    }
}

/// Counters named by rule and key, for a statement to clear.
#[derive(Debug, Default)]
pub struct Counters {
    rules: Vec<&'static str>,
    keys: Vec<Vec<u8>>,
}

impl Counters {
    /// What a successful password reset clears: every count against the email (from
    /// everywhere, from the resetting address, and its reset requests).
    pub fn of_email(digests: &DigestKeys, email: &str, source_ip: Option<IpAddr>) -> Self {
        let mut counters = Self::default();
        let email_key = digests.throttle_key(&[email]);
        counters.add(Rule::SigninEmail, email_key.clone());
        counters.add(Rule::ResetEmail, email_key);
        if let Some(ip) = source_ip {
            counters.add(
                Rule::SigninEmailIp,
                digests.throttle_key(&[email, &source_key(ip)]),
            );
        }
        counters
    }

    fn add(&mut self, rule: Rule, key: Vec<u8>) {
        self.rules.push(rule.name());
        self.keys.push(key);
    }

    fn add_some(&mut self, rule: Rule, key: &Option<Vec<u8>>) {
        if let Some(key) = key {
            self.add(rule, key.clone());
        }
    }

    /// The two arrays (`text[]`, `bytea[]`) a statement reads them from.
    pub(super) fn values(&self) -> (&(dyn ToSql + Sync), &(dyn ToSql + Sync)) {
        (&self.rules, &self.keys)
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
pub(super) const SUCCESS_TYPES: [Type; 4] = [
    Type::TEXT_ARRAY,
    Type::BYTEA_ARRAY,
    Type::TEXT_ARRAY,
    Type::BYTEA_ARRAY,
];

/// The types of the parameters [`password_counting_ctes`] reads.
pub(super) const PASSWORD_COUNTING_TYPES: [Type; 7] = [
    Type::TEXT_ARRAY,
    Type::BYTEA_ARRAY,
    Type::INT4_ARRAY,
    Type::TEXT_ARRAY,
    Type::BYTEA_ARRAY,
    Type::INT4_ARRAY,
    Type::BYTEA,
];

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

/// CTEs that judge and count a [`PasswordAttempt`] given as parameters
/// `$first`..`$first+6`, for the account whose id the SQL `owner` gives, counted only
/// when `condition` holds. `known_device` is the presented device when it is that
/// account's, unexpired and under its own limit; a device of the account at its limit is
/// void (deleted, and the email's rules judge); `throttle_verdict` as in [`counting_ctes`].
pub(super) fn password_counting_ctes(first: usize, owner: &str, condition: &str) -> String {
    let (email_rules, email_keys, email_limits) = (first, first + 1, first + 2);
    let (device_rules, device_keys, device_limits, device) =
        (first + 3, first + 4, first + 5, first + 6);
    let device_rule = Rule::SigninDevice.name();
    let pick = |device: usize, email: usize, kind: &str| {
        format!(
            "CASE WHEN EXISTS (SELECT 1 FROM known_device) THEN ${device}::{kind}[] \
                  ELSE ${email}::{kind}[] END"
        )
    };
    format!(
        "device_of_account AS (
             SELECT token_digest FROM todo_api.devices
              WHERE token_digest = ${device}::bytea AND user_id = {owner} AND expires_at > now()
         ), device_at_limit AS (
             SELECT 1 FROM todo_api.throttle_counters c
               JOIN unnest(${device_rules}::text[], ${device_keys}::bytea[], ${device_limits}::int4[])
                    AS a(rule, key, max_attempts) USING (rule, key)
              WHERE c.rule = '{device_rule}' AND c.window_start > now() - {WINDOW}
                AND c.attempts >= a.max_attempts
         ), known_device AS (
             SELECT token_digest FROM device_of_account
              WHERE NOT EXISTS (SELECT 1 FROM device_at_limit)
         ), device_void AS (
             DELETE FROM todo_api.devices
              WHERE token_digest IN (SELECT token_digest FROM device_of_account)
                AND EXISTS (SELECT 1 FROM device_at_limit)
         ), throttle_verdict AS (
             SELECT CASE WHEN {condition}
                         THEN todo_api.count_attempt({rules}, {keys}, {limits})
                    END AS retry_after
         )",
        rules = pick(device_rules, email_rules, "text"),
        keys = pick(device_keys, email_keys, "bytea"),
        limits = pick(device_limits, email_limits, "int4"),
    )
}

/// CTEs for a password check that succeeded, given its [`Settlement`] as parameters
/// `$first`..`$first+3`, applied when `condition` holds: the counters to clear are
/// deleted, and one attempt is given back to each of the others.
pub(super) fn success_ctes(first: usize, condition: &str) -> String {
    let (clear_rules, clear_keys, back_rules, back_keys) = (first, first + 1, first + 2, first + 3);
    format!(
        "throttle_reset AS (
             DELETE FROM todo_api.throttle_counters
              WHERE (rule, key) IN (SELECT * FROM unnest(${clear_rules}::text[], ${clear_keys}::bytea[]))
                AND {condition}
         ), throttle_given_back AS (
             UPDATE todo_api.throttle_counters SET attempts = attempts - 1
              WHERE attempts > 0 AND {condition}
                AND (rule, key) IN (SELECT * FROM unnest(${back_rules}::text[], ${back_keys}::bytea[]))
         )"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_source_counts_as_its_64_and_an_ipv4_one_as_itself() {
        let key = |ip: &str| source_key(ip.parse().unwrap());
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::1"), key("2001:db8:1:2::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }
}
