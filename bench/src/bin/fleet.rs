//! A fleet of function instances under load, as a traffic spike starts them in Lambda: N
//! processes (default 32), each holding one database connection (`DATABASE_POOL_SIZE=1`)
//! and serving one request at a time, driven by N concurrent clients alternating GET and
//! POST /api/{user_id}/tasks. Twice: (a) through PgBouncer in transaction mode with 8
//! server connections (Neon's pooler), and (b) straight to a PostgreSQL started with
//! `max_connections=20`, where the instances that find no connection must answer the
//! generic 503 at once, and every instance must answer again once the load stops.
//!
//! ```text
//! cargo run --release -p bench --bin fleet -- [--instances N] [--seconds S] [--markdown FILE]
//! ```

use std::fmt::Write as _;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bench::{Percentiles, SECRET};
use dev_server::fixtures::SeededUser;
use dev_server::pgbouncer::PgBouncer;
use dev_server::postgres::Cluster;
use serde_json::json;
use shared::error::GENERIC_5XX;
use tokio::io::AsyncBufReadExt as _;

/// Server connections PgBouncer keeps per database.
const POOLER_CONNECTIONS: u32 = 8;
/// The direct server's connection limit.
const MAX_CONNECTIONS: u32 = 20;
/// How long the direct server keeps an idle session: what lets instances that found no
/// connection during the spike get one afterwards (see the README's deploy notes).
const IDLE_SESSION_TIMEOUT_MS: u64 = 1000;

struct Args {
    instances: usize,
    seconds: u64,
    markdown: Option<std::path::PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        instances: 32,
        seconds: 10,
        markdown: None,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = || given.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--instances" => args.instances = value()?.parse().context("--instances")?,
            "--seconds" => args.seconds = value()?.parse().context("--seconds")?,
            "--markdown" => args.markdown = Some(value()?.into()),
            "-h" | "--help" => {
                println!("usage: fleet [--instances N (32)] [--seconds S (10)] [--markdown FILE]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    ensure!(args.instances > 0 && args.seconds > 0, "nothing to measure");
    Ok(args)
}

/// One instance: the tasks-list and task-create functions as the local server serves
/// them, on one connection, from the environment the parent gives it. Prints its address.
async fn instance() -> anyhow::Result<()> {
    let config = shared::secrets::load_config(|name| std::env::var(name).ok()).await?;
    let functions = ["tasks-list", "task-create"];
    let mail = bench::BenchMail::new()?;
    let state = shared::state::MailState {
        app: shared::AppState::new(config, |kinds| dev_server::plan_for(&functions, kinds))?,
        mailbox: mail.mailbox()?,
    };
    // The instance's cold start: its connection, if it can get one.
    state.db.warm_up_logged().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("READY http://{}", listener.local_addr()?);
    dev_server::serve_only(listener, Arc::new(state), functions.into()).await
}

/// A started instance process.
struct Instance {
    address: String,
    _child: tokio::process::Child,
}

async fn start_instances(
    count: usize,
    database_url: &str,
    prepared_statements: &str,
) -> anyhow::Result<Vec<Instance>> {
    let program = std::env::current_exe()?;
    let mut started = Vec::new();
    for _ in 0..count {
        let mut child = tokio::process::Command::new(&program)
            .arg("--instance")
            .env("DATABASE_URL", database_url)
            .env("BETTER_AUTH_SECRET", SECRET)
            .env("DATABASE_POOL_SIZE", "1")
            .env("DATABASE_CONNECT_TIMEOUT_SECS", "5")
            .env("DATABASE_PREPARED_STATEMENTS", prepared_statements)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting an instance")?;
        let stdout = child.stdout.take().context("instance stdout")?;
        started.push((child, tokio::io::BufReader::new(stdout).lines()));
    }
    let mut instances = Vec::new();
    for (child, mut lines) in started {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("an instance did not start within 30 s")??
            .context("an instance exited")?;
        let address = line
            .strip_prefix("READY ")
            .with_context(|| format!("unexpected instance output {line}"))?
            .to_owned();
        instances.push(Instance {
            address,
            _child: child,
        });
    }
    Ok(instances)
}

/// What one mode measured.
#[derive(Default)]
struct Run {
    requests: u64,
    ok: u64,
    /// 503 with the contract's generic body.
    unavailable: u64,
    /// Anything else: another status, another body, no answer.
    errors: u64,
    latencies: Vec<Duration>,
    /// The slowest answer that was not a success.
    slowest_failure: Duration,
    elapsed: Duration,
    /// Instances that answered 200 when asked one by one after the load.
    answered_after: usize,
}

/// Each instance's client sends one request at a time for `seconds`, alternating a list of
/// `reader`'s 20 tasks and a new task for `writer`.
async fn load(
    instances: &[Instance],
    reader: &SeededUser,
    writer: &SeededUser,
    seconds: u64,
) -> anyhow::Result<Run> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for (n, instance) in instances.iter().enumerate() {
        let client = client.clone();
        let base = instance.address.clone();
        let list = (
            format!("{base}/api/{}/tasks", reader.user_id),
            reader.token.clone(),
        );
        let create = (
            format!("{base}/api/{}/tasks", writer.user_id),
            writer.token.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut run = Run::default();
            let mut write = n % 2 == 1;
            while Instant::now() < deadline {
                let request = if write {
                    client
                        .post(&create.0)
                        .bearer_auth(&create.1)
                        .json(&json!({ "title": "from the fleet" }))
                } else {
                    client.get(&list.0).bearer_auth(&list.1)
                };
                write = !write;
                let sent = Instant::now();
                let answer = request.send().await;
                let outcome = match answer {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.text().await.unwrap_or_default();
                        (status, body)
                    }
                    Err(_) => (0, String::new()),
                };
                let took = sent.elapsed();
                run.requests += 1;
                match outcome {
                    (200 | 201, _) => {
                        run.ok += 1;
                        run.latencies.push(took);
                    }
                    (503, body) if is_generic_5xx(&body) => {
                        run.unavailable += 1;
                        run.slowest_failure = run.slowest_failure.max(took);
                    }
                    _ => {
                        run.errors += 1;
                        run.slowest_failure = run.slowest_failure.max(took);
                    }
                }
            }
            run
        }));
    }
    let mut total = Run::default();
    for client in clients {
        let run = client.await?;
        total.requests += run.requests;
        total.ok += run.ok;
        total.unavailable += run.unavailable;
        total.errors += run.errors;
        total.latencies.extend(run.latencies);
        total.slowest_failure = total.slowest_failure.max(run.slowest_failure);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

fn is_generic_5xx(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body).ok() == Some(json!({ "error": GENERIC_5XX }))
}

/// After the load: each instance asked once, in batches smaller than the server's
/// connection limit, a batch every `pause` (long enough for the server to end the
/// previous batch's idle sessions where it does so).
async fn every_instance_answers(
    instances: &[Instance],
    reader: &SeededUser,
    batch: usize,
    pause: Duration,
) -> anyhow::Result<usize> {
    let client = reqwest::Client::new();
    let mut answered = 0;
    for chunk in instances.chunks(batch) {
        tokio::time::sleep(pause).await;
        for instance in chunk {
            let url = format!("{}/api/{}/tasks", instance.address, reader.user_id);
            let response = client.get(&url).bearer_auth(&reader.token).send().await?;
            if response.status() == reqwest::StatusCode::OK {
                answered += 1;
            }
        }
    }
    Ok(answered)
}

fn row(mode: &str, server_connections: u32, instances: usize, run: &mut Run) -> String {
    let stats = (!run.latencies.is_empty()).then(|| Percentiles::of(&mut run.latencies));
    let millis = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
    format!(
        "| {mode} | {instances} | {server_connections} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {}/{instances} |",
        run.requests,
        run.ok as f64 / run.elapsed.as_secs_f64(),
        stats.map_or("—".into(), |s| millis(s.p50)),
        stats.map_or("—".into(), |s| millis(s.p99)),
        run.ok,
        run.unavailable,
        run.errors,
        millis(run.slowest_failure),
        run.answered_after,
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--instance") {
        return instance().await;
    }
    let args = args()?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/bench-db")
        .join(format!("fleet-{}", std::process::id()));
    let cluster = Cluster::init(&dir)?;
    let result = measure(&cluster, &args).await;
    let _ = cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let report = result?;
    println!("{report}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &report).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

async fn measure(cluster: &Cluster, args: &Args) -> anyhow::Result<String> {
    // (a) PgBouncer, 8 server connections, in front of a server with room to spare.
    cluster.start(&["max_connections=100".into()])?;
    let database = dev_server::fixtures::fresh_database(&cluster.url("postgres"), "fleet").await?;
    let seed = |url: String| async move {
        let lookup = |name: &str| match name {
            "DATABASE_URL" => Some(url.clone()),
            "BETTER_AUTH_SECRET" => Some(SECRET.to_owned()),
            _ => None,
        };
        let state = shared::AppState::new(
            shared::config::Config::from_lookup(lookup)?,
            dev_server::plan,
        )?;
        let reader = SeededUser::create(&state, "reader@example.com", "fleet-password", 20).await?;
        let writer = SeededUser::create(&state, "writer@example.com", "fleet-password", 0).await?;
        anyhow::Ok((reader, writer))
    };
    let (reader, writer) = seed(database.clone()).await?;
    let bouncer = PgBouncer::start("127.0.0.1", cluster.port, POOLER_CONNECTIONS)?;
    let through = bouncer.url_for(&database)?;
    eprintln!("(a) {} instances through PgBouncer …", args.instances);
    let instances = start_instances(args.instances, &through, "off").await?;
    let mut pooled = load(&instances, &reader, &writer, args.seconds).await?;
    pooled.answered_after =
        every_instance_answers(&instances, &reader, args.instances, Duration::ZERO).await?;
    drop(instances);
    drop(bouncer);

    // (b) Straight to a server that takes 20 connections and ends idle sessions.
    cluster.start(&[
        format!("max_connections={MAX_CONNECTIONS}"),
        format!("idle_session_timeout={IDLE_SESSION_TIMEOUT_MS}"),
    ])?;
    // Room for the bench's own connections: the seeded users exist already.
    eprintln!("(b) {} instances straight to PostgreSQL …", args.instances);
    let instances = start_instances(args.instances, &database, "on").await?;
    let mut direct = load(&instances, &reader, &writer, args.seconds).await?;
    let pause = Duration::from_millis(IDLE_SESSION_TIMEOUT_MS + 500);
    direct.answered_after =
        every_instance_answers(&instances, &reader, (MAX_CONNECTIONS / 2) as usize, pause).await?;
    drop(instances);

    let mut out = String::from("## A fleet of instances under load\n\n");
    let _ = write!(
        out,
        "{n} instance processes (the tasks-list and task-create functions served by the local \
         server), each with `DATABASE_POOL_SIZE=1` and serving one request at a time, as \
         Lambda runs them; {n} clients, one per instance, each sending its next request \
         when the last is answered, alternating `GET` (a user's 20 tasks) and `POST` (a new \
         task of another user) for {s} s; PostgreSQL, PgBouncer, the instances and the \
         clients share the machine's cores. (a) through PgBouncer {pgbouncer} in transaction \
         mode with {POOLER_CONNECTIONS} server connections (`DATABASE_PREPARED_STATEMENTS=off`: \
         it keeps no named statements); (b) straight to PostgreSQL with \
         `max_connections={MAX_CONNECTIONS}` and `idle_session_timeout={IDLE_SESSION_TIMEOUT_MS}ms` \
         (prepared statements on). \"503\" counts answers with the contract's generic body; \
         \"other\" anything else (another status or body, or no answer). Afterwards each instance \
         is asked once more: all at once in (a), in batches of {batch} a second apart in (b), \
         as idle sessions end.\n\n",
        n = args.instances,
        s = args.seconds,
        pgbouncer = dev_server::pgbouncer::version().unwrap_or_else(|| "?".into()),
        batch = MAX_CONNECTIONS / 2,
    );
    out.push_str(
        "| mode | instances | server connections | requests | successes/s | p50 ms | p99 ms | successes | 503 | other | slowest failure ms | answered after |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    out.push_str(&row(
        "(a) through PgBouncer",
        POOLER_CONNECTIONS,
        args.instances,
        &mut pooled,
    ));
    out.push('\n');
    out.push_str(&row(
        "(b) direct",
        MAX_CONNECTIONS,
        args.instances,
        &mut direct,
    ));
    out.push('\n');
    let mut odd = Vec::new();
    if pooled.unavailable + pooled.errors > 0 {
        odd.push("(a) through PgBouncer: some requests failed".to_owned());
    }
    if direct.errors > 0 {
        odd.push("(b) direct: a failure other than the generic 503".to_owned());
    }
    if direct.slowest_failure > Duration::from_secs(5) {
        odd.push("(b) direct: a failure took longer than the connect timeout".to_owned());
    }
    for (mode, run) in [("(a)", &pooled), ("(b)", &direct)] {
        if run.answered_after != args.instances {
            odd.push(format!(
                "{mode}: {} of {} instances answered after the load",
                run.answered_after, args.instances
            ));
        }
    }
    if odd.is_empty() {
        out.push_str("\nThrough PgBouncer nothing failed; direct, every failure was the generic 503 within the connect timeout, and every instance answered again after the load.\n");
    } else {
        out.push_str("\nOdd:\n\n");
        for line in &odd {
            let _ = writeln!(out, "- {line}");
        }
    }
    ensure!(odd.is_empty(), "{}", odd.join("; "));
    Ok(out)
}
