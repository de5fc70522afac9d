//! The database: connection target parsing (sslmode included), TLS through rustls, the
//! pool, the client-side statement timeout, and one module of queries per table.

pub mod better_auth;
pub mod connect;
pub mod credentials;
pub mod maintenance;
pub mod migrations;
pub mod password_resets;
pub mod pool;
pub mod sessions;
pub mod statement_names;
pub mod statements;
pub mod tasks;
pub mod throttle;
pub mod tls;
pub mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use deadpool::Runtime;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::Row;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::ToSql;

use self::pool::{Manager, Object, Pool};
use self::statements::{Plan, Statement};

use crate::config::DatabaseSettings;

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
        if let Some(unsupported) = connect::unsupported_option(&config) {
            return Err(unsupported.into());
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

/// The pool plus the per-statement deadline. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    statement_timeout: Duration,
    /// Statements sent, each one round trip: lets tests and benchmarks count them.
    round_trips: Arc<AtomicU64>,
    /// Statements sent unnamed although the connection had prepared its plan: a statement
    /// missing from the function's plan (the benchmarks and tests check that it stays 0).
    unplanned: Arc<AtomicU64>,
}

impl Db {
    /// Builds the pool; no connection is opened until the first `client()`. Each
    /// connection prepares `plan` when it opens (unless `DATABASE_PREPARED_STATEMENTS=off`).
    pub fn connect_lazy(settings: &DatabaseSettings, plan: Plan) -> anyhow::Result<Self> {
        let mut config = settings.target.config.clone();
        config
            .connect_timeout(settings.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .application_name("todo-api");
        if let Some(warning) = settings.target.unverified_remote_warning() {
            tracing::warn!("{warning}");
        }
        let tls = tls::connector(
            settings.target.verifies_tls(),
            settings.extra_ca_file.as_deref(),
        )?;
        let manager = Manager {
            config,
            tls,
            plan: settings.prepared_statements.then(|| Arc::new(plan)),
            fallbacks: Arc::default(),
        };
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.connect_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.connect_timeout))
            .build()
            .context("building the connection pool")?;
        Ok(Self {
            pool,
            statement_timeout: settings.statement_timeout,
            round_trips: Arc::default(),
            unplanned: Arc::default(),
        })
    }

    /// Opens the first connection now, so a cold start pays for the connection (TCP, TLS,
    /// authentication) before the first request. Its plan goes with the first request's
    /// statement, in the same round trip.
    pub async fn warm_up(&self) -> anyhow::Result<()> {
        self.client().await.map(drop)
    }

    /// Opens a connection and prepares its plan now: for benchmarks and tests that count
    /// what each request sends from then on.
    pub async fn warm_up_prepared(&self) -> anyhow::Result<()> {
        let mut connection = self.client().await?;
        connection.prepare_now().await?;
        Ok(())
    }

    /// [`Db::warm_up`] for a cold start: a database that is down, or refuses TLS or a
    /// certificate, is logged in one line saying what to do, not fatal; requests retry
    /// the connection and answer 503 meanwhile.
    pub async fn warm_up_logged(&self) {
        if let Err(err) = self.warm_up().await {
            tracing::error!("{}", tls::explain_connect_error(&err));
        }
    }

    /// A connection from the pool, opened (and its plan sent) if none is free.
    // Boxed here, like `query`: the future holds the whole connect-and-prepare of a new
    // connection, compiled once in this crate rather than in every function that awaits it.
    pub fn client(&self) -> BoxFuture<'_, anyhow::Result<Object>> {
        Box::pin(async move {
            self.pool
                .get()
                .await
                .map_err(|err| match err {
                    deadpool::managed::PoolError::Backend(err) => anyhow::Error::new(err),
                    other => anyhow::anyhow!("{other}"),
                })
                .context("getting a database connection")
        })
    }

    /// Runs one statement in one round trip: its prepared copy when the connection has one
    /// (Bind and Execute only), else unnamed with its parameter types (Parse, Bind and
    /// Execute, still one round trip, and fine behind any pooler).
    ///
    /// Boxed: a non-generic function that returns the future is compiled in this crate,
    /// while an `async fn`'s body (and the driver's, the pool's and the TLS client's below
    /// it) would be compiled again into every function crate that awaits it.
    pub fn query<'a>(
        &'a self,
        statement: &'a Statement,
        values: &'a [&'a (dyn ToSql + Sync)],
    ) -> BoxFuture<'a, Result<Vec<Row>, DbError>> {
        Box::pin(self.run(statement, values))
    }

    async fn run(
        &self,
        statement: &Statement,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        if values.len() != statement.types.len() {
            return Err(DbError::Unavailable(anyhow::anyhow!(
                "{statement:?} given {} values",
                values.len()
            )));
        }
        let mut connection = self.client().await.map_err(DbError::Unavailable)?;
        let sent = connection.send(statement, values);
        match tokio::time::timeout(self.statement_timeout, sent).await {
            Ok(sent) => {
                self.round_trips
                    .fetch_add(sent.statements, Ordering::Relaxed);
                if sent.unplanned {
                    self.unplanned.fetch_add(1, Ordering::Relaxed);
                }
                sent.rows.map_err(DbError::from)
            }
            Err(_) => {
                self.round_trips.fetch_add(1, Ordering::Relaxed);
                // The connection may still be waiting on the lost answer: never reuse it.
                let _ = Object::take(connection);
                Err(DbError::Unavailable(anyhow::anyhow!(
                    "statement took longer than {:?}",
                    self.statement_timeout
                )))
            }
        }
    }

    pub async fn query_one(
        &self,
        statement: &Statement,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, DbError> {
        self.query_opt(statement, values)
            .await?
            .ok_or_else(|| DbError::Unavailable(anyhow::anyhow!("statement returned no row")))
    }

    pub async fn query_opt(
        &self,
        statement: &Statement,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        Ok(self.query(statement, values).await?.into_iter().next())
    }

    /// How many statements this pool has sent so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// How many connections fell back to unnamed statements because the server refused
    /// named ones.
    pub fn fallbacks(&self) -> u64 {
        self.pool.manager().fallbacks.load(Ordering::Relaxed)
    }

    /// How many statements were sent unnamed although their connection had prepared its
    /// plan: each is a statement missing from the function's plan.
    pub fn unplanned_statements(&self) -> u64 {
        self.unplanned.load(Ordering::Relaxed)
    }
}

/// What can go wrong with a statement. Constraint violations a route expects (the
/// unique email) are settled inside its statement (`ON CONFLICT`), so every error here is
/// unexpected: a 5xx with its cause logged.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database statement failed")]
    Statement(#[from] tokio_postgres::Error),
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
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
