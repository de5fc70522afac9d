//! `cargo run -p dev-server`: the whole API on http://127.0.0.1:8000 (`PORT` overrides);
//! `cargo run -p dev-server -- task-get task-delete` serves those functions' routes alone,
//! preparing only their statements, as a deployment of only them would.
//! With `DATABASE_URL` it uses that database; without, a private PostgreSQL kept under
//! `target/dev-db` (stopped on Ctrl-C). Without `BETTER_AUTH_SECRET`, a throwaway one.
//! Password-reset mail is written to `target/dev-mail/` and the log instead of being sent.

use shared::config::vars;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use dev_server::mailbox::DevMailbox;
use dev_server::postgres::Cluster;
use shared::AppState;
use shared::config::{Config, MailSettings};
use shared::db::Db;
use shared::db::statements::Plan;
use shared::mail::Mailbox;
use shared::routes::ROUTES;
use shared::state::MailState;

#[tokio::main]
async fn main() {
    shared::telemetry::init();
    // One line naming what to fix, no backtrace, exit status 1.
    if let Err(err) = start().await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn start() -> anyhow::Result<()> {
    let missing = dev_server::missing_handlers();
    anyhow::ensure!(
        missing.is_empty(),
        "route table functions without a local handler: {missing:?}"
    );
    let functions = functions_to_serve()?;

    let mut defaults: HashMap<&str, String> = HashMap::new();
    let mut cluster = None;
    if std::env::var(vars::DATABASE_URL).map_or(true, |url| url.trim().is_empty()) {
        let dir = workspace_target().join("dev-db");
        let private = Cluster::init(&dir)?;
        private.start(&[])?;
        ensure_database(&private.url("postgres"), "todo").await?;
        println!(
            "PostgreSQL: private cluster in {} on port {}",
            dir.display(),
            private.port
        );
        defaults.insert(vars::DATABASE_URL, private.url("todo"));
        cluster = Some(private);
    }
    if std::env::var(vars::BETTER_AUTH_SECRET).map_or(true, |s| s.trim().is_empty()) {
        // 48 characters of a 64-letter alphabet: 288 random bits, and the variety the
        // secret check asks for.
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bytes = [0u8; 48];
        getrandom::fill(&mut bytes).map_err(|err| anyhow::anyhow!("random secret: {err}"))?;
        defaults.insert(
            vars::BETTER_AUTH_SECRET,
            bytes
                .iter()
                .map(|byte| char::from(ALPHABET[usize::from(byte % 64)]))
                .collect(),
        );
        eprintln!(
            "\n  WARNING: BETTER_AUTH_SECRET is not set: using a random development secret.\n  \
             Tokens issued now stop working when the server restarts. Never do this in production.\n"
        );
    }
    defaults.insert(vars::DATABASE_POOL_SIZE, "8".into());
    defaults.insert(vars::EMAIL_FROM, "no-reply@localhost.localdomain".into());
    defaults.insert(vars::APP_URL, "http://localhost:3000".into());

    let result = run(&defaults, functions).await;
    if let Some(cluster) = cluster {
        cluster.stop()?;
        println!("PostgreSQL stopped");
    }
    result
}

/// The workspace's `target` folder, written without `..`, for the paths the server prints.
fn workspace_target() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().unwrap_or(crate_dir).join("target")
}

/// The functions named on the command line (crate names), or every function.
fn functions_to_serve() -> anyhow::Result<Arc<[&'static str]>> {
    let all = dev_server::function_names();
    let named: Vec<String> = std::env::args().skip(1).collect();
    if named.is_empty() {
        return Ok(all.into());
    }
    named
        .iter()
        .map(|name| {
            all.iter()
                .copied()
                .find(|function| function == name)
                .with_context(|| {
                    format!("no function `{name}`; the functions are {}", all.join(", "))
                })
        })
        .collect()
}

async fn run(
    defaults: &HashMap<&str, String>,
    functions: Arc<[&'static str]>,
) -> anyhow::Result<()> {
    // The environment, with the local defaults for what it leaves unset or blank.
    let lookup = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| defaults.get(name).cloned())
    };
    let config = Config::from_lookup(lookup)?;
    let config = dev_server::for_plain_http_localhost(config);
    let mail_dir = workspace_target().join("dev-mail");
    let state = MailState {
        app: AppState::new(config, |kinds| dev_server::plan_for(&functions, kinds))?,
        mailbox: Mailbox {
            settings: MailSettings::from_lookup(&lookup)?,
            mailer: Arc::new(DevMailbox::new(&mail_dir)?),
        },
    };
    println!(
        "Mail (reset and verification links): not sent, written to {}",
        mail_dir.display()
    );
    let state = Arc::new(state);
    // Migrations first, on a connection of their own: the serving pool's connections
    // prepare statements on the tables the migrations create.
    let migrations = Db::connect_lazy(&state.config.http.database, Plan::new())?;
    if let Err(err) = migrations.warm_up().await {
        anyhow::bail!("{}", shared::db::tls::explain_connect_error(&err));
    }
    let applied = shared::db::migrations::run_with(&migrations)
        .await
        .context("applying migrations")?;
    drop(migrations);
    if !applied.is_empty() {
        println!("migrations applied: {applied:?}");
    }
    state.db.warm_up().await?;

    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()
        .context("PORT")?
        .unwrap_or(8000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding port {port}"))?;
    println!("API ready on http://{}", listener.local_addr()?);
    let app_url = &state.mailbox.settings.app_url;
    println!(
        "Example app: {app_url} (APP_URL: where mailed links point; allow it in ALLOWED_ORIGINS)"
    );
    for route in ROUTES.iter().filter(|r| functions.contains(&r.function)) {
        println!(
            "  {:<7} {:<38} -> {}",
            route.method, route.path, route.function
        );
    }
    tokio::spawn(purge_expired_rows(state.clone()));
    tokio::select! {
        result = dev_server::serve_only(listener, state, functions) => result,
        _ = shutdown_signal() => Ok(()),
    }
}

/// What the deployed `cleanup` function does on its schedule.
async fn purge_expired_rows(state: Arc<MailState>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        if let Err(err) = shared::db::maintenance::purge_expired(&state.db).await {
            tracing::warn!(error = ?err, "purging expired rows failed");
        }
    }
}

/// Ctrl-C, or the SIGTERM of a process manager.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match terminate.as_mut() { Some(signal) => { signal.recv().await; } None => std::future::pending().await } } => {}
    }
}

async fn ensure_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await?;
    }
    Ok(())
}
