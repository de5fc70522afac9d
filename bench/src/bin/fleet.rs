//! A fleet of function instances under load, as a traffic spike starts them in Lambda:
//! `--instances` processes (32), each serving tasks-list and task-create as the local server
//! does, on one database connection (`DATABASE_POOL_SIZE=1`), one request at a time; one
//! client per instance alternates GET and POST /api/{user_id}/tasks for `--seconds` (10).
//! Twice: (a) through PgBouncer in transaction mode with 8 server connections (Neon's
//! pooler), where nothing may fail, and (b) straight to a PostgreSQL started with
//! `max_connections=20`, where an instance that finds no connection must answer the
//! generic 503. In both, every instance must answer again once the load stops.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use bench::{Flags, Percentiles, SECRET, millis};
use dev_server::fixtures::SeededUser;
use serde_json::json;
use tokio::io::AsyncBufReadExt as _;

/// Server connections PgBouncer keeps per database.
const POOLER_CONNECTIONS: u32 = 8;
/// The direct server's connection limit.
const MAX_CONNECTIONS: u32 = 20;
/// How long the direct server keeps an idle session: what lets the instances that found no
/// connection during the spike get one afterwards.
const IDLE_SESSION_TIMEOUT_MS: u64 = 1000;

/// One instance, from the environment the parent gives it. Prints its address.
async fn instance() -> anyhow::Result<()> {
    let functions = [tasks_list::FUNCTION.name, task_create::FUNCTION.name];
    let config = shared::secrets::load_config(|name| std::env::var(name).ok()).await?;
    let plan = |kinds: &[_]| dev_server::plan_for(&functions, kinds);
    let (mail, app) = (
        bench::BenchMail::new()?,
        shared::AppState::new(config, plan)?,
    );
    let state = shared::state::MailState {
        app,
        mailbox: mail.mailbox()?,
    };
    // The instance's cold start: its connection, if it can get one.
    state.db.warm_up_logged().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("READY http://{}", listener.local_addr()?);
    dev_server::serve_only(listener, Arc::new(state), functions.into()).await
}

/// `count` instances on `database_url`: their addresses, and the processes (killed when
/// dropped).
async fn start(
    count: usize,
    url: &str,
    prepared: &str,
) -> anyhow::Result<Vec<(String, tokio::process::Child)>> {
    let mut instances = Vec::new();
    for _ in 0..count {
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .arg("--instance")
            .env("DATABASE_URL", url)
            .env("BETTER_AUTH_SECRET", SECRET)
            .env("DATABASE_POOL_SIZE", "1")
            .env("DATABASE_PREPARED_STATEMENTS", prepared)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        instances.push((tokio::io::BufReader::new(stdout).lines(), child));
    }
    let mut started = Vec::new();
    for (mut lines, child) in instances {
        let line = lines.next_line().await?.context("an instance exited")?;
        let address = line.strip_prefix("READY ").context("no READY")?.to_owned();
        started.push((address, child));
    }
    Ok(started)
}

/// What one mode measured: requests, the successes' latencies, answers that were the
/// generic 503 and anything else (another status or body, no answer), the slowest answer
/// that was no success, and how many instances answered 200 once more after the load.
#[derive(Default)]
struct Run {
    requests: u64,
    ok: Vec<Duration>,
    unavailable: u64,
    other: u64,
    slowest_failure: Duration,
    elapsed: Duration,
    answered_after: usize,
}

/// Each instance's client sends one request at a time for `seconds`, alternating a list of
/// `reader`'s 20 tasks and a new task for `writer`.
async fn load(
    instances: &[(String, tokio::process::Child)],
    (reader, writer): (&SeededUser, &SeededUser),
    seconds: u64,
) -> anyhow::Result<Run> {
    let client = reqwest::Client::new();
    let (run, started) = (Arc::new(Mutex::new(Run::default())), Instant::now());
    let mut clients = tokio::task::JoinSet::new();
    for (n, (base, _)) in instances.iter().enumerate() {
        let (client, run) = (client.clone(), run.clone());
        let list = client
            .get(format!("{base}/api/{}/tasks", reader.user_id))
            .bearer_auth(&reader.token);
        let create = client
            .post(format!("{base}/api/{}/tasks", writer.user_id))
            .bearer_auth(&writer.token);
        let create = create.json(&json!({ "title": "from the fleet" }));
        let generic = json!({ "error": shared::error::GENERIC_5XX }).to_string();
        clients.spawn(async move {
            for write in (n % 2..).map(|i| i % 2 == 1) {
                if started.elapsed() >= Duration::from_secs(seconds) {
                    break;
                }
                let request = if write { &create } else { &list };
                let (sent, request) = (Instant::now(), request.try_clone().context("a body")?);
                let (status, body) = match request.send().await {
                    Ok(response) => (response.status().as_u16(), response.text().await?),
                    Err(_) => (0, String::new()),
                };
                let took = sent.elapsed();
                let mut run = run.lock().unwrap_or_else(|e| e.into_inner());
                run.requests += 1;
                match status {
                    200 | 201 => run.ok.push(took),
                    503 if body == generic => run.unavailable += 1,
                    _ => run.other += 1,
                }
                if !matches!(status, 200 | 201) {
                    run.slowest_failure = run.slowest_failure.max(took);
                }
            }
            anyhow::Ok(())
        });
    }
    clients
        .join_all()
        .await
        .into_iter()
        .collect::<anyhow::Result<()>>()?;
    let mut run = std::mem::take(&mut *run.lock().unwrap_or_else(|e| e.into_inner()));
    run.elapsed = started.elapsed();
    Ok(run)
}

/// After the load: each instance asked once, in batches of `batch`, a batch every `pause`
/// (long enough for the server to end the previous batch's idle sessions where it does).
async fn answered_after(
    instances: &[(String, tokio::process::Child)],
    reader: &SeededUser,
    (batch, pause): (usize, Duration),
) -> anyhow::Result<usize> {
    let (client, mut answered) = (reqwest::Client::new(), 0);
    for chunk in instances.chunks(batch) {
        tokio::time::sleep(pause).await;
        for (base, _) in chunk {
            let url = format!("{base}/api/{}/tasks", reader.user_id);
            let response = client.get(&url).bearer_auth(&reader.token).send().await?;
            answered += usize::from(response.status() == reqwest::StatusCode::OK);
        }
    }
    Ok(answered)
}

fn row(mode: &str, server_connections: u32, instances: usize, run: &mut Run) -> String {
    let ok = run.ok.len();
    let stats = (ok > 0).then(|| Percentiles::of(&mut run.ok));
    let ms = |pick: fn(Percentiles) -> Duration| stats.map_or("—".into(), |s| millis(pick(s), 2));
    let rate = ok as f64 / run.elapsed.as_secs_f64();
    let (p50, p99, slowest) = (ms(|s| s.p50), ms(|s| s.p99), millis(run.slowest_failure, 2));
    let (requests, unavailable, other, after) =
        (run.requests, run.unavailable, run.other, run.answered_after);
    format!(
        "| {mode} | {instances} | {server_connections} | {requests} | {rate:.0} | {p50} | {p99} | {ok} | {unavailable} | {other} | {slowest} | {after}/{instances} |"
    )
}

async fn measure(
    cluster: &dev_server::postgres::Cluster,
    instances: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    // (a) PgBouncer, 8 server connections, in front of a server with room to spare.
    cluster.start(&["max_connections=100".into()])?;
    let database = dev_server::fixtures::fresh_database(&cluster.url("postgres"), "fleet").await?;
    let config = shared::config::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(database.clone()),
        "BETTER_AUTH_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })?;
    let state = shared::AppState::new(config, dev_server::plan)?;
    let reader = SeededUser::create(&state, "reader@example.com", "fleet-password", 20).await?;
    let writer = SeededUser::create(&state, "writer@example.com", "fleet-password", 0).await?;
    let users = (&reader, &writer);
    let bouncer =
        dev_server::pgbouncer::PgBouncer::start("127.0.0.1", cluster.port, POOLER_CONNECTIONS)?;
    eprintln!("(a) {instances} instances through PgBouncer …");
    let fleet = start(instances, &bouncer.url_for(&database)?, "off").await?;
    let mut pooled = load(&fleet, users, seconds).await?;
    pooled.answered_after = answered_after(&fleet, &reader, (instances, Duration::ZERO)).await?;
    drop((fleet, bouncer, state));

    // (b) Straight to a server that takes 20 connections and ends idle sessions.
    let idle = format!("idle_session_timeout={IDLE_SESSION_TIMEOUT_MS}");
    cluster.start(&[format!("max_connections={MAX_CONNECTIONS}"), idle])?;
    eprintln!("(b) {instances} instances straight to PostgreSQL …");
    let fleet = start(instances, &database, "on").await?;
    let mut direct = load(&fleet, users, seconds).await?;
    let pause = Duration::from_millis(IDLE_SESSION_TIMEOUT_MS + 500);
    let batch = (MAX_CONNECTIONS / 2) as usize;
    direct.answered_after = answered_after(&fleet, &reader, (batch, pause)).await?;
    drop(fleet);

    let pgbouncer = dev_server::pgbouncer::version().unwrap_or_else(|| "?".into());
    println!("{instances} instances, {seconds} s; PgBouncer {pgbouncer}.\n");
    println!(
        "| mode | instances | server connections | requests | successes/s | p50 ms | p99 ms | successes | 503 | other | slowest failure ms | answered after |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "{}",
        row(
            "(a) through PgBouncer",
            POOLER_CONNECTIONS,
            instances,
            &mut pooled
        )
    );
    println!(
        "{}",
        row("(b) direct", MAX_CONNECTIONS, instances, &mut direct)
    );
    let mut wrong = Vec::new();
    if pooled.unavailable + pooled.other > 0 {
        wrong.push("(a) through PgBouncer: some requests failed".to_owned());
    }
    if direct.other > 0 {
        wrong.push("(b) direct: a failure other than the generic 503".to_owned());
    }
    for (mode, run) in [("(a)", &pooled), ("(b)", &direct)] {
        let after = run.answered_after;
        if after != instances {
            wrong.push(format!(
                "{mode}: {after} of {instances} instances answered after the load"
            ));
        }
    }
    ensure!(wrong.is_empty(), "{}", wrong.join("; "));
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--instance") {
        return instance().await;
    }
    let usage = "usage: fleet [--instances N (32)] [--seconds S (10)]";
    let flags = Flags::parse(
        std::env::args().skip(1),
        usage,
        &["--instances", "--seconds"],
        &[],
    )?;
    let instances = flags.value("--instances")?.unwrap_or(32);
    let seconds = flags.value("--seconds")?.unwrap_or(10);
    ensure!(instances > 0 && seconds > 0, "nothing to measure");
    let dir = bench::target_dir().join(format!("bench-db/fleet-{}", std::process::id()));
    let cluster = dev_server::postgres::Cluster::init(&dir)?;
    let result = measure(&cluster, instances, seconds).await;
    let _ = cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
