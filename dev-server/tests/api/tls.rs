//! TLS to PostgreSQL with certificate and host-name verification, through the same pool
//! code the functions use.

use std::time::Duration;

use shared::config::ConnectTarget;
use shared::config::DatabaseSettings;
use shared::db::Db;
use shared::db::statements::{Plan, Statement};

use crate::helpers::private_cluster;

fn settings(url: &str, ca_file: Option<std::path::PathBuf>) -> DatabaseSettings {
    DatabaseSettings {
        target: ConnectTarget::parse(&shared::secrecy::SecretString::from(url.to_owned()))
            .expect("url"),
        pool_size: 1,
        extra_ca_file: ca_file,
        connect_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(5),
        prepared_statements: true,
        schema: Default::default(),
    }
}

/// A pool on `settings` whose connections prepare nothing.
fn pool(settings: &DatabaseSettings) -> Db {
    Db::connect_lazy(settings, Plan::new()).expect("pool")
}

fn statement(sql: &str) -> Statement {
    Statement::new(sql, [])
}

#[tokio::test]
async fn verify_full_connects_over_tls_with_the_extra_ca() {
    let private = private_cluster();
    let db = pool(&settings(
        &private.cluster.tls_url("postgres"),
        Some(private.ca_file.clone()),
    ));
    let row = db
        .query_one(
            &statement("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
            &[],
        )
        .await
        .expect("TLS connection");
    assert!(row.get::<_, bool>(0), "the connection is encrypted");
}

#[tokio::test]
async fn an_unknown_certificate_is_refused() {
    let private = private_cluster();
    let db = pool(&settings(&private.cluster.tls_url("postgres"), None));
    let err = db
        .query(&statement("SELECT 1"), &[])
        .await
        .expect_err("self-signed chain without the CA must fail");
    assert!(format!("{:?}", err).contains("UnknownIssuer"), "{err:?}");
}

#[tokio::test]
async fn a_host_name_the_certificate_does_not_name_is_refused() {
    let private = private_cluster();
    let url = private
        .cluster
        .tls_url("postgres")
        .replace("localhost", "127.0.0.1");
    let db = pool(&settings(&url, Some(private.ca_file.clone())));
    let err = db
        .query(&statement("SELECT 1"), &[])
        .await
        .expect_err("certificate is for localhost only");
    assert!(
        format!("{:?}", err).contains("certificate not valid for name"),
        "{err:?}"
    );
}

/// `url` on `localhost` with its `sslmode` replaced (or left out).
fn on_localhost(url: &str, sslmode: Option<&str>) -> String {
    let base = url
        .replace("127.0.0.1", "localhost")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    match sslmode {
        Some(mode) => format!("{base}?sslmode={mode}"),
        None => base,
    }
}

async fn is_encrypted(db: &Db) -> bool {
    db.query_one(
        &statement("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
        &[],
    )
    .await
    .expect("connected")
    .get(0)
}

#[tokio::test]
async fn without_sslmode_tls_is_used_when_offered_and_the_certificate_not_checked() {
    let private = private_cluster();
    let url = private.cluster.url("postgres");
    for sslmode in [None, Some("prefer"), Some("allow")] {
        let db = pool(&settings(&on_localhost(&url, sslmode), None));
        assert!(
            is_encrypted(&db).await,
            "{sslmode:?}: encrypted, by an unknown CA"
        );
    }
    let db = pool(&settings(&on_localhost(&url, Some("disable")), None));
    assert!(!is_encrypted(&db).await, "disable means plaintext");
    let db = pool(&settings(&on_localhost(&url, Some("require")), None));
    let err = db
        .query(&statement("SELECT 1"), &[])
        .await
        .expect_err("require verifies");
    assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");
}

/// The local server binary, with only `vars` in its environment (and PATH, to find the
/// PostgreSQL tools it never needs here).
fn local_server(vars: &[(&str, &str)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dev-server"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_BACKTRACE", "1")
        .envs(vars.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn the_local_server_comes_up_against_a_tls_offering_server_with_no_sslmode() {
    use tokio::io::AsyncBufReadExt as _;
    let private = private_cluster();
    let database = crate::helpers::fresh_database_on(&private.cluster.url("postgres")).await;
    let url = on_localhost(&database, None);
    let mut server = local_server(&[
        ("DATABASE_URL", &url),
        ("BETTER_AUTH_SECRET", crate::helpers::SECRET),
        ("PORT", "0"),
    ])
    .spawn()
    .expect("local server");
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if let Some(address) = line.strip_prefix("API ready on ") {
                return address.to_owned();
            }
        }
        panic!("the local server exited before it was ready");
    })
    .await
    .expect("ready within a minute");
    let health = reqwest::get(format!("{address}/api/health"))
        .await
        .expect("health");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    server.kill().await.expect("stop");
}

/// What the local server prints when it cannot start: status 1 and one line on stderr.
async fn failed_start(vars: &[(&str, &str)]) -> String {
    let output = tokio::time::timeout(Duration::from_secs(60), local_server(vars).output())
        .await
        .expect("exits within a minute")
        .expect("ran");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("Caused by"),
        "{stderr}"
    );
    stderr.trim_end().to_owned()
}

#[tokio::test]
async fn start_up_failures_are_one_line_naming_the_variable_and_the_fix() {
    let private = private_cluster();
    let url = private.cluster.url("postgres");
    let weak = "a".repeat(40);
    assert_eq!(
        failed_start(&[("DATABASE_URL", &url), ("BETTER_AUTH_SECRET", &weak)]).await,
        "error: BETTER_AUTH_SECRET is invalid: has only 1 distinct characters (at least 16 \
         needed); generate one with `openssl rand -base64 32`"
    );
    let line = failed_start(&[
        ("DATABASE_URL", &on_localhost(&url, Some("require"))),
        ("BETTER_AUTH_SECRET", crate::helpers::SECRET),
    ])
    .await;
    assert!(
        line.starts_with("error: DATABASE_URL: cannot connect (")
            && line.contains("UnknownIssuer")
            && line.ends_with(
                "the server's certificate is not trusted: give its CA in DATABASE_CA_FILE, or \
                 use sslmode=prefer for a local server you trust (Neon's certificates are \
                 trusted as is)"
            ),
        "{line}"
    );
    let line = failed_start(&[
        ("DATABASE_URL", &url),
        ("BETTER_AUTH_SECRET", crate::helpers::SECRET),
        ("JWT_EXPIRES_IN", "7776001"),
    ])
    .await;
    assert_eq!(
        line,
        "error: JWT_EXPIRES_IN is invalid: `7776001` is out of range: use 1 to 7776000"
    );
}
