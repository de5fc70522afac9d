//! Runtime configuration: every environment variable of the contract, read and validated
//! once per cold start. A bad value stops start-up with one line naming the variable.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::db::ConnectTarget;

/// Shortest accepted signing secret, in characters (the contract's floor for HS256).
pub const MIN_SECRET_CHARS: usize = 32;
const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 7 * 24 * 60 * 60;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

/// Per-window counts for brute-force throttling; `0` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    pub signin_per_email: u32,
    pub signin_per_ip: u32,
    pub signup_per_ip: u32,
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
}

impl DatabaseSettings {
    /// The `DATABASE_*` variables alone: all that the `migrate` binary needs.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());
        let database_url = var("DATABASE_URL").ok_or(ConfigError::Missing("DATABASE_URL"))?;
        let target = ConnectTarget::parse(&SecretString::from(database_url))
            .map_err(|reason| invalid("DATABASE_URL", reason))?;
        let connect_timeout = parse_number(&var, "DATABASE_CONNECT_TIMEOUT_SECS", 5, 1..=300)?;
        let statement_timeout =
            parse_number(&var, "DATABASE_STATEMENT_TIMEOUT_MS", 5_000, 10..=600_000)?;
        Ok(Self {
            target,
            pool_size: parse_number(&var, "DATABASE_POOL_SIZE", 1, 1..=64)?,
            extra_ca_file: var("DATABASE_CA_FILE").map(PathBuf::from),
            connect_timeout: Duration::from_secs(connect_timeout),
            statement_timeout: Duration::from_millis(statement_timeout),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseSettings,
    pub auth_secret: SecretString,
    pub token_lifetime: Duration,
    pub allowed_origins: Vec<String>,
    pub throttle: ThrottleLimits,
}

impl Config {
    /// A cold start: the process environment, with secrets fetched from Secrets Manager
    /// where a `*_ARN` variable says so.
    pub async fn load() -> Result<Self, ConfigError> {
        Self::load_with(|name| std::env::var(name).ok()).await
    }

    /// As [`Config::load`], reading the environment through `lookup`.
    pub async fn load_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup(crate::secrets::resolve(lookup).await?)
    }

    /// Reads configuration through `lookup`, so callers (the local server, tests) can layer
    /// their own defaults over the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());

        let database = DatabaseSettings::from_lookup(&lookup)?;
        let auth_secret =
            var("BETTER_AUTH_SECRET").ok_or(ConfigError::Missing("BETTER_AUTH_SECRET"))?;
        let auth_secret = SecretString::from(auth_secret);
        if auth_secret.expose_secret().chars().count() < MIN_SECRET_CHARS {
            return Err(invalid(
                "BETTER_AUTH_SECRET",
                format!("must be at least {MIN_SECRET_CHARS} characters"),
            ));
        }

        let token_lifetime = parse_number(
            &var,
            "JWT_EXPIRES_IN",
            DEFAULT_TOKEN_LIFETIME_SECS,
            1..=u64::from(u32::MAX),
        )?;

        let allowed_origins = var("ALLOWED_ORIGINS")
            .map(|list| parse_origins(&list))
            .transpose()?
            .unwrap_or_default();

        let throttle = ThrottleLimits {
            signin_per_email: parse_number(&var, "THROTTLE_SIGNIN_EMAIL", 5, 0..=u32::MAX)?,
            signin_per_ip: parse_number(&var, "THROTTLE_SIGNIN_IP", 20, 0..=u32::MAX)?,
            signup_per_ip: parse_number(&var, "THROTTLE_SIGNUP_IP", 50, 0..=u32::MAX)?,
        };

        Ok(Self {
            database,
            auth_secret,
            token_lifetime: Duration::from_secs(token_lifetime),
            allowed_origins,
            throttle,
        })
    }
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
    let value: T = raw
        .trim()
        .parse()
        .map_err(|_| invalid(name, format!("`{}` is not a whole number", raw.trim())))?;
    if !range.contains(&value) {
        return Err(invalid(
            name,
            format!("must be between {} and {}", range.start(), range.end()),
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
                    "ALLOWED_ORIGINS",
                    format!("`{origin}` is not an origin like https://app.example.com"),
                ));
            };
            if origin == "*"
                || !matches!(scheme, "http" | "https")
                || host.is_empty()
                || host.contains('/')
            {
                return Err(invalid(
                    "ALLOWED_ORIGINS",
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

    #[test]
    fn defaults_follow_the_contract() {
        let config = load(&base()).unwrap();
        assert_eq!(config.token_lifetime, Duration::from_secs(604_800));
        assert_eq!(config.database.pool_size, 1);
        assert!(config.allowed_origins.is_empty());
        assert_eq!(
            config.throttle,
            ThrottleLimits {
                signin_per_email: 5,
                signin_per_ip: 20,
                signup_per_ip: 50
            }
        );
    }

    #[test]
    fn missing_or_short_secret_names_the_variable() {
        let err = load(&[("DATABASE_URL", "postgres://u@localhost/db")]).unwrap_err();
        assert_eq!(err.to_string(), "BETTER_AUTH_SECRET is not set");
        let err = load(&[
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("BETTER_AUTH_SECRET", &SECRET[1..]),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "BETTER_AUTH_SECRET is invalid: must be at least 32 characters"
        );
    }

    #[test]
    fn missing_or_bad_database_url_names_the_variable() {
        let err = load(&[("BETTER_AUTH_SECRET", SECRET)]).unwrap_err();
        assert_eq!(err.to_string(), "DATABASE_URL is not set");
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
        let mut vars = base();
        vars.push(("JWT_EXPIRES_IN", "soon"));
        assert_eq!(
            load(&vars).unwrap_err().to_string(),
            "JWT_EXPIRES_IN is invalid: `soon` is not a whole number"
        );
        let mut vars = base();
        vars.push(("THROTTLE_SIGNIN_EMAIL", "0"));
        vars.push(("JWT_EXPIRES_IN", "60"));
        let config = load(&vars).unwrap();
        assert_eq!(config.throttle.signin_per_email, 0);
        assert_eq!(config.token_lifetime, Duration::from_secs(60));
    }

    #[test]
    fn origins_are_normalised_and_wildcard_refused() {
        let mut vars = base();
        vars.push((
            "ALLOWED_ORIGINS",
            " https://app.example.com/ , http://localhost:3000",
        ));
        assert_eq!(
            load(&vars).unwrap().allowed_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        let mut vars = base();
        vars.push(("ALLOWED_ORIGINS", "*"));
        assert!(
            load(&vars)
                .unwrap_err()
                .to_string()
                .starts_with("ALLOWED_ORIGINS is invalid")
        );
    }
}
