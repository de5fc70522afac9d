//! Behind a transaction-mode pooler that keeps no named statements (Debian's PgBouncer
//! 1.18; Neon's pooler before it kept them): with `DATABASE_PREPARED_STATEMENTS=on` every
//! connection finds its statements gone, falls back to unnamed ones (logged once) and no
//! request fails; with `off` nothing is ever prepared. The whole suite also runs through a
//! plain PgBouncer when `TEST_PGBOUNCER` is set (CI does).

use reqwest::{Method, StatusCode};

use crate::helpers::TestApp;
use crate::samples::{MANY_ACCOUNTS, every_route_succeeds};

/// A PgBouncer in front of the test server whose server connections forget every
/// prepared statement after each transaction.
fn forgetful_pgbouncer(app: &TestApp) -> dev_server::pgbouncer::PgBouncer {
    let (host, port) = dev_server::postgres::host_and_port(&app.database_url).expect("a TCP host");
    dev_server::pgbouncer::PgBouncer::start_forgetting_named_statements(&host, port, 4)
        .unwrap_or_else(|err| panic!("PgBouncer: {err:#}"))
}

/// An app whose connections go through a forgetful PgBouncer to a fresh test database,
/// with `DATABASE_PREPARED_STATEMENTS` set to `prepared`; the direct app and the pooler
/// must live as long as it.
async fn behind_forgetful_pgbouncer(
    prepared: &str,
) -> (TestApp, dev_server::pgbouncer::PgBouncer, TestApp) {
    let direct = TestApp::spawn().await;
    let bouncer = forgetful_pgbouncer(&direct);
    let url = bouncer.url_for(&direct.database_url).expect("URL");
    let mut settings = vec![
        ("DATABASE_URL", url.as_str()),
        ("DATABASE_PREPARED_STATEMENTS", prepared),
    ];
    settings.extend_from_slice(MANY_ACCOUNTS);
    let app = direct.attach(&settings).await;
    (direct, bouncer, app)
}

/// Every route of the table, each route's sample on an account of its own (building the
/// accounts takes some hundred requests more over the pool's four connections); each must
/// answer its success.
async fn drive_every_route(app: &TestApp) {
    every_route_succeeds(app, "pooled").await;
}

#[tokio::test]
#[ignore = "needs pgbouncer (apt-get install pgbouncer); CI runs it"]
async fn named_statements_a_pooler_forgets_fall_back_and_no_request_fails() {
    let (_direct, _bouncer, app) = behind_forgetful_pgbouncer("on").await;
    drive_every_route(&app).await;
    let fallbacks = app.state.db.fallbacks();
    assert!(
        (1..=4).contains(&fallbacks),
        "each connection falls back once: {fallbacks}"
    );
    assert_eq!(app.state.db.unplanned_statements(), 0);
}

#[tokio::test]
#[ignore = "needs pgbouncer (apt-get install pgbouncer); CI runs it"]
async fn with_prepared_statements_off_nothing_is_ever_named() {
    let (_direct, _bouncer, app) = behind_forgetful_pgbouncer("off").await;
    drive_every_route(&app).await;
    assert_eq!(app.state.db.fallbacks(), 0);
}

/// A local server in a process of its own, serving only `functions` with one connection,
/// as a Lambda instance of those functions would: its own statements prepared from its own
/// start. Killed when dropped.
struct ServerProcess {
    address: String,
    _child: tokio::process::Child,
}

impl ServerProcess {
    async fn start(database_url: &str, prepared: &str, functions: &[&str]) -> Self {
        use tokio::io::AsyncBufReadExt as _;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dev-server"))
            .args(functions)
            .env("DATABASE_URL", database_url)
            .env("DATABASE_PREPARED_STATEMENTS", prepared)
            .env("DATABASE_POOL_SIZE", "1")
            .env("BETTER_AUTH_SECRET", crate::helpers::SECRET)
            .env("PORT", "0")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the dev-server binary");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let address = loop {
            let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
                .await
                .expect("the server to start in time")
                .expect("its output")
                .expect("the server exited before it was ready");
            if let Some(address) = line.strip_prefix("API ready on ") {
                break address.to_owned();
            }
        };
        // The rest of its output, read so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            address,
            _child: child,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
    ) -> (StatusCode, serde_json::Value) {
        let response = reqwest::Client::new()
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.expect("JSON"))
    }
}

/// Two function processes behind Debian's PgBouncer (transaction mode, two server
/// connections, every other setting at its default): task-delete prepares its statements on
/// one server connection, which a transaction holds while task-get prepares its own on the
/// other; once the transaction ends, PgBouncer hands task-get's next request the first
/// connection (it reuses the most recently released one). The GET must read the task there
/// and never run another process's statement, whatever the two named theirs.
async fn a_get_lands_where_a_delete_was_prepared(prepared: &str) {
    let direct = TestApp::spawn().await;
    let ada = direct.signup("ada@example.com").await;
    let task = direct.create_task(&ada, "keep me", None).await;
    let (host, port) =
        dev_server::postgres::host_and_port(&direct.database_url).expect("a TCP host");
    let bouncer = dev_server::pgbouncer::PgBouncer::start(&host, port, 2)
        .unwrap_or_else(|err| panic!("PgBouncer: {err:#}"));
    let url = bouncer.url_for(&direct.database_url).expect("URL");

    let deleter = ServerProcess::start(&url, prepared, &["task-delete"]).await;
    let (status, _) = deleter
        .send(Method::DELETE, &ada.task_path(i64::MAX), &ada.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "task-delete is up");

    // A transaction holds the server connection task-delete prepared its statements on.
    let (holder, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("a client of PgBouncer");
    tokio::spawn(connection);
    holder.batch_execute("BEGIN").await.expect("BEGIN");
    holder.batch_execute("SELECT 1").await.expect("SELECT");

    let getter = ServerProcess::start(&url, prepared, &["task-get"]).await;
    let (status, body) = getter
        .send(Method::GET, &ada.task_path(&task["id"]), &ada.token)
        .await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &task),
        "on the other connection"
    );

    holder.batch_execute("COMMIT").await.expect("COMMIT");
    for attempt in 0..3 {
        let (status, body) = getter
            .send(Method::GET, &ada.task_path(&task["id"]), &ada.token)
            .await;
        assert_eq!((status, &body), (StatusCode::OK, &task), "GET {attempt}");
        assert_eq!(
            direct.count("tasks").await,
            1,
            "GET {attempt} ran another statement: the task is gone"
        );
    }
}

#[tokio::test]
#[ignore = "needs pgbouncer (apt-get install pgbouncer); CI runs it"]
async fn a_function_never_runs_another_functions_statement_behind_an_old_pgbouncer() {
    a_get_lands_where_a_delete_was_prepared("on").await;
}

#[tokio::test]
#[ignore = "needs pgbouncer (apt-get install pgbouncer); CI runs it"]
async fn with_prepared_statements_off_a_function_runs_only_its_own_statements() {
    a_get_lands_where_a_delete_was_prepared("off").await;
}
