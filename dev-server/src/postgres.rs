//! A private PostgreSQL cluster from the installed server binaries: found through
//! `pg_config --bindir`, `PATH`, or `/usr/lib/postgresql/*/bin`. As root, the server runs
//! as the `postgres` user, because initdb and postgres refuse to run as root.

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, chown};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use anyhow::{Context as _, bail};

pub struct Cluster {
    bindir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    pub port: u16,
    run_as: Option<(u32, u32)>,
}

impl Cluster {
    /// Prepares (initdb on first use) a cluster whose data lives in `dir`, on a free port.
    pub fn init(dir: &Path) -> anyhow::Result<Self> {
        Self::init_from(dir, find_bindir()?)
    }

    /// As [`Cluster::init`], with the server programs of `bindir` (another major version).
    pub fn init_from(dir: &Path, bindir: PathBuf) -> anyhow::Result<Self> {
        let run_as = server_user_if_root()?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let data_dir = dir.join("data");
        let socket_dir = dir.to_path_buf();
        if let Some((uid, gid)) = run_as {
            chown(dir, Some(uid), Some(gid))?;
        }
        let cluster = Self {
            bindir,
            data_dir,
            socket_dir,
            port: free_port()?,
            run_as,
        };
        if !cluster.data_dir.join("PG_VERSION").exists() {
            let status = cluster
                .command("initdb")
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "-D",
                ])
                .arg(&cluster.data_dir)
                .stdout(Stdio::null())
                .status()
                .context("running initdb")?;
            if !status.success() {
                bail!("initdb failed for {}", cluster.data_dir.display());
            }
        }
        Ok(cluster)
    }

    /// One of the server's programs, run as the server's user.
    fn command(&self, program: &str) -> Command {
        self.as_server_user(Command::new(self.bindir.join(program)))
    }

    fn as_server_user(&self, mut command: Command) -> Command {
        run_as(&mut command, self.run_as);
        command
    }

    /// Writes a file the server must own (TLS key and certificate).
    pub fn write_owned(&self, name: &str, contents: &str) -> anyhow::Result<PathBuf> {
        let path = self.socket_dir.join(name);
        std::fs::write(&path, contents)?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        if let Some((uid, gid)) = self.run_as {
            chown(&path, Some(uid), Some(gid))?;
        }
        Ok(path)
    }

    /// TLS for this cluster: a fresh CA, and a certificate for `localhost` it signed, so
    /// clients verify the chain and the host name against `ca_file`. Start the cluster with
    /// `settings`.
    pub fn tls(&self) -> anyhow::Result<ClusterTls> {
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key)?;
        let server_key = rcgen::KeyPair::generate()?;
        let server = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(
            &server_key,
            &ca,
            &ca_key,
        )?;
        let cert_file = self.write_owned("server.crt", &server.pem())?;
        let key_file = self.write_owned("server.key", &server_key.serialize_pem())?;
        Ok(ClusterTls {
            ca_file: self.write_owned("ca.crt", &ca.pem())?,
            settings: vec![
                "ssl=on".to_owned(),
                format!("ssl_cert_file={}", cert_file.display()),
                format!("ssl_key_file={}", key_file.display()),
            ],
        })
    }

    /// The setting that makes every TCP connection authenticate with SCRAM-SHA-256, as a
    /// hosted server does; the Unix socket stays trusted, for [`Cluster::set_password`].
    pub fn scram_over_tcp(&self) -> anyhow::Result<String> {
        let hba = self.write_owned(
            "pg_hba.conf",
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n",
        )?;
        Ok(format!("hba_file={}", hba.display()))
    }

    /// Sets `postgres`'s password, over the Unix socket.
    pub async fn set_password(&self, password: &str) -> anyhow::Result<()> {
        let (client, connection) = tokio_postgres::Config::new()
            .host_path(&self.socket_dir)
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .context("connecting over the Unix socket")?;
        tokio::spawn(connection);
        // A literal, not a parameter: utility statements take none.
        let literal = password.replace('\'', "''");
        client
            .batch_execute(&format!("ALTER ROLE postgres PASSWORD '{literal}'"))
            .await
            .context("setting the password")?;
        Ok(())
    }

    /// Starts the server and waits until it accepts connections. A server left running by
    /// a killed earlier run is stopped first, so the port and settings are this run's.
    pub fn start(&self, extra_settings: &[String]) -> anyhow::Result<()> {
        let running = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("status")
            .stdout(Stdio::null())
            .status()?;
        if running.success() {
            self.stop()?;
        }
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.socket_dir.display()
        );
        for setting in extra_settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.socket_dir.join("server.log"))
            .args(["-o", &options, "-w", "start"])
            .stdout(Stdio::null())
            .status()
            .context("running pg_ctl start")?;
        if !status.success() {
            bail!(
                "PostgreSQL did not start; see {}",
                self.socket_dir.join("server.log").display()
            );
        }
        Ok(())
    }

    /// A clean shutdown: sessions are ended and everything is written out.
    pub fn stop(&self) -> anyhow::Result<()> {
        self.pg_ctl_stop("fast")
    }

    /// What a crash looks like: every server process quits at once, and the next start
    /// recovers from the write-ahead log.
    pub fn crash(&self) -> anyhow::Result<()> {
        self.pg_ctl_stop("immediate")
    }

    fn pg_ctl_stop(&self, mode: &str) -> anyhow::Result<()> {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", mode, "-w", "stop"])
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "pg_ctl stop -m {mode} failed");
        Ok(())
    }

    /// Stops the server (and removes `remove_dir`) when the returned pipe closes, which
    /// happens when this process exits however it exits: a throwaway cluster never outlives
    /// the tests that started it.
    pub fn stop_when_process_exits(
        &self,
        remove_dir: &Path,
    ) -> anyhow::Result<(Child, ChildStdin)> {
        let mut child = self
            .as_server_user(Command::new("sh"))
            .args(["-c", "trap '' INT TERM; read _; \"$0\" -D \"$1\" -m immediate stop >/dev/null; rm -rf \"$2\""])
            .arg(self.bindir.join("pg_ctl"))
            .arg(&self.data_dir)
            .arg(remove_dir)
            .stdin(Stdio::piped())
            .spawn()
            .context("starting the cluster's watchdog")?;
        let stdin = child.stdin.take().context("watchdog stdin")?;
        Ok((child, stdin))
    }

    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    pub fn tls_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/{database}?sslmode=verify-full",
            self.port
        )
    }
}

/// What [`Cluster::tls`] made.
pub struct ClusterTls {
    /// The CA that signed the server's certificate: a client's `DATABASE_CA_FILE`.
    pub ca_file: PathBuf,
    /// The server settings that turn TLS on with that certificate.
    pub settings: Vec<String>,
}

fn find_bindir() -> anyhow::Result<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_server(&dir) {
            return Ok(dir);
        }
    }
    if let Some(dir) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| has_server(dir))
    {
        return Ok(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|dir| has_server(dir))
        .collect();
    versions.sort_by_key(|dir| {
        dir.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    versions.pop().context(
        "no PostgreSQL server binaries found (looked at `pg_config --bindir`, PATH and /usr/lib/postgresql/*/bin); \
         install them (Debian: apt-get install postgresql) or set DATABASE_URL / TEST_DATABASE_URL",
    )
}

/// The uid and gid of the `postgres` user, which the server runs as when we are root.
pub fn postgres_user() -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .context("running as root needs a `postgres` user to run the server as (useradd postgres)")
}

/// Who runs PostgreSQL and PgBouncer: the `postgres` user when we are root (both refuse
/// root), else ourselves (`None`).
pub fn server_user_if_root() -> anyhow::Result<Option<(u32, u32)>> {
    if std::fs::metadata("/proc/self")?.uid() == 0 {
        postgres_user().map(Some)
    } else {
        Ok(None)
    }
}

/// Makes `command` run as `user` (uid, gid), when there is one.
pub fn run_as(command: &mut Command, user: Option<(u32, u32)>) {
    if let Some((uid, gid)) = user {
        std::os::unix::process::CommandExt::uid(command, uid);
        std::os::unix::process::CommandExt::gid(command, gid);
    }
}

/// The TCP host and port a postgres:// `url` connects to (port 5432 when it names none).
pub fn host_and_port(url: &str) -> anyhow::Result<(String, u16)> {
    let config: tokio_postgres::Config = url.parse().context("a postgres:// URL")?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => bail!("the database URL names no TCP host"),
    };
    Ok((host, config.get_ports().first().copied().unwrap_or(5432)))
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
