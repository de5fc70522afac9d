//! `DATABASE_URL`: where the database is and how to reach it, parsed once. Every libpq
//! `sslmode` spelling is accepted and held to what it promises (see [`ConnectTarget`]).

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::config::{LoadBalanceHosts, SslMode, TargetSessionAttrs};

/// A parsed `DATABASE_URL`. `disable`, `allow` and `prefer` (the default) behave as libpq:
/// TLS when the server offers it, the certificate not checked. `require`, `verify-ca` and
/// `verify-full` make TLS mandatory and verify the chain and the host name (all held to
/// `verify-full`, as Neon expects).
#[derive(Clone)]
pub struct ConnectTarget {
    pub config: tokio_postgres::Config,
}

impl std::fmt::Debug for ConnectTarget {
    // The parsed config holds the password: show only where it points.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectTarget")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("ssl_mode", &self.config.get_ssl_mode())
            .finish()
    }
}

impl ConnectTarget {
    /// Accepts URL (`postgres://…`) and key/value (`host=… dbname=…`) forms, with every
    /// libpq `sslmode` spelling. tokio-postgres knows only disable/prefer/require, so
    /// `allow` is rewritten to `prefer` and the verify-* spellings to `require` before
    /// parsing. The error never repeats the URL: it may hold a password.
    pub fn parse(url: &SecretString) -> Result<Self, String> {
        let url = url.expose_secret().trim();
        let rewritten = rewrite_sslmode(url)?;
        let config: tokio_postgres::Config = rewritten
            .parse()
            .map_err(|err: tokio_postgres::Error| format!("not a PostgreSQL URL ({err})"))?;
        if config.get_hosts().is_empty() {
            return Err("no host given".into());
        }
        // Only tokio-postgres's own `connect` acts on these, and connections are opened
        // beneath it (`db::connect`): refused rather than ignored.
        if config.get_target_session_attrs() != TargetSessionAttrs::Any {
            return Err(
                "target_session_attrs is not supported; name the primary's host alone".into(),
            );
        }
        if config.get_load_balance_hosts() != LoadBalanceHosts::Disable {
            return Err("load_balance_hosts is not supported; hosts are tried in order".into());
        }
        // As libpq: direct TLS negotiation skips the plaintext SSLRequest, so it needs a
        // mode that never falls back to plaintext.
        if config.get_ssl_negotiation() == tokio_postgres::config::SslNegotiation::Direct
            && config.get_ssl_mode() != SslMode::Require
        {
            return Err(
                "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full".into(),
            );
        }
        Ok(Self { config })
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.config.get_ssl_mode()
    }

    /// Whether TLS is mandatory and its certificate verified.
    pub fn verifies_tls(&self) -> bool {
        self.ssl_mode() == SslMode::Require
    }

    /// Whether every host is this machine (a loopback address or a Unix socket).
    pub fn is_local(&self) -> bool {
        self.config.get_hosts().iter().all(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => {
                name.eq_ignore_ascii_case("localhost")
                    || name
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            tokio_postgres::config::Host::Unix(_) => true,
        })
    }

    /// A warning for the start-up log when a remote server is reached without verified TLS.
    pub fn unverified_remote_warning(&self) -> Option<String> {
        (!self.verifies_tls() && !self.is_local()).then(|| {
            "DATABASE_URL reaches a remote server without sslmode=require, verify-ca or \
             verify-full: its certificate is not checked and anyone on the path can turn TLS \
             off; add sslmode=require (Neon requires it)"
                .to_owned()
        })
    }
}

const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

fn rewrite_sslmode(url: &str) -> Result<String, String> {
    let map_mode = |mode: &str| -> Result<&'static str, String> {
        match mode {
            "disable" => Ok("disable"),
            "allow" | "prefer" => Ok("prefer"),
            "require" | "verify-ca" | "verify-full" => Ok("require"),
            other => Err(format!(
                "sslmode `{other}` is not one of {}",
                SSL_MODES.join(", ")
            )),
        }
    };
    let rewrite_pair = |pair: &str| match pair.split_once('=') {
        Some(("sslmode", mode)) => map_mode(mode).map(|mode| format!("sslmode={mode}")),
        _ => Ok(pair.to_owned()),
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok(url.to_owned());
        };
        let params = query
            .split('&')
            .map(rewrite_pair)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!("{base}?{}", params.join("&")))
    } else {
        url.split_whitespace()
            .map(rewrite_pair)
            .collect::<Result<Vec<_>, _>>()
            .map(|pairs| pairs.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<ConnectTarget, String> {
        ConnectTarget::parse(&SecretString::from(url.to_owned()))
    }

    #[test]
    fn every_libpq_sslmode_is_accepted() {
        for (mode, expected) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Prefer),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::Require),
            ("verify-full", SslMode::Require),
        ] {
            let url = format!(
                "postgresql://u:p@ep-x.eu-central-1.aws.neon.tech/neondb?sslmode={mode}&channel_binding=require"
            );
            assert_eq!(parse(&url).unwrap().ssl_mode(), expected, "{mode}");
            let kv = format!("host=localhost user=u sslmode={mode}");
            assert_eq!(parse(&kv).unwrap().ssl_mode(), expected, "{mode}");
            assert_eq!(
                parse(&url).unwrap().verifies_tls(),
                expected == SslMode::Require,
                "{mode}"
            );
        }
        let absent = parse("postgres://u@db.example.com/app").unwrap();
        assert_eq!(absent.ssl_mode(), SslMode::Prefer, "libpq's default");
        assert!(!absent.verifies_tls());
    }

    #[test]
    fn a_remote_host_without_verified_tls_is_warned_about() {
        for url in [
            "postgres://u@db.example.com/app",
            "postgres://u@10.0.0.5/app?sslmode=prefer",
            "postgres://u@db.example.com/app?sslmode=disable",
        ] {
            assert!(
                parse(url).unwrap().unverified_remote_warning().is_some(),
                "{url}"
            );
        }
        for url in [
            "postgres://u@db.example.com/app?sslmode=require",
            "postgres://u@localhost/app",
            "postgres://u@127.0.0.1/app?sslmode=disable",
            "postgres://u@[::1]/app",
            "host=/var/run/postgresql user=u",
        ] {
            assert!(
                parse(url).unwrap().unverified_remote_warning().is_none(),
                "{url}"
            );
        }
    }

    #[test]
    fn direct_tls_negotiation_needs_a_mode_that_never_goes_plaintext() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let url =
                format!("postgres://u@ep-x.neon.tech/db?sslmode={mode}&sslnegotiation=direct");
            assert!(parse(&url).is_ok(), "{mode}");
        }
        for query in ["", "sslmode=disable&", "sslmode=allow&", "sslmode=prefer&"] {
            let url = format!("postgres://u@ep-x.neon.tech/db?{query}sslnegotiation=direct");
            assert_eq!(
                parse(&url).err().as_deref(),
                Some("sslnegotiation=direct needs sslmode=require, verify-ca or verify-full"),
                "{query}"
            );
        }
    }

    #[test]
    fn errors_do_not_repeat_the_password() {
        let err = parse("postgres://user:hunter2@host/db?sslmode=maybe").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let err = parse("postgres://user:hunter2@host/db?port=abc").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(parse("postgres:///db").unwrap_err(), "no host given");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let target = parse("postgres://user:hunter2@host/db").unwrap();
        assert!(!format!("{target:?}").contains("hunter2"));
    }
}
