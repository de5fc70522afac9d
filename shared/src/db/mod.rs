//! The database: connection target parsing (sslmode included), TLS through rustls, the
//! pool, the client-side statement timeout, and one module of queries per table.

pub mod credentials;
pub mod maintenance;
pub mod migrations;
pub mod sessions;
pub mod tasks;
pub mod throttle;
pub mod users;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::Row;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::DatabaseSettings;

/// A parsed `DATABASE_URL`. TLS, when used, always verifies the certificate chain and the
/// host name: `require`, `verify-ca` and `verify-full` are all held to `verify-full`.
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
    /// libpq `sslmode` spelling. tokio-postgres knows only disable/prefer/require, so the
    /// verify-* spellings are rewritten to `require` before parsing (verification is
    /// always on anyway). The error never repeats the URL: it may hold a password.
    pub fn parse(url: &SecretString) -> Result<Self, String> {
        let url = url.expose_secret().trim();
        let rewritten = rewrite_sslmode(url)?;
        let config: tokio_postgres::Config = rewritten
            .parse()
            .map_err(|err: tokio_postgres::Error| format!("not a PostgreSQL URL ({err})"))?;
        if config.get_hosts().is_empty() {
            return Err("no host given".into());
        }
        Ok(Self { config })
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.config.get_ssl_mode()
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

/// The TLS connector: webpki's roots (what Neon's certificates chain to) plus an optional
/// PEM file of extra roots. ring is the provider, so no C crypto library is built.
fn tls_connector(extra_ca_file: Option<&Path>) -> anyhow::Result<MakeRustlsConnect> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .with_context(|| format!("DATABASE_CA_FILE {}: cannot read", path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| {
                format!("DATABASE_CA_FILE {}: not PEM certificates", path.display())
            })?;
        anyhow::ensure!(
            !certs.is_empty(),
            "DATABASE_CA_FILE {}: holds no certificate",
            path.display()
        );
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("DATABASE_CA_FILE {}: bad certificate", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The pool plus the per-statement deadline. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    statement_timeout: Duration,
    /// Statements sent, each one round trip: lets tests and benchmarks count them.
    round_trips: Arc<AtomicU64>,
}

impl Db {
    /// Builds the pool; no connection is opened until the first `client()`.
    pub fn connect_lazy(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let mut config = settings.target.config.clone();
        config
            .connect_timeout(settings.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .application_name("todo-api");
        let tls = tls_connector(settings.extra_ca_file.as_deref())?;
        // Fast recycling costs no round trip; a connection the server closed reports
        // itself closed and is replaced.
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
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
        })
    }

    /// Opens the first connection now, so a cold start pays for it before the first
    /// request rather than during it.
    pub async fn warm_up(&self) -> anyhow::Result<()> {
        self.client().await.map(drop)
    }

    pub async fn client(&self) -> anyhow::Result<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .context("getting a database connection")
    }

    /// Runs one statement in one round trip: the parameter types are given, so no separate
    /// prepare step is needed (this also works behind a transaction-mode pooler).
    pub async fn query(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, DbError> {
        let client = self.client().await.map_err(DbError::Unavailable)?;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(self.statement_timeout, client.query_typed(sql, params)).await {
            Ok(result) => result.map_err(DbError::from),
            Err(_) => {
                // The connection may still be waiting on the lost answer: never reuse it.
                let _ = deadpool_postgres::Object::take(client);
                Err(DbError::Unavailable(anyhow::anyhow!(
                    "statement took longer than {:?}",
                    self.statement_timeout
                )))
            }
        }
    }

    pub async fn query_one(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Row, DbError> {
        self.query_opt(sql, params)
            .await?
            .ok_or_else(|| DbError::Unavailable(anyhow::anyhow!("statement returned no row")))
    }

    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// How many statements this pool has sent so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
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
