//! A private PgBouncer (Debian's `pgbouncer`) in transaction mode in front of a PostgreSQL
//! server: what Neon's `-pooler` host is. Started by the tests and benchmarks, stopped when
//! this process exits however it exits. PgBouncer refuses to run as root: as root it runs
//! as the `postgres` user.

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

pub struct PgBouncer {
    pub port: u16,
    /// The server behind it.
    upstream: (String, u16),
    dir: PathBuf,
    _watchdog: (Child, ChildStdin),
}

impl PgBouncer {
    /// Starts PgBouncer on a free port in front of `upstream_host:upstream_port`, every
    /// database passed through, `server_connections` server connections per database and
    /// user, trust authentication for `postgres`.
    pub fn start(
        upstream_host: &str,
        upstream_port: u16,
        server_connections: u32,
    ) -> anyhow::Result<Self> {
        Self::start_with(upstream_host, upstream_port, server_connections, "")
    }

    /// As [`PgBouncer::start`], with every server connection forgetting its prepared
    /// statements after each transaction (`DEALLOCATE ALL`): what a transaction-mode
    /// pooler that keeps no named statements looks like to a client, every time rather
    /// than whenever a client happens to land on another server connection.
    pub fn start_forgetting_named_statements(
        upstream_host: &str,
        upstream_port: u16,
        server_connections: u32,
    ) -> anyhow::Result<Self> {
        Self::start_with(
            upstream_host,
            upstream_port,
            server_connections,
            "server_reset_query = DEALLOCATE ALL\nserver_reset_query_always = 1\n",
        )
    }

    fn start_with(
        upstream_host: &str,
        upstream_port: u16,
        server_connections: u32,
        more_settings: &str,
    ) -> anyhow::Result<Self> {
        let program = which("pgbouncer")
            .context("pgbouncer is not installed (Debian: apt-get install pgbouncer)")?;
        let port = crate::postgres::free_port()?;
        let dir =
            std::env::temp_dir().join(format!("todo-api-pgbouncer-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let run_as = crate::postgres::server_user_if_root()?;
        let users = dir.join("users.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n")?;
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n\
                 * = host={upstream_host} port={upstream_port}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {users}\n\
                 pool_mode = transaction\n\
                 default_pool_size = {server_connections}\n\
                 max_client_conn = 2000\n\
                 logfile = {log}\n\
                 pidfile = {pid}\n\
                 {more_settings}",
                users = users.display(),
                log = dir.join("pgbouncer.log").display(),
                pid = dir.join("pgbouncer.pid").display(),
            ),
        )?;
        if let Some((uid, gid)) = run_as {
            for path in [&dir, &users, &ini] {
                chown(path, Some(uid), Some(gid))?;
            }
        }
        // PgBouncer in the foreground under a shell that kills it when our end of the pipe
        // closes, which happens when this process exits however it exits.
        let mut command = Command::new("sh");
        command
            .args([
                "-c",
                "\"$0\" \"$1\" & pid=$!; trap '' INT TERM; read _; kill $pid; rm -rf \"$2\"",
            ])
            .arg(&program)
            .arg(&ini)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        crate::postgres::run_as(&mut command, run_as);
        let mut child = command.spawn().context("starting pgbouncer")?;
        let stdin = child.stdin.take().context("pgbouncer watchdog stdin")?;
        let bouncer = Self {
            port,
            upstream: (upstream_host.to_owned(), upstream_port),
            dir,
            _watchdog: (child, stdin),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(bouncer);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "pgbouncer did not listen on {port}; see {}",
            bouncer.dir.join("pgbouncer.log").display()
        )
    }

    /// Whether `url` names the server behind this PgBouncer.
    pub fn fronts(&self, url: &str) -> bool {
        crate::postgres::host_and_port(url).is_ok_and(|server| server == self.upstream)
    }

    /// `url` (a plaintext postgres:// URL to the upstream server) pointed at PgBouncer.
    pub fn url_for(&self, url: &str) -> anyhow::Result<String> {
        let config: tokio_postgres::Config = url.parse().context("a postgres:// URL")?;
        let database = config.get_dbname().context("the URL names no database")?;
        let user = config.get_user().unwrap_or("postgres");
        Ok(format!(
            "postgres://{user}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        ))
    }
}

/// The installed PgBouncer's version (`1.18.0`), found as [`PgBouncer::start`] finds it.
pub fn version() -> Option<String> {
    let output = Command::new(which("pgbouncer")?)
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    text.lines()
        .next()
        .map(|line| line.replace("PgBouncer ", ""))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|path| Path::new(path).is_file())
}
