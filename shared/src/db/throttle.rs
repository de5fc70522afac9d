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
use std::sync::LazyLock;

use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use super::statements::{Params, Statement};
use super::{Db, DbError};
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
    /// Change-of-email requests (each mails a third party) by one account.
    ChangeEmailAccount,
    /// Change-of-email requests from one source IP.
    ChangeEmailIp,
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
            Rule::ChangeEmailAccount => "change_email_account",
            Rule::ChangeEmailIp => "change_email_ip",
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

    /// A change-of-email request with the right password: each mails a third party, so it
    /// counts against the account and the source IP, with the reset limits, on counters of
    /// its own that no right password clears.
    pub fn change_email(
        limits: &ThrottleLimits,
        digests: &DigestKeys,
        user_id: uuid::Uuid,
        source_ip: Option<IpAddr>,
    ) -> Self {
        let ip = source_ip.map(|ip| digests.throttle_key(&[&source_key(ip)]));
        let account = Some(digests.throttle_key(&["change email", &user_id.to_string()]));
        Self::default()
            .count(Rule::ChangeEmailAccount, account, limits.reset_per_email)
            .count(Rule::ChangeEmailIp, ip, limits.reset_per_ip)
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

    /// The three arrays that [`counting_ctes`] reads.
    pub(super) fn values(&self) -> [&(dyn ToSql + Sync); 3] {
        [&self.rules, &self.keys, &self.limits]
    }
}

/// A password check (signin, and every later confirmation of a password), with the device
/// tokens it presents, if any: judged by the email's rules (from this address, from
/// everywhere, and the address), or, when one of the devices is a known one of the
/// account, by that device's own counter and the address.
#[derive(Debug)]
pub struct PasswordAttempt {
    by_email: Attempt,
    /// The address's rule, which judges a known device's attempt beside its own counter.
    by_address: Attempt,
    /// `THROTTLE_SIGNIN_DEVICE` (0: the device's own counter is off).
    device_limit: i32,
    /// The presented device tokens' digests: what `devices.token_digest` holds, and the
    /// key of each device's own counter.
    devices: Vec<Vec<u8>>,
    email_ip: Option<Vec<u8>>,
    email: Vec<u8>,
    ip: Option<Vec<u8>>,
}

/// The most device tokens one request may present (its body's and its cookies): a browser
/// holds one, perhaps one planted beside it by a sibling subdomain.
pub const MAX_PRESENTED_DEVICES: usize = 8;

impl PasswordAttempt {
    pub fn new(
        limits: &ThrottleLimits,
        digests: &DigestKeys,
        email: &str,
        source_ip: Option<IpAddr>,
        device_tokens: &[String],
    ) -> Self {
        let source = source_ip.map(source_key);
        let email_ip = source
            .as_deref()
            .map(|ip| digests.throttle_key(&[email, ip]));
        let email_key = digests.throttle_key(&[email]);
        let ip = source.as_deref().map(|ip| digests.throttle_key(&[ip]));
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
            by_address: Attempt::default().count(Rule::SigninIp, ip.clone(), limits.signin_per_ip),
            device_limit: i32::try_from(limits.signin_per_device).unwrap_or(i32::MAX),
            devices: device_tokens
                .iter()
                .take(MAX_PRESENTED_DEVICES)
                .map(|token| digests.device_digest(token))
                .collect(),
            email_ip,
            email: email_key,
            ip,
        }
    }

    /// The eight values [`password_counting_ctes`] reads.
    pub(super) fn values(&self) -> [&(dyn ToSql + Sync); 8] {
        let [email_rules, email_keys, email_limits] = self.by_email.values();
        let [address_rules, address_keys, address_limits] = self.by_address.values();
        [
            email_rules,
            email_keys,
            email_limits,
            address_rules,
            address_keys,
            address_limits,
            &self.device_limit,
            &self.devices,
        ]
    }

    /// Which of `tokens`, the device tokens this attempt was made with (in the order given
    /// to [`PasswordAttempt::new`]), is `device`: matched by the digests computed then.
    pub fn presented_token<'t>(
        &self,
        device: &KnownDevice,
        tokens: &'t [String],
    ) -> Option<&'t str> {
        tokens
            .iter()
            .zip(&self.devices)
            .find(|(_, digest)| **digest == device.digest)
            .map(|(token, _)| token.as_str())
    }

    /// What a successful check settles, by the known device it was judged by, if any: with
    /// a device, the device's count is cleared; without, the email's count from this
    /// address is; and the attempt counted against the email from everywhere (without a
    /// device) and against the address is given back.
    pub fn settlement(&self, known_device: Option<&KnownDevice>) -> Settlement {
        let mut settlement = Settlement::default();
        match known_device {
            Some(device) => settlement
                .clear
                .add(Rule::SigninDevice, device.digest.clone()),
            None => {
                settlement
                    .clear
                    .add_some(Rule::SigninEmailIp, &self.email_ip);
                settlement
                    .give_back
                    .add(Rule::SigninEmail, self.email.clone());
            }
        }
        settlement.give_back.add_some(Rule::SigninIp, &self.ip);
        settlement
    }
}

/// The known device of the account that judged a password check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    /// Its stored digest.
    pub digest: Vec<u8>,
    /// Whether this check filled its counter: a wrong password now makes it void
    /// ([`void_if_spent`]).
    pub last_chance: bool,
}

impl KnownDevice {
    /// The known device in `row`'s columns `first` (its digest, null when none) and
    /// `first + 1` (whether this check filled its counter).
    pub(super) fn of_row(row: &Row, first: usize) -> Result<Option<Self>, tokio_postgres::Error> {
        let Some(digest) = row.try_get::<_, Option<Vec<u8>>>(first)? else {
            return Ok(None);
        };
        Ok(Some(KnownDevice {
            digest,
            last_chance: row.try_get::<_, Option<bool>>(first + 1)?.unwrap_or(false),
        }))
    }
}

/// The two columns a statement with [`password_counting_ctes`] answers about its known
/// device, read by [`KnownDevice::of_row`].
pub(super) const KNOWN_DEVICE_COLUMNS: &str = "(SELECT token_digest FROM known_device), \
     (SELECT failures + 1 >= max_attempts FROM known_device WHERE max_attempts > 0)";

pub static VOID_SPENT_DEVICE: LazyLock<Statement> = LazyLock::new(|| {
    Statement::new(
        "DELETE FROM todo_api.devices WHERE token_digest = $1",
        [Type::BYTEA],
    )
});

/// After a wrong password judged by `device` (the known device, if any): voids it when
/// this check filled its own counter, deleted at once so the next window does not revive
/// it. Nothing to send otherwise.
pub async fn void_if_spent(db: &Db, device: Option<&KnownDevice>) -> Result<(), DbError> {
    match device.filter(|device| device.last_chance) {
        Some(device) => db
            .query(&VOID_SPENT_DEVICE, &[&device.digest])
            .await
            .map(drop),
        None => Ok(()),
    }
}

/// What a successful password check does to its counters.
#[derive(Debug, Default)]
pub struct Settlement {
    clear: Counters,
    give_back: Counters,
}

impl Settlement {
    /// The four arrays [`success_ctes`] reads.
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

/// A CTE that judges and counts an [`Attempt`], its three values the next of `params`:
/// `throttle_verdict`, one row whose `retry_after` is the seconds until the latest full
/// counter's window ends, or null when the attempt may proceed (and has been counted).
/// Statements that may not proceed when throttled test
/// `(SELECT retry_after FROM throttle_verdict) IS NULL`. The work is `count_attempt`'s
/// (migration V7), which serialises attempts on each counter, existing or not.
pub(super) fn counting_ctes(params: &mut Params) -> String {
    counting_ctes_if(params, "true")
}

/// [`counting_ctes`] for an attempt that counts only when `condition` (SQL reading earlier
/// CTEs) holds: a password confirmation counts only for a live session.
pub(super) fn counting_ctes_if(params: &mut Params, condition: &str) -> String {
    let rules = params.add(Type::TEXT_ARRAY);
    let keys = params.add(Type::BYTEA_ARRAY);
    let limits = params.add(Type::INT4_ARRAY);
    format!(
        "throttle_verdict AS (
             SELECT CASE WHEN {condition}
                         THEN todo_api.count_attempt({rules}::text[], {keys}::bytea[], {limits}::int4[])
                    END AS retry_after
         )"
    )
}

/// CTEs that judge and count a [`PasswordAttempt`], its eight values the next of
/// `params`, for the account whose id the SQL `owner` gives, counted only when
/// `condition` holds. `known_device` is one presented device that is that account's,
/// unexpired and under its own limit (its digest, its failures so far in the window, and
/// its limit); a presented device of the account at its limit is void (deleted, and the
/// email's rules judge); `throttle_verdict` as in [`counting_ctes`].
pub(super) fn password_counting_ctes(params: &mut Params, owner: &str, condition: &str) -> String {
    let email_rules = params.add(Type::TEXT_ARRAY);
    let email_keys = params.add(Type::BYTEA_ARRAY);
    let email_limits = params.add(Type::INT4_ARRAY);
    let address_rules = params.add(Type::TEXT_ARRAY);
    let address_keys = params.add(Type::BYTEA_ARRAY);
    let address_limits = params.add(Type::INT4_ARRAY);
    let device_limit = params.add(Type::INT4);
    let devices = params.add(Type::BYTEA_ARRAY);
    let device_rule = Rule::SigninDevice.name();
    // A known device's attempt counts against the device (when its rule is on) and the
    // address; any other against the email's rules.
    let pick = |by_device: String, address: &str, email: &str, kind: &str| {
        format!(
            "CASE WHEN EXISTS (SELECT 1 FROM known_device) \
                  THEN {by_device} || {address}::{kind}[] \
                  ELSE {email}::{kind}[] END"
        )
    };
    let on = format!("{device_limit}::int4 > 0");
    format!(
        "device_of_account AS (
             SELECT d.token_digest,
                    coalesce(CASE WHEN c.window_start > now() - {WINDOW} THEN c.attempts END, 0)
                        AS failures
               FROM todo_api.devices d
               LEFT JOIN todo_api.throttle_counters c
                      ON c.rule = '{device_rule}' AND c.key = d.token_digest
              WHERE d.token_digest = ANY ({devices}::bytea[]) AND d.user_id = {owner}
                AND d.expires_at > now()
         ), known_device AS (
             SELECT token_digest, failures, {device_limit}::int4 AS max_attempts
               FROM device_of_account
              WHERE NOT ({on} AND failures >= {device_limit}::int4)
              ORDER BY token_digest LIMIT 1
         ), device_void AS (
             DELETE FROM todo_api.devices
              WHERE token_digest IN (SELECT token_digest FROM device_of_account
                                      WHERE {on} AND failures >= {device_limit}::int4)
         ), throttle_verdict AS (
             SELECT CASE WHEN {condition}
                         THEN todo_api.count_attempt({rules}, {keys}, {limits})
                    END AS retry_after
         )",
        rules = pick(
            format!("(CASE WHEN {on} THEN ARRAY['{device_rule}'] ELSE ARRAY[]::text[] END)"),
            &address_rules,
            &email_rules,
            "text"
        ),
        keys = pick(
            format!(
                "coalesce((SELECT array_agg(token_digest) FROM known_device WHERE {on}), ARRAY[]::bytea[])"
            ),
            &address_keys,
            &email_keys,
            "bytea"
        ),
        limits = pick(
            format!("(CASE WHEN {on} THEN ARRAY[{device_limit}::int4] ELSE ARRAY[]::int4[] END)"),
            &address_limits,
            &email_limits,
            "int4"
        ),
    )
}

/// CTEs for a password check that succeeded, its [`Settlement`]'s four values the next of
/// `params`, applied when `condition` holds: the counters to clear are deleted, and one
/// attempt is given back to each of the others.
pub(super) fn success_ctes(params: &mut Params, condition: &str) -> String {
    let clear_rules = params.add(Type::TEXT_ARRAY);
    let clear_keys = params.add(Type::BYTEA_ARRAY);
    let back_rules = params.add(Type::TEXT_ARRAY);
    let back_keys = params.add(Type::BYTEA_ARRAY);
    format!(
        "throttle_reset AS (
             DELETE FROM todo_api.throttle_counters
              WHERE (rule, key) IN (SELECT * FROM unnest({clear_rules}::text[], {clear_keys}::bytea[]))
                AND {condition}
         ), throttle_given_back AS (
             UPDATE todo_api.throttle_counters SET attempts = attempts - 1
              WHERE attempts > 0 AND {condition}
                AND (rule, key) IN (SELECT * FROM unnest({back_rules}::text[], {back_keys}::bytea[]))
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
