//! Shared plumbing of the benchmark binaries: a private PostgreSQL with a migrated
//! database, the application state on it, the command line, and percentiles. Requests and
//! seeded users come from `dev_server::fixtures`, as in the tests.

pub mod proxy;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// A tool's command line: `--name value` flags (a flag may repeat) and bare switches, each
/// one the tool names (a switch's value is empty); `-h` or `--help` prints `usage`.
pub struct Flags(Vec<(String, String)>);

impl Flags {
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        usage: &str,
        valued: &[&str],
        switches: &[&str],
    ) -> anyhow::Result<Self> {
        let (mut args, mut flags) = (args.into_iter(), Vec::new());
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                println!("{usage}");
                std::process::exit(0);
            }
            let value = match valued.contains(&flag.as_str()) {
                true => args.next().context("a flag without its value")?,
                false if switches.contains(&flag.as_str()) => String::new(),
                false => bail!("unknown argument `{flag}`\n\n{usage}"),
            };
            flags.push((flag, value));
        }
        Ok(Self(flags))
    }

    pub fn switch(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }

    /// Every value given to `name`, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        let given = self.0.iter().filter(move |(flag, _)| flag == name);
        given.map(|(_, value)| value.as_str())
    }

    /// The last value given to `name`, parsed.
    pub fn value<T: FromStr>(&self, name: &str) -> anyhow::Result<Option<T>> {
        let Some(value) = self.values(name).last() else {
            return Ok(None);
        };
        let parsed = value.parse().ok().map(Some);
        parsed.with_context(|| format!("{name}: `{value}` is not valid"))
    }
}

/// p50 and p99 of a set of samples, and its extremes.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub min: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        let [min, p50, p99, max] = [0.0, 0.5, 0.99, 1.0].map(at);
        Self { min, p50, p99, max }
    }
}

/// Microseconds with one decimal, for tables.
pub fn micros(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e6)
}

/// Milliseconds with `decimals` decimals, for tables.
pub fn millis(duration: Duration, decimals: usize) -> String {
    format!("{:.decimals$}", duration.as_secs_f64() * 1e3)
}

/// The status and JSON body of a handler's response.
pub fn answer(
    response: Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let response = response.map_err(|err| anyhow::anyhow!("handler failed: {err}"))?;
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text)?,
        lambda_http::Body::Binary(bytes) => serde_json::from_slice(bytes)?,
        _ => serde_json::Value::Null,
    };
    Ok((status, body))
}

/// `SHOW server_version` of the server behind `url`.
pub async fn server_version(url: &str) -> anyhow::Result<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let version = client.query_one("SHOW server_version", &[]).await?;
    Ok(version.try_get(0)?)
}

/// The signing secret of every benchmark run (never a deployment's).
pub const SECRET: &str = "bench-secret-0123456789-ABCDEFGHIJ-klmnop";

/// A fresh, migrated database: on `BENCH_DATABASE_URL`'s server if set, else on a private
/// cluster under `target/bench-db/<pid>-<n>` (so benchmarks may run side by side) that is
/// stopped and removed when this is dropped.
pub struct BenchDb {
    pub url: String,
    cluster: Option<(dev_server::postgres::Cluster, PathBuf)>,
}

impl BenchDb {
    pub async fn start() -> anyhow::Result<Self> {
        let (admin, cluster) = match std::env::var("BENCH_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => (url, None),
            _ => {
                let dir = private_cluster_dir();
                let cluster = dev_server::postgres::Cluster::init(&dir)?;
                cluster.start(&[])?;
                (cluster.url("postgres"), Some((cluster, dir)))
            }
        };
        let url = dev_server::fixtures::fresh_database(&admin, "bench").await?;
        Ok(Self { url, cluster })
    }

    /// A fresh, migrated database on a private cluster that a client meets as it meets a
    /// hosted server: TLS with a certificate for `localhost`, and SCRAM-SHA-256 password
    /// authentication over TCP. The server is `bindir`'s when given (another major
    /// version), else the installed one. `url` is for the benchmark's own plaintext use.
    pub async fn start_secured(bindir: Option<PathBuf>) -> anyhow::Result<(Self, SecuredServer)> {
        use dev_server::postgres::Cluster;
        let dir = private_cluster_dir();
        let cluster = match bindir {
            Some(bindir) => Cluster::init_from(&dir, bindir)?,
            None => Cluster::init(&dir)?,
        };
        let tls = cluster.tls()?;
        let mut settings = tls.settings;
        settings.push(cluster.scram_over_tcp()?);
        cluster.start(&settings)?;
        let password = uuid::Uuid::new_v4().simple().to_string();
        let port = cluster.port;
        // Owned by a BenchDb from here, so a failure below still stops the cluster.
        let mut db = Self {
            url: String::new(),
            cluster: Some((cluster, dir)),
        };
        if let Some((cluster, _)) = &db.cluster {
            cluster.set_password(&password).await?;
        }
        let admin =
            format!("postgres://postgres:{password}@127.0.0.1:{port}/postgres?sslmode=disable");
        db.url = dev_server::fixtures::fresh_database(&admin, "bench").await?;
        let ca_file = tls.ca_file;
        Ok((db, SecuredServer { ca_file, password }))
    }

    /// The state the local server builds (every function's statements prepared), on this
    /// database, its mail to `mail`.
    pub fn state(
        &self,
        mail: &BenchMail,
        overrides: &[(&str, &str)],
    ) -> anyhow::Result<shared::state::MailState> {
        Ok(shared::state::MailState {
            app: self.app_state(overrides, dev_server::plan)?,
            mailbox: mail.mailbox()?,
        })
    }

    /// The state `function` builds at its cold start (its own statements prepared), on
    /// this database, its mail to `mail`.
    pub fn state_of(
        &self,
        function: &str,
        mail: &BenchMail,
        overrides: &[(&str, &str)],
    ) -> anyhow::Result<shared::state::MailState> {
        let declared = dev_server::declared(function)
            .ok_or_else(|| anyhow::anyhow!("no function {function}"))?;
        Ok(shared::state::MailState {
            app: self.app_state(overrides, |kinds| declared.access.plan(kinds))?,
            mailbox: mail.mailbox()?,
        })
    }

    fn app_state(
        &self,
        overrides: &[(&str, &str)],
        plan: impl FnOnce(&[shared::db::credentials::CredentialKind]) -> shared::db::statements::Plan,
    ) -> anyhow::Result<shared::AppState> {
        let lookup = |name: &str| {
            let given = overrides.iter().find(|(key, _)| *key == name);
            given.map(|(_, value)| value.to_string()).or(match name {
                "DATABASE_URL" => Some(self.url.clone()),
                "BETTER_AUTH_SECRET" => Some(SECRET.to_owned()),
                _ => None,
            })
        };
        shared::AppState::new(shared::config::Config::from_lookup(lookup)?, plan)
    }
}

/// The frontend the benchmarks' reset mail links to.
pub const APP_URL: &str = "http://localhost:3000";

/// Where forgot-password's mail goes in a benchmark: the local server's mailbox (a file per
/// mail) in a folder of its own, removed when this is dropped.
pub struct BenchMail {
    pub mailer: std::sync::Arc<dev_server::mailbox::DevMailbox>,
    dir: PathBuf,
}

impl BenchMail {
    pub fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "todo-api-bench-mail-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let mailer = std::sync::Arc::new(dev_server::mailbox::DevMailbox::new(&dir)?);
        Ok(Self { mailer, dir })
    }

    /// A state's mailbox on this folder: links to [`APP_URL`], the default token lifetime.
    pub fn mailbox(&self) -> anyhow::Result<shared::mail::Mailbox> {
        let settings = shared::config::MailSettings::from_lookup(&|name: &str| match name {
            "EMAIL_FROM" => Some("no-reply@bench.example.com".to_owned()),
            "APP_URL" => Some(APP_URL.to_owned()),
            _ => None,
        })?;
        let mailer = self.mailer.clone();
        Ok(shared::mail::Mailbox { settings, mailer })
    }
}

impl Drop for BenchMail {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The workspace's target directory: `target/` beside this crate.
pub fn target_dir() -> PathBuf {
    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).join("target")
}

/// A directory of its own for each private cluster, so a benchmark may start several
/// (starting a cluster in a directory stops whatever server ran there).
fn private_cluster_dir() -> PathBuf {
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = format!("bench-db/{}-{n}", std::process::id());
    target_dir().join(dir)
}

/// How a client reaches a [`BenchDb::start_secured`] server.
pub struct SecuredServer {
    /// The CA to verify the server's certificate with (`DATABASE_CA_FILE`).
    pub ca_file: PathBuf,
    pub password: String,
}

impl SecuredServer {
    /// The URL of `database` at `address` (the server, or a proxy in front of it) as a
    /// function would be given it for a hosted server: host name `localhost` verified
    /// against the certificate, connected at `address`, password authentication, TLS
    /// negotiated the classic way or, with `direct`, PostgreSQL 17's direct way.
    pub fn url(&self, address: std::net::SocketAddr, database: &str, direct: bool) -> String {
        format!(
            "postgres://postgres:{}@localhost:{}/{database}?sslmode=verify-full&hostaddr={}{}",
            self.password,
            address.port(),
            address.ip(),
            if direct { "&sslnegotiation=direct" } else { "" },
        )
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let Some((cluster, dir)) = &self.cluster {
            let _ = cluster.stop();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
