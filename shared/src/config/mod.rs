//! Runtime configuration: every environment variable of the contract, read and validated
//! once per cold start. A bad value stops start-up with one line naming the variable and
//! what to do about it.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

pub mod better_auth_schema;
pub mod database_url;
pub mod vars;

pub use better_auth_schema::BetterAuthSchema;

pub use database_url::ConnectTarget;

/// Shortest accepted signing secret, in characters (the contract's floor for HS256).
pub const MIN_SECRET_CHARS: usize = 32;
/// Fewest distinct characters in a signing secret: `aaaa…` or `abab…` is not a secret.
pub const MIN_SECRET_DISTINCT_CHARS: usize = 16;
/// The placeholder `.env.example` ships; copied unchanged, it would sign real tokens.
pub const EXAMPLE_SECRET: &str = "replace-me-with-at-least-32-random-characters";
const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 7 * 24 * 60 * 60;
/// Longest accepted token lifetime: 90 days.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 90 * 24 * 60 * 60;

/// A bad or missing variable: the message names it and says what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set; {hint}", hint = missing_hint(.0))]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// What to do about a missing variable.
fn missing_hint(name: &str) -> &'static str {
    match name {
        vars::DATABASE_URL => {
            "set it to the database's URL (Neon: postgres://…?sslmode=require), or DATABASE_URL_SECRET_ARN to a secret holding it"
        }
        vars::BETTER_AUTH_SECRET => {
            "set it to the frontend's Better Auth secret (at least 32 random characters, e.g. `openssl rand -base64 32`), or BETTER_AUTH_SECRET_ARN to a secret holding it"
        }
        vars::EMAIL_FROM => {
            "set it to the sender of password-reset mail, an identity verified in Amazon SES"
        }
        vars::APP_URL => {
            "set it to your frontend's URL (https://app.example.com): reset links open its /reset-password page"
        }
        vars::AWS_REGION | vars::AWS_ACCESS_KEY_ID | vars::AWS_SECRET_ACCESS_KEY => {
            "Lambda sets it for the execution role; elsewhere set it to read secrets from Secrets Manager"
        }
        _ => "see the Configuration section of the README",
    }
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

/// Per-window counts for brute-force throttling (the contract's "Throttling"); `0` turns
/// a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failed password checks for one email from one source IP.
    pub signin_per_email_and_ip: u32,
    /// Failed password checks for one email from all addresses.
    pub signin_per_email: u32,
    /// Failed password checks from one source IP.
    pub signin_per_ip: u32,
    /// Failed password checks presented with one known device (instead of the per-email
    /// rules).
    pub signin_per_device: u32,
    /// Signups from one source IP.
    pub signup_per_ip: u32,
    /// Password-reset requests from one source IP.
    pub reset_per_ip: u32,
    /// Password-reset requests for one email.
    pub reset_per_email: u32,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub target: ConnectTarget,
    /// Connections kept by one process: 1 is right for a Lambda instance, which serves
    /// one request at a time.
    pub pool_size: usize,
    /// Extra PEM root certificates, for a local server with a self-signed certificate.
    pub extra_ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Upper bound for one statement's round trip, enforced by the client so that it also
    /// holds behind a transaction-mode pooler and against a database that stopped answering.
    pub statement_timeout: Duration,
    /// Whether connections prepare their function's statements as named statements when
    /// they open (`DATABASE_PREPARED_STATEMENTS`, on by default); off for a pooler that
    /// cannot keep them (PgBouncer before 1.21 in transaction mode).
    pub prepared_statements: bool,
    /// The PostgreSQL schema of the API's own tables (`DATABASE_SCHEMA`).
    pub schema: Schema,
}

/// The schema of the API's own tables: `todo_api` unless `DATABASE_SCHEMA` says otherwise,
/// never `public`, where an app's own `users`, `sessions` or `tasks` live. A plain
/// lower-case identifier, so it is written into SQL as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema(String);

impl Schema {
    /// The name every statement is written with.
    pub const DEFAULT: &'static str = "todo_api";

    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        let mut chars = name.chars();
        let plain = chars
            .next()
            .is_some_and(|first| first.is_ascii_lowercase() || first == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain || name.len() > 63 {
            return Err(format!(
                "`{name}` is not a plain lower-case identifier (letters, digits, _; at most 63)"
            ));
        }
        if name == "public" || name.starts_with("pg_") || name == "information_schema" {
            return Err(format!(
                "`{name}` is not a schema of the API's own: use one that holds nothing else \
                 (the default is {})",
                Self::DEFAULT
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }
}

impl Default for Schema {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl DatabaseSettings {
    /// The `DATABASE_*` variables alone: all that the `migrate` binary needs.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());
        let database_url =
            var(vars::DATABASE_URL).ok_or(ConfigError::Missing(vars::DATABASE_URL))?;
        let target = ConnectTarget::parse(&SecretString::from(database_url))
            .map_err(|reason| invalid(vars::DATABASE_URL, reason))?;
        let connect_timeout = parse_number(&var, vars::DATABASE_CONNECT_TIMEOUT_SECS, 5, 1..=300)?;
        let statement_timeout = parse_number(
            &var,
            vars::DATABASE_STATEMENT_TIMEOUT_MS,
            5_000,
            10..=600_000,
        )?;
        let prepared_statements = match var(vars::DATABASE_PREPARED_STATEMENTS)
            .map(|value| value.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) => {
                return Err(invalid(
                    vars::DATABASE_PREPARED_STATEMENTS,
                    format!(
                        "`{other}` is not on or off (off for PgBouncer before 1.21 in transaction mode)"
                    ),
                ));
            }
        };
        let schema = var(vars::DATABASE_SCHEMA)
            .map(|name| Schema::parse(&name))
            .transpose()
            .map_err(|reason| invalid(vars::DATABASE_SCHEMA, reason))?
            .unwrap_or_default();
        Ok(Self {
            target,
            schema,
            prepared_statements,
            pool_size: parse_number(&var, vars::DATABASE_POOL_SIZE, 1, 1..=64)?,
            extra_ca_file: var(vars::DATABASE_CA_FILE).map(PathBuf::from),
            connect_timeout: Duration::from_secs(connect_timeout),
            statement_timeout: Duration::from_millis(statement_timeout),
        })
    }
}

/// What every HTTP function needs, `health` included: the database and the CORS allow-list.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub database: DatabaseSettings,
    pub allowed_origins: Vec<String>,
}

impl HttpConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let allowed_origins = lookup(vars::ALLOWED_ORIGINS)
            .filter(|value| !value.trim().is_empty())
            .map(|list| parse_origins(&list))
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            database: DatabaseSettings::from_lookup(lookup)?,
            allowed_origins,
        })
    }
}

/// What the functions that mail need: the sender, the frontend the links open, the links'
/// lifetimes, and whether addresses are verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// `EMAIL_FROM`: the sender, an SES-verified identity.
    pub from: String,
    /// `APP_URL`: the frontend, whose `/reset-password?token=…` and `/verify-email?token=…`
    /// pages the links open.
    pub app_url: String,
    /// `RESET_TOKEN_TTL`: how long a reset token is valid.
    pub reset_token_ttl: Duration,
    /// `VERIFY_TOKEN_TTL`: how long a verification link is valid.
    pub verify_token_ttl: Duration,
    /// `EMAIL_VERIFICATION`: `optional` unless set (mail is configured wherever this is read).
    pub verification: EmailVerification,
}

/// Whether signup mails a verification link, and whether signin waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerification {
    /// No verification mail; `email_verified` stays as it is.
    Off,
    /// Signup mails a link; an unverified account signs in all the same.
    Optional,
    /// Signup mails a link; signin refuses until the address is verified.
    Required,
}

impl EmailVerification {
    fn parse(raw: Option<String>) -> Result<Self, ConfigError> {
        match raw.as_deref().map(str::trim) {
            None => Ok(Self::Optional),
            Some("off") => Ok(Self::Off),
            Some("optional") => Ok(Self::Optional),
            Some("required") => Ok(Self::Required),
            Some(other) => Err(invalid(
                vars::EMAIL_VERIFICATION,
                format!("`{other}` is not one of off, optional, required"),
            )),
        }
    }

    /// Whether signup (and a refused signin) mail a verification link.
    pub fn mails(self) -> bool {
        self != Self::Off
    }
}

impl MailSettings {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());
        let from = var(vars::EMAIL_FROM).ok_or(ConfigError::Missing(vars::EMAIL_FROM))?;
        let from = from.trim().to_owned();
        if !from.contains('@') {
            return Err(invalid(
                vars::EMAIL_FROM,
                format!("`{from}` is not an email address (your SES-verified sender)"),
            ));
        }
        let app_url = var(vars::APP_URL).ok_or(ConfigError::Missing(vars::APP_URL))?;
        let app_url = parse_http_url(vars::APP_URL, &app_url)?;
        let ttl = parse_number(&var, vars::RESET_TOKEN_TTL, 1800, 60..=86_400)?;
        let verify_ttl = parse_number(&var, vars::VERIFY_TOKEN_TTL, 86_400, 60..=604_800)?;
        Ok(Self {
            from,
            app_url,
            reset_token_ttl: Duration::from_secs(ttl),
            verify_token_ttl: Duration::from_secs(verify_ttl),
            verification: EmailVerification::parse(var(vars::EMAIL_VERIFICATION))?,
        })
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    /// For an app on another site; browsers then insist on `Secure`.
    None,
}

impl SameSite {
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// How the session cookie is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieSettings {
    pub same_site: SameSite,
    /// Always true from the environment: only the local server, on plain-HTTP localhost,
    /// turns it off.
    pub secure: bool,
}

/// The app's own Better Auth server, whose credentials the API accepts beside its own
/// (`BETTER_AUTH_URL` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetterAuthSettings {
    /// The `iss` its JWTs carry: `BETTER_AUTH_ISSUER`, else `BETTER_AUTH_URL`.
    pub issuer: String,
    /// The `aud` its JWTs carry: `BETTER_AUTH_AUDIENCE`, else `BETTER_AUTH_URL`.
    pub audience: String,
    /// Keys from this JWKS document instead of the `jwks` table: Better Auth on another
    /// database, whose session tokens therefore cannot be checked here.
    pub jwks_url: Option<String>,
    /// Where its users, sessions and keys are (`BETTER_AUTH_SCHEMA`).
    pub schema: BetterAuthSchema,
    /// `BETTER_AUTH_REQUIRE_SIGNATURE`: a session token must come signed, as the bearer
    /// plugin's `requireSignature` demands.
    pub require_signature: bool,
}

impl BetterAuthSettings {
    /// Whether its session tokens can be checked: only against its `session` table in
    /// this database.
    pub fn accepts_session_tokens(&self) -> bool {
        self.jwks_url.is_none()
    }

    fn from_lookup(
        var: &impl Fn(&'static str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(url) = var(vars::BETTER_AUTH_URL) else {
            for dependent in [
                vars::BETTER_AUTH_ISSUER,
                vars::BETTER_AUTH_AUDIENCE,
                vars::BETTER_AUTH_JWKS_URL,
                vars::BETTER_AUTH_SCHEMA,
                vars::BETTER_AUTH_REQUIRE_SIGNATURE,
            ] {
                if var(dependent).is_some() {
                    return Err(invalid(
                        dependent,
                        "has no effect without BETTER_AUTH_URL: set that to your Better Auth server's base URL",
                    ));
                }
            }
            return Ok(None);
        };
        let url = parse_http_url(vars::BETTER_AUTH_URL, &url)?;
        let jwks_url = var(vars::BETTER_AUTH_JWKS_URL)
            .map(|jwks| parse_jwks_url(&jwks))
            .transpose()?;
        let schema = var(vars::BETTER_AUTH_SCHEMA)
            .map(|json| BetterAuthSchema::parse(&json))
            .transpose()
            .map_err(|reason| invalid(vars::BETTER_AUTH_SCHEMA, reason))?
            .unwrap_or_default();
        let require_signature = match var(vars::BETTER_AUTH_REQUIRE_SIGNATURE)
            .map(|value| value.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("false" | "0" | "off") => false,
            Some("true" | "1" | "on") => true,
            Some(other) => {
                return Err(invalid(
                    vars::BETTER_AUTH_REQUIRE_SIGNATURE,
                    format!("`{other}` is not true or false"),
                ));
            }
        };
        Ok(Some(Self {
            issuer: var(vars::BETTER_AUTH_ISSUER)
                .map_or_else(|| url.clone(), |v| v.trim().to_owned()),
            audience: var(vars::BETTER_AUTH_AUDIENCE)
                .map_or_else(|| url.clone(), |v| v.trim().to_owned()),
            jwks_url,
            schema,
            require_signature,
        }))
    }
}

/// `BETTER_AUTH_JWKS_URL`: keys must come over TLS, or from this machine.
fn parse_jwks_url(raw: &str) -> Result<String, ConfigError> {
    let url = parse_http_url(vars::BETTER_AUTH_JWKS_URL, raw)?;
    let loopback = url
        .strip_prefix("http://")
        .map(|rest| rest.split('/').next().unwrap_or_default())
        .map(|authority| {
            let host = match authority.rsplit_once(':') {
                Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
                _ => authority,
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
    match loopback {
        Some(false) => Err(invalid(
            vars::BETTER_AUTH_JWKS_URL,
            format!("`{url}` is not https:// (plain http only for a loopback host)"),
        )),
        _ => Ok(url),
    }
}

/// An `http(s)://host…` URL, without a trailing slash (Better Auth's `iss` has none).
fn parse_http_url(name: &'static str, raw: &str) -> Result<String, ConfigError> {
    let url = raw.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() => Ok(url.to_owned()),
        _ => Err(invalid(
            name,
            format!("`{url}` is not a URL like https://app.example.com"),
        )),
    }
}

/// Everything a function that authenticates needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpConfig,
    /// The signing secrets, newest first (`BETTER_AUTH_SECRETS`, else `BETTER_AUTH_SECRET`).
    pub secrets: SigningSecrets,
    pub token_lifetime: Duration,
    pub throttle: ThrottleLimits,
    pub cookies: CookieSettings,
    pub better_auth: Option<BetterAuthSettings>,
    /// `TRUSTED_PROXY_SECRET`: what the operator's own proxy (a Next.js rewrite, a CDN)
    /// sends to be trusted with its client's address.
    pub trusted_proxy_secret: Option<SecretString>,
}

impl Config {
    /// Reads configuration through `lookup`, so callers (the local server, tests) can layer
    /// their own defaults over the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());

        let http = HttpConfig::from_lookup(&lookup)?;
        let secrets = match var(vars::BETTER_AUTH_SECRETS) {
            Some(list) => SigningSecrets::parse_list(&list)
                .map_err(|reason| invalid(vars::BETTER_AUTH_SECRETS, reason))?,
            None => {
                let secret = var(vars::BETTER_AUTH_SECRET)
                    .ok_or(ConfigError::Missing(vars::BETTER_AUTH_SECRET))?;
                SigningSecrets::parse_one(&secret)
                    .map_err(|reason| invalid(vars::BETTER_AUTH_SECRET, reason))?
            }
        };

        let token_lifetime = parse_number(
            &var,
            vars::JWT_EXPIRES_IN,
            DEFAULT_TOKEN_LIFETIME_SECS,
            1..=MAX_TOKEN_LIFETIME_SECS,
        )?;

        let throttle = ThrottleLimits {
            signin_per_email_and_ip: parse_number(
                &var,
                vars::THROTTLE_SIGNIN_EMAIL,
                5,
                0..=u32::MAX,
            )?,
            signin_per_email: parse_number(
                &var,
                vars::THROTTLE_SIGNIN_EMAIL_GLOBAL,
                100,
                0..=u32::MAX,
            )?,
            signin_per_ip: parse_number(&var, vars::THROTTLE_SIGNIN_IP, 20, 0..=u32::MAX)?,
            signin_per_device: parse_number(&var, vars::THROTTLE_SIGNIN_DEVICE, 10, 0..=u32::MAX)?,
            signup_per_ip: parse_number(&var, vars::THROTTLE_SIGNUP_IP, 50, 0..=u32::MAX)?,
            reset_per_ip: parse_number(&var, vars::THROTTLE_RESET_IP, 10, 0..=u32::MAX)?,
            reset_per_email: parse_number(&var, vars::THROTTLE_RESET_EMAIL, 3, 0..=u32::MAX)?,
        };

        let same_site =
            match var(vars::COOKIE_SAMESITE).map(|value| value.trim().to_ascii_lowercase()) {
                None => SameSite::Lax,
                Some(value) => match value.as_str() {
                    "lax" => SameSite::Lax,
                    "strict" => SameSite::Strict,
                    "none" => SameSite::None,
                    _ => {
                        return Err(invalid(
                            vars::COOKIE_SAMESITE,
                            format!("`{value}` is not one of lax, strict, none"),
                        ));
                    }
                },
            };

        Ok(Self {
            http,
            secrets,
            token_lifetime: Duration::from_secs(token_lifetime),
            throttle,
            cookies: CookieSettings {
                same_site,
                secure: true,
            },
            better_auth: BetterAuthSettings::from_lookup(&var)?,
            trusted_proxy_secret: var(vars::TRUSTED_PROXY_SECRET)
                .map(|secret| {
                    check_secret_strength(&secret)
                        .map(|()| SecretString::from(secret))
                        .map_err(|reason| invalid(vars::TRUSTED_PROXY_SECRET, reason))
                })
                .transpose()?,
        })
    }
}

/// The secrets tokens are signed and checked with, newest first: the first signs every new
/// token (its version, when it has one, in the JWT header's `kid`) and roots the throttle and
/// audit digest keys; the others still verify the tokens they signed, so rotating signs
/// nobody out.
#[derive(Clone)]
pub struct SigningSecrets {
    /// `(version, secret)`: a version only in the `BETTER_AUTH_SECRETS` format.
    current: (Option<String>, SecretString),
    older: Vec<(Option<String>, SecretString)>,
}

impl std::fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let versions: Vec<_> = self.all().map(|(version, _)| version).collect();
        f.debug_struct("SigningSecrets")
            .field("versions", &versions)
            .finish()
    }
}

impl SigningSecrets {
    /// Better Auth's format, `"<version>:<secret>,<version>:<secret>"`, newest first; each
    /// secret as strong as `BETTER_AUTH_SECRET` must be, each version once.
    pub fn parse_list(list: &str) -> Result<Self, String> {
        let mut versions: Vec<(Option<String>, SecretString)> = Vec::new();
        for entry in list.split(',') {
            let (version, secret) = entry.trim().split_once(':').ok_or_else(|| {
                "is not `<version>:<secret>,<version>:<secret>`, newest first".to_owned()
            })?;
            let version = version.trim();
            if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("version `{version}` is not a number"));
            }
            check_secret_strength(secret)
                .map_err(|reason| format!("the secret of version {version} {reason}"))?;
            if versions
                .iter()
                .any(|(known, _)| known.as_deref() == Some(version))
            {
                return Err(format!("version {version} is listed twice"));
            }
            versions.push((
                Some(version.to_owned()),
                SecretString::from(secret.to_owned()),
            ));
        }
        let mut versions = versions.into_iter();
        let current = versions.next().ok_or("lists no secret")?;
        Ok(Self {
            current,
            older: versions.collect(),
        })
    }

    /// One secret; or, written in the list's format (what `BETTER_AUTH_SECRET_ARN`'s secret
    /// may hold), the list: every comma-separated part starts with `<digits>:`.
    pub fn parse_one(secret: &str) -> Result<Self, String> {
        let versioned = |entry: &str| {
            entry.trim().split_once(':').is_some_and(|(version, _)| {
                !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())
            })
        };
        if secret.split(',').all(versioned) {
            return Self::parse_list(secret);
        }
        check_secret_strength(secret)?;
        Ok(Self {
            current: (None, SecretString::from(secret.to_owned())),
            older: Vec::new(),
        })
    }

    /// The newest secret: it signs, and roots the digest keys.
    pub fn current(&self) -> &SecretString {
        &self.current.1
    }

    /// The newest secret's version, if the list gave it one (the `kid` of new tokens).
    pub fn current_version(&self) -> Option<&str> {
        self.current.0.as_deref()
    }

    /// Every secret with its version, newest first.
    pub fn all(&self) -> impl Iterator<Item = &(Option<String>, SecretString)> {
        std::iter::once(&self.current).chain(&self.older)
    }
}

/// Refuses a signing secret anybody could guess: short, made of few distinct characters
/// (`aaaa…`), or the placeholder of `.env.example`.
fn check_secret_strength(secret: &str) -> Result<(), String> {
    const FIX: &str = "generate one with `openssl rand -base64 32`";
    if secret.chars().count() < MIN_SECRET_CHARS {
        return Err(format!(
            "must be at least {MIN_SECRET_CHARS} characters; {FIX}"
        ));
    }
    if secret == EXAMPLE_SECRET {
        return Err(format!("is the placeholder from .env.example; {FIX}"));
    }
    let distinct: std::collections::HashSet<char> = secret.chars().collect();
    if distinct.len() < MIN_SECRET_DISTINCT_CHARS {
        return Err(format!(
            "has only {} distinct characters (at least {MIN_SECRET_DISTINCT_CHARS} needed); {FIX}",
            distinct.len()
        ));
    }
    Ok(())
}

fn parse_number<T>(
    var: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = var(name) else {
        return Ok(default);
    };
    let value: T = raw.trim().parse().map_err(|_| {
        invalid(
            name,
            format!(
                "`{}` is not a whole number: use {} to {}",
                raw.trim(),
                range.start(),
                range.end()
            ),
        )
    })?;
    if !range.contains(&value) {
        return Err(invalid(
            name,
            format!(
                "`{value}` is out of range: use {} to {}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(value)
}

/// Origins are compared byte for byte with the browser's `Origin` header, so they are
/// normalised here: no trailing slash, no path, and never the wildcard.
fn parse_origins(list: &str) -> Result<Vec<String>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let origin = origin.trim_end_matches('/');
            let Some((scheme, host)) = origin.split_once("://") else {
                return Err(invalid(
                    vars::ALLOWED_ORIGINS,
                    format!("`{origin}` is not an origin like https://app.example.com"),
                ));
            };
            if origin == "*"
                || !matches!(scheme, "http" | "https")
                || host.is_empty()
                || host.contains('/')
            {
                return Err(invalid(
                    vars::ALLOWED_ORIGINS,
                    format!("`{origin}` is not an origin like https://app.example.com"),
                ));
            }
            Ok(origin.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_schema_is_a_plain_identifier_of_the_apis_own() {
        assert_eq!(Schema::parse(" app_api ").unwrap().as_str(), "app_api");
        assert!(Schema::default().is_default());
        for bad in [
            "public",
            "Todo",
            "a-b",
            "pg_temp",
            "",
            "1x",
            "information_schema",
        ] {
            assert!(Schema::parse(bad).is_err(), "{bad}");
        }
    }
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("BETTER_AUTH_SECRET", SECRET),
        ]
    }

    fn with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut vars: Vec<(&str, &str)> = base();
        vars.extend_from_slice(extra);
        load(&vars)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = load(&base()).unwrap();
        assert_eq!(config.token_lifetime, Duration::from_secs(604_800));
        assert_eq!(config.http.database.pool_size, 1);
        assert!(config.http.allowed_origins.is_empty());
        assert_eq!(config.secrets.current().expose_secret(), SECRET);
        assert_eq!(
            config.throttle,
            ThrottleLimits {
                signin_per_email_and_ip: 5,
                signin_per_email: 100,
                signin_per_ip: 20,
                signin_per_device: 10,
                signup_per_ip: 50,
                reset_per_ip: 10,
                reset_per_email: 3,
            }
        );
    }

    #[test]
    fn missing_or_weak_secret_names_the_variable_and_the_fix() {
        let err = load(&[("DATABASE_URL", "postgres://u@localhost/db")]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "BETTER_AUTH_SECRET is not set; set it to the frontend's Better Auth secret"
            ),
            "{err}"
        );
        let fix = "generate one with `openssl rand -base64 32`";
        for (secret, reason) in [
            (&SECRET[1..], "must be at least 32 characters".to_owned()),
            (
                EXAMPLE_SECRET,
                "is the placeholder from .env.example".to_owned(),
            ),
            (
                &"a".repeat(64),
                "has only 1 distinct characters (at least 16 needed)".to_owned(),
            ),
            (
                &"0123456789abcde".repeat(3),
                "has only 15 distinct characters (at least 16 needed)".to_owned(),
            ),
        ] {
            let err = load(&[
                ("DATABASE_URL", "postgres://u@localhost/db"),
                ("BETTER_AUTH_SECRET", secret),
            ])
            .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("BETTER_AUTH_SECRET is invalid: {reason}; {fix}")
            );
        }
    }

    #[test]
    fn better_auth_secrets_lists_versions_newest_first_and_wins() {
        let list = format!("2:{SECRET}, 1:fedcba9876543210fedcba9876543210");
        let config = with(&[("BETTER_AUTH_SECRETS", &list)]).unwrap();
        assert_eq!(config.secrets.current().expose_secret(), SECRET);
        assert_eq!(config.secrets.current_version(), Some("2"));
        let versions: Vec<_> = config.secrets.all().map(|(v, _)| v.clone()).collect();
        assert_eq!(versions, [Some("2".to_owned()), Some("1".to_owned())]);

        let fix = "generate one with `openssl rand -base64 32`";
        for (list, reason) in [
            (
                format!("2:{SECRET},1:short"),
                format!("the secret of version 1 must be at least 32 characters; {fix}"),
            ),
            (
                format!("x:{SECRET}"),
                "version `x` is not a number".to_owned(),
            ),
            (
                SECRET.to_owned(),
                "is not `<version>:<secret>,<version>:<secret>`, newest first".to_owned(),
            ),
            (
                format!("1:{SECRET},1:fedcba9876543210fedcba9876543210"),
                "version 1 is listed twice".to_owned(),
            ),
        ] {
            let err = with(&[("BETTER_AUTH_SECRETS", &list)]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("BETTER_AUTH_SECRETS is invalid: {reason}"),
                "{list}"
            );
        }
        // One secret is one secret, even with a `:` in it; the list format is the list.
        let colon = "abc:0123456789abcdef0123456789abcdef";
        assert_eq!(
            SigningSecrets::parse_one(colon).unwrap().current_version(),
            None
        );
        let listed = SigningSecrets::parse_one(&format!("7:{SECRET}")).unwrap();
        assert_eq!(listed.current_version(), Some("7"));
    }

    #[test]
    fn the_refused_placeholder_is_the_one_env_example_ships() {
        let example = include_str!("../../../.env.example");
        assert!(example.contains(&format!("BETTER_AUTH_SECRET=\"{EXAMPLE_SECRET}\"")));
    }

    #[test]
    fn missing_or_bad_database_url_names_the_variable() {
        let err = load(&[("BETTER_AUTH_SECRET", SECRET)]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("DATABASE_URL is not set; set it to"),
            "{err}"
        );
        let err = load(&[
            ("BETTER_AUTH_SECRET", SECRET),
            ("DATABASE_URL", "postgres://u@h/db?sslmode=sometimes"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().starts_with("DATABASE_URL is invalid: "),
            "{err}"
        );
    }

    #[test]
    fn numbers_are_range_checked() {
        assert_eq!(
            with(&[("JWT_EXPIRES_IN", "soon")]).unwrap_err().to_string(),
            "JWT_EXPIRES_IN is invalid: `soon` is not a whole number: use 1 to 7776000"
        );
        assert_eq!(
            with(&[("JWT_EXPIRES_IN", "7776001")])
                .unwrap_err()
                .to_string(),
            "JWT_EXPIRES_IN is invalid: `7776001` is out of range: use 1 to 7776000"
        );
        let config = with(&[
            ("THROTTLE_SIGNIN_EMAIL", "0"),
            ("THROTTLE_SIGNIN_EMAIL_GLOBAL", "7"),
            ("JWT_EXPIRES_IN", "7776000"),
        ])
        .unwrap();
        assert_eq!(config.throttle.signin_per_email_and_ip, 0);
        assert_eq!(config.throttle.signin_per_email, 7);
        assert_eq!(config.token_lifetime, Duration::from_secs(7_776_000));
    }

    #[test]
    fn cookies_are_lax_and_secure_unless_configured() {
        let cookies = load(&base()).unwrap().cookies;
        assert_eq!(
            cookies,
            CookieSettings {
                same_site: SameSite::Lax,
                secure: true
            }
        );
        for (value, expected) in [
            ("strict", SameSite::Strict),
            ("None", SameSite::None),
            ("lax", SameSite::Lax),
        ] {
            let cookies = with(&[("COOKIE_SAMESITE", value)]).unwrap().cookies;
            assert_eq!((cookies.same_site, cookies.secure), (expected, true));
        }
        assert_eq!(
            with(&[("COOKIE_SAMESITE", "sometimes")])
                .unwrap_err()
                .to_string(),
            "COOKIE_SAMESITE is invalid: `sometimes` is not one of lax, strict, none"
        );
    }

    #[test]
    fn better_auth_jwks_come_over_tls_or_from_this_machine() {
        for url in [
            "https://auth.example.com/api/auth/jwks",
            "http://127.0.0.1:3000/api/auth/jwks",
            "http://localhost/api/auth/jwks",
            "http://[::1]:3000/api/auth/jwks",
        ] {
            let config = with(&[
                ("BETTER_AUTH_URL", "https://app.example.com"),
                ("BETTER_AUTH_JWKS_URL", url),
            ]);
            assert!(config.is_ok(), "{url}");
        }
        for url in ["http://auth.example.com/jwks", "http://10.0.0.2:3000/jwks"] {
            let err = with(&[
                ("BETTER_AUTH_URL", "https://app.example.com"),
                ("BETTER_AUTH_JWKS_URL", url),
            ])
            .unwrap_err()
            .to_string();
            assert!(
                err.starts_with("BETTER_AUTH_JWKS_URL is invalid: "),
                "{err}"
            );
        }
    }

    #[test]
    fn better_auth_schema_and_signature_settings() {
        let settings = with(&[
            ("BETTER_AUTH_URL", "https://app.example.com"),
            (
                "BETTER_AUTH_SCHEMA",
                r#"{"session": {"modelName": "sessions"}}"#,
            ),
            ("BETTER_AUTH_REQUIRE_SIGNATURE", "true"),
        ])
        .unwrap()
        .better_auth
        .unwrap();
        assert_eq!(settings.schema.session.table, r#""public"."sessions""#);
        assert!(settings.require_signature);
        let err = with(&[
            ("BETTER_AUTH_URL", "https://app.example.com"),
            ("BETTER_AUTH_SCHEMA", "{"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("BETTER_AUTH_SCHEMA is invalid: "), "{err}");
        let err = with(&[("BETTER_AUTH_SCHEMA", "{}")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("without BETTER_AUTH_URL"), "{err}");
    }

    #[test]
    fn better_auth_is_off_unless_its_url_is_set() {
        assert_eq!(load(&base()).unwrap().better_auth, None);
        let settings = with(&[("BETTER_AUTH_URL", "https://app.example.com/")])
            .unwrap()
            .better_auth
            .unwrap();
        assert_eq!(
            settings,
            BetterAuthSettings {
                issuer: "https://app.example.com".into(),
                audience: "https://app.example.com".into(),
                jwks_url: None,
                schema: BetterAuthSchema::default(),
                require_signature: false,
            }
        );
        assert!(settings.accepts_session_tokens());
        let settings = with(&[
            ("BETTER_AUTH_URL", "https://app.example.com"),
            ("BETTER_AUTH_AUDIENCE", "api"),
            (
                "BETTER_AUTH_JWKS_URL",
                "https://auth.example.com/api/auth/jwks",
            ),
        ])
        .unwrap()
        .better_auth
        .unwrap();
        assert_eq!(settings.audience, "api");
        assert!(!settings.accepts_session_tokens());
        assert!(
            with(&[("BETTER_AUTH_URL", "app.example.com")])
                .unwrap_err()
                .to_string()
                .starts_with("BETTER_AUTH_URL is invalid")
        );
        assert!(
            with(&[("BETTER_AUTH_JWKS_URL", "https://auth.example.com/jwks")])
                .unwrap_err()
                .to_string()
                .starts_with(
                    "BETTER_AUTH_JWKS_URL is invalid: has no effect without BETTER_AUTH_URL"
                )
        );
    }

    #[test]
    fn mail_settings_name_what_is_missing() {
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        assert!(
            MailSettings::from_lookup(&lookup(&[("APP_URL", "https://app.example.com")]))
                .unwrap_err()
                .to_string()
                .starts_with("EMAIL_FROM is not set; ")
        );
        assert!(
            MailSettings::from_lookup(&lookup(&[("EMAIL_FROM", "no-reply@example.com")]))
                .unwrap_err()
                .to_string()
                .starts_with("APP_URL is not set; ")
        );
        let settings = MailSettings::from_lookup(&lookup(&[
            ("EMAIL_FROM", "no-reply@example.com"),
            ("APP_URL", "https://app.example.com/"),
        ]))
        .unwrap();
        assert_eq!(settings.app_url, "https://app.example.com");
        assert_eq!(settings.reset_token_ttl, Duration::from_secs(1800));
        assert_eq!(settings.verify_token_ttl, Duration::from_secs(86_400));
        assert_eq!(settings.verification, EmailVerification::Optional);
        let required = MailSettings::from_lookup(&lookup(&[
            ("EMAIL_FROM", "no-reply@example.com"),
            ("APP_URL", "https://app.example.com/"),
            ("EMAIL_VERIFICATION", "required"),
            ("VERIFY_TOKEN_TTL", "3600"),
        ]))
        .unwrap();
        assert_eq!(required.verification, EmailVerification::Required);
        assert_eq!(required.verify_token_ttl, Duration::from_secs(3600));
        assert_eq!(
            MailSettings::from_lookup(&lookup(&[
                ("EMAIL_FROM", "no-reply@example.com"),
                ("APP_URL", "https://app.example.com/"),
                ("EMAIL_VERIFICATION", "sometimes"),
            ]))
            .unwrap_err()
            .to_string(),
            "EMAIL_VERIFICATION is invalid: `sometimes` is not one of off, optional, required"
        );
    }

    #[test]
    fn origins_are_normalised_and_wildcard_refused() {
        let config = with(&[(
            "ALLOWED_ORIGINS",
            " https://app.example.com/ , http://localhost:3000",
        )])
        .unwrap();
        assert_eq!(
            config.http.allowed_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert!(
            with(&[("ALLOWED_ORIGINS", "*")])
                .unwrap_err()
                .to_string()
                .starts_with("ALLOWED_ORIGINS is invalid")
        );
    }
}
