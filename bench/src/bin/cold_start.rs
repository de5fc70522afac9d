//! Cold start and memory of the real bootstraps: a mock AWS Lambda Runtime API on loopback,
//! one API Gateway HTTP API (payload v2) event per function, fresh child processes timed
//! from exec to their first response, and peak RSS after a stream of warm invocations.
//!
//! With `--link-delay-ms D` the database is reached as a hosted one is from Lambda: over
//! a link that adds D ms each way (a passthrough proxy that also counts the round trips on
//! the wire, TCP handshake included), with TLS verified and SCRAM password authentication;
//! the report then sets each cold start's round trips against the protocol's minimum.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail, ensure};
use bench::proxy::{Counters, Mode, Proxy, upstream};
use bench::{BenchDb, Percentiles};
use dev_server::fixtures::SeededUser;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use uuid::Uuid;

const USAGE: &str = "\
usage: cold_start [--function NAME[=PATH]]... [--runs N] [--requests N] [--markdown FILE]
                  [--database-url URL] [--env KEY=VALUE]...
                  [--link-delay-ms D [--postgres-bindir DIR] [--sslnegotiation direct]]

  --function NAME[=PATH]  a bootstrap to measure; NAME picks the event (hello, health,
                          session, tasks-list); PATH defaults to target/release/NAME.
                          Default: all four.
  --runs N                cold starts per function, each a fresh process (default 20),
                          after one unrecorded round that warms the page cache
  --requests N            warm invocations of one more process per function before its
                          peak RSS is read (default 1000)
  --markdown FILE         also write the table as markdown
  --database-url URL      a migrated database for the functions (else DATABASE_URL, else
                          a fresh one from bench::BenchDb); BETTER_AUTH_SECRET comes from
                          the environment, else the bench's own secret
  --env KEY=VALUE         extra environment for every bootstrap (e.g. RUST_LOG=warn)
  --link-delay-ms D       reach a private TLS + SCRAM server through a proxy adding D ms
                          each way, count the round trips of each cold start, and skip the
                          warm invocations (default functions: health, session, tasks-list)
  --postgres-bindir DIR   with --link-delay-ms: that server's programs (e.g. PostgreSQL 17)
  --sslnegotiation direct with --link-delay-ms: TLS from the first byte, no SSLRequest
                          (PostgreSQL 17+)";

/// A first response later than this is a hang, not a slow start (the database connect
/// timeout is 5 s by default).
const COLD_TIMEOUT: Duration = Duration::from_secs(15);
const WARM_TIMEOUT: Duration = Duration::from_secs(10);
/// Tasks owned by the seeded user: what `tasks-list` returns on every invocation.
const SEEDED_TASKS: usize = 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = match Args::parse(std::env::args().skip(1))? {
        Some(args) => args,
        None => {
            println!("{USAGE}");
            return Ok(());
        }
    };
    for function in &args.functions {
        ensure!(
            Scenario::KNOWN.contains(&function.name.as_str()),
            "no event for function `{}`; known: {}",
            function.name,
            Scenario::KNOWN.join(", ")
        );
        ensure!(
            function.path.is_file(),
            "{} not found: build it with `cargo build --release -p {}` \
             (or pass `--function {}=PATH`)",
            function.path.display(),
            function.name,
            function.name
        );
    }

    // The bench database stays alive (and is dropped, so stopped) at the end of main.
    let mut link = None;
    let (url, _bench_db) = match (&args.link, args.database_url.clone()) {
        (Some(settings), _) => {
            let (db, secured) = BenchDb::start_secured(settings.postgres_bindir.clone())
                .await
                .context("starting the bench database")?;
            let proxy = Proxy::start(upstream(&db.url)?, Mode::Passthrough).await?;
            proxy.delay_ms.store(settings.delay_ms, Ordering::SeqCst);
            let database = tokio_postgres::Config::from_str(&db.url)?
                .get_dbname()
                .context("the bench URL names no database")?
                .to_owned();
            let function_env = vec![
                (
                    "DATABASE_URL".to_owned(),
                    secured.url(proxy.addr, &database, settings.direct),
                ),
                (
                    "DATABASE_CA_FILE".to_owned(),
                    secured.ca_file.display().to_string(),
                ),
            ];
            link = Some(Link {
                server_version: server_version(&db.url).await?,
                proxy,
                function_env,
            });
            (db.url.clone(), Some(db))
        }
        (None, Some(url)) => (url, None),
        (None, None) => {
            let db = BenchDb::start()
                .await
                .context("starting the bench database")?;
            (db.url.clone(), Some(db))
        }
    };
    let secret = std::env::var("BETTER_AUTH_SECRET").unwrap_or_else(|_| bench::SECRET.to_owned());
    let config = shared::config::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "BETTER_AUTH_SECRET" => Some(secret.clone()),
        _ => None,
    })?;
    let state = shared::AppState::new(config, dev_server::plan)?;
    let email = format!("bench-{}@example.com", Uuid::new_v4().simple());
    let fixture = SeededUser::create(&state, &email, "cold-start-password", SEEDED_TASKS)
        .await
        .context("seeding the bench user")?;

    let mut env = match &link {
        Some(link) => link.function_env.clone(),
        None => vec![("DATABASE_URL".to_owned(), url.clone())],
    };
    env.push(("BETTER_AUTH_SECRET".to_owned(), secret));
    env.extend(args.env.iter().cloned());
    let log_dir = target_dir().join("cold-start");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let subjects = args
        .functions
        .iter()
        .map(|function| {
            Ok(Subject {
                scenario: Scenario::for_function(&function.name, &fixture)?,
                log: log_dir.join(format!("{}.log", function.name)),
                function: function.clone(),
                cold: Vec::new(),
                round_trips: Vec::new(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    let counters = link.as_ref().map(|link| link.proxy.counters.as_ref());
    let result = measure(subjects, &args, &env, counters).await;
    // The seeded user goes whatever happened, so an external database keeps no bench rows;
    // a failed measurement is still the error reported first.
    let removed = fixture.remove(&state).await;
    let rows = result?;
    removed?;

    if let (Some(link), Some(settings)) = (&link, &args.link) {
        return report_link(&rows, link, settings, &args);
    }
    let table = Table::new(&rows);
    println!();
    print!("{}", table.plain());
    if let Some(path) = &args.markdown {
        let note = format!(
            "{} cold starts per function (fresh process each, after one unrecorded round); \
             warm p50 and peak RSS (VmHWM) over {} invocations of one more process; \
             AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512, mock Runtime API on loopback.\n\n",
            args.runs, args.requests
        );
        std::fs::write(path, note + &table.markdown())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

/// Round-robin cold starts, so machine noise spreads evenly over the functions; then one
/// long-lived process per function for the warm figure and the peak RSS.
async fn measure(
    mut subjects: Vec<Subject>,
    args: &Args,
    env: &[(String, String)],
    link: Option<&Counters>,
) -> anyhow::Result<Vec<Row>> {
    // A progress line only where it redraws in place.
    let progress = std::io::stderr().is_terminal();
    for round in 0..=args.runs {
        for subject in &mut subjects {
            let before = link.map(Counters::snapshot);
            let (instance, cold) = Instance::cold_start(subject, env).await?;
            // Read at the first response, before the process is stopped (its goodbye
            // is no round trip the request waited for).
            let round_trips = link
                .zip(before)
                .map(|(counters, before)| (counters.snapshot() - before).link_round_trips());
            instance.stop().await?;
            // Round 0 brings the binary and its libraries into the page cache, as a
            // provisioned sandbox would have them; it is not recorded.
            if round > 0 {
                subject.cold.push(cold);
                subject.round_trips.extend(round_trips);
            }
        }
        if progress {
            eprint!("\rcold starts: {round}/{}", args.runs);
        }
    }
    if progress {
        eprintln!();
    }

    let mut rows = Vec::with_capacity(subjects.len());
    for mut subject in subjects {
        if link.is_some() {
            // Over the slow link only the cold start is measured.
            rows.push(Row::cold(&mut subject));
            continue;
        }
        let (mut instance, _) = Instance::cold_start(&subject, env).await?;
        let mut warm = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            warm.push(instance.invoke(&subject.scenario).await?);
        }
        let peak_rss_kib = instance.peak_rss_kib()?;
        instance.stop().await?;
        eprintln!(
            "{}: {} warm invocations done",
            subject.function.name, args.requests
        );

        rows.push(Row {
            warm_p50: (!warm.is_empty()).then(|| Percentiles::of(&mut warm).p50),
            peak_rss_kib,
            ..Row::cold(&mut subject)
        });
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// Command line

#[derive(Debug, Clone)]
struct Function {
    /// Picks the event, and is the function name the process sees.
    name: String,
    path: PathBuf,
}

#[derive(Debug)]
struct Args {
    functions: Vec<Function>,
    runs: usize,
    requests: usize,
    markdown: Option<PathBuf>,
    database_url: Option<String>,
    env: Vec<(String, String)>,
    link: Option<LinkSettings>,
}

/// `--link-delay-ms` and what goes with it.
#[derive(Debug, Default)]
struct LinkSettings {
    delay_ms: u64,
    postgres_bindir: Option<PathBuf>,
    direct: bool,
}

impl Args {
    /// `None` when help was asked for.
    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Option<Self>> {
        let mut parsed = Self {
            functions: Vec::new(),
            runs: 20,
            requests: 1000,
            markdown: None,
            database_url: std::env::var("DATABASE_URL")
                .ok()
                .filter(|url| !url.trim().is_empty()),
            env: Vec::new(),
            link: None,
        };
        let (mut delay_ms, mut postgres_bindir, mut direct) = (None, None, false);
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--function" => {
                    let value = value()?;
                    let (name, path) = match value.split_once('=') {
                        Some((name, path)) => (name.to_owned(), PathBuf::from(path)),
                        None => (value.clone(), target_dir().join("release").join(&value)),
                    };
                    parsed.functions.push(Function { name, path });
                }
                "--runs" => parsed.runs = value()?.parse().context("--runs takes a count")?,
                "--requests" => {
                    parsed.requests = value()?.parse().context("--requests takes a count")?;
                }
                "--markdown" => parsed.markdown = Some(PathBuf::from(value()?)),
                "--database-url" => parsed.database_url = Some(value()?),
                "--env" => {
                    let value = value()?;
                    let (key, val) = value.split_once('=').context("--env takes KEY=VALUE")?;
                    parsed.env.push((key.to_owned(), val.to_owned()));
                }
                "--link-delay-ms" => {
                    delay_ms = Some(
                        value()?
                            .parse()
                            .context("--link-delay-ms takes milliseconds")?,
                    );
                }
                "--postgres-bindir" => postgres_bindir = Some(PathBuf::from(value()?)),
                "--sslnegotiation" => {
                    let value = value()?;
                    ensure!(
                        matches!(value.as_str(), "direct" | "postgres"),
                        "--sslnegotiation is direct or postgres"
                    );
                    direct = value == "direct";
                }
                other => bail!("unknown argument `{other}`\n\n{USAGE}"),
            }
        }
        ensure!(parsed.runs > 0, "--runs must be at least 1");
        match delay_ms {
            Some(delay_ms) => {
                parsed.link = Some(LinkSettings {
                    delay_ms,
                    postgres_bindir,
                    direct,
                });
            }
            None => ensure!(
                postgres_bindir.is_none() && !direct,
                "--postgres-bindir and --sslnegotiation go with --link-delay-ms"
            ),
        }
        let known: &[&str] = if parsed.link.is_some() {
            // Every function that reaches the database.
            &Scenario::KNOWN[1..]
        } else {
            &Scenario::KNOWN
        };
        ensure!(
            parsed.link.is_none() || parsed.functions.iter().all(|f| f.name != "hello"),
            "hello opens no database connection: nothing to measure over a link"
        );
        if parsed.functions.is_empty() {
            parsed.functions = known
                .iter()
                .map(|name| Function {
                    name: (*name).to_owned(),
                    path: target_dir().join("release").join(name),
                })
                .collect();
        }
        Ok(Some(parsed))
    }
}

/// The workspace's target directory, where the release bootstraps and the logs live.
fn target_dir() -> PathBuf {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).join("target")
}

// ---------------------------------------------------------------------------------------
// What each function is fed, and what it must answer

#[derive(Debug, Clone)]
enum Expect {
    Hello,
    Health,
    Session { user_id: Uuid },
    Tasks { count: usize },
}

struct Scenario {
    /// The serialised event, built once: every invocation of a function gets the same one.
    event: Bytes,
    expect: Expect,
}

impl Scenario {
    const KNOWN: [&str; 4] = ["hello", "health", "session", "tasks-list"];

    fn for_function(name: &str, fixture: &SeededUser) -> anyhow::Result<Self> {
        let bearer = format!("Bearer {}", fixture.token);
        let user = fixture.user_id.to_string();
        let (event, expect) = match name {
            "hello" => (
                api_gateway_event("GET", "/", "$default", None, None),
                Expect::Hello,
            ),
            "health" => (
                api_gateway_event("GET", "/api/health", "GET /api/health", None, None),
                Expect::Health,
            ),
            "session" => (
                api_gateway_event(
                    "GET",
                    "/api/auth/session",
                    "GET /api/auth/session",
                    None,
                    Some(&bearer),
                ),
                Expect::Session {
                    user_id: fixture.user_id,
                },
            ),
            "tasks-list" => (
                api_gateway_event(
                    "GET",
                    &format!("/api/{user}/tasks"),
                    "GET /api/{user_id}/tasks",
                    Some(json!({ "user_id": user })),
                    Some(&bearer),
                ),
                Expect::Tasks {
                    count: SEEDED_TASKS,
                },
            ),
            other => bail!(
                "no event for function `{other}`; known: {}",
                Self::KNOWN.join(", ")
            ),
        };
        Ok(Self {
            event: Bytes::from(serde_json::to_vec(&event)?),
            expect,
        })
    }

    /// Checks a serialised API Gateway response: status 200 and the body this function
    /// gives for the seeded user.
    fn check(&self, response: &[u8]) -> anyhow::Result<()> {
        let response: Value =
            serde_json::from_slice(response).context("the response is not JSON")?;
        let body = response
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let status = response.get("statusCode").unwrap_or(&Value::Null);
        ensure!(
            status.as_u64() == Some(200),
            "statusCode {status} (expected 200), body {body}"
        );
        ensure!(
            response.get("isBase64Encoded") != Some(&Value::Bool(true)),
            "a base64 body where JSON text was expected"
        );
        let body: Value = serde_json::from_str(body).context("the body is not JSON")?;
        let fits = match &self.expect {
            Expect::Hello => body["hello"] == "world",
            Expect::Health => body["status"] == "ok" && body["database"] == "ok",
            Expect::Session { user_id } => body["user"]["id"] == user_id.to_string(),
            Expect::Tasks { count } => body.as_array().map(Vec::len) == Some(*count),
        };
        ensure!(fits, "unexpected body for {:?}: {body}", self.expect);
        Ok(())
    }
}

/// An HTTP API (payload format 2.0) event as API Gateway sends it, with the fields
/// lambda_http reads (method and path from `requestContext.http`, host from `domainName`).
fn api_gateway_event(
    method: &str,
    path: &str,
    route_key: &str,
    path_parameters: Option<Value>,
    authorization: Option<&str>,
) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let clf_time = now
        .format(time::macros::format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
        ))
        .unwrap_or_default();
    let domain = "abc123defg.execute-api.us-east-1.amazonaws.com";
    let mut headers = json!({
        "accept": "application/json",
        "content-length": "0",
        "host": domain,
        "user-agent": "cold-start-bench/1.0",
        "x-amzn-trace-id": "Root=1-00000000-000000000000000000000000",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    });
    if let Some(authorization) = authorization {
        headers["authorization"] = json!(authorization);
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": domain,
            "domainPrefix": "abc123defg",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "cold-start-bench/1.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": route_key,
            "stage": "$default",
            "time": clf_time,
            "timeEpoch": now.unix_timestamp() * 1000,
        },
        "isBase64Encoded": false,
    });
    if let Some(parameters) = path_parameters {
        event["pathParameters"] = parameters;
    }
    event
}

// ---------------------------------------------------------------------------------------
// The mock Lambda Runtime API

/// One event waiting for a `GET …/invocation/next`.
struct Invocation {
    id: String,
    event: Bytes,
}

/// How an invocation ended, as the runtime reported it.
enum Checked {
    Response { at: Instant, body: Bytes },
    Error { kind: String, body: String },
    InitError { kind: String, body: String },
}

struct RuntimeState {
    function_arn: String,
    queue: mpsc::UnboundedSender<Invocation>,
    /// Behind an async lock: a `next` call holds it while it waits for an event.
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Checked>>>,
}

impl RuntimeState {
    /// Hands the outcome to whoever waits for this invocation; `false` for an unknown id.
    fn settle(&self, id: &str, outcome: Checked) -> bool {
        let waiter = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(id);
        waiter.is_some_and(|waiter| waiter.send(outcome).is_ok())
    }

    /// An init error belongs to no invocation: it ends every one that is waiting.
    fn fail_all(&self, kind: &str, body: &str) {
        let waiters: Vec<_> = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain()
            .collect();
        for (_, waiter) in waiters {
            let _ = waiter.send(Checked::InitError {
                kind: kind.to_owned(),
                body: body.to_owned(),
            });
        }
    }
}

/// A Runtime API for one process. Each process gets its own listener, so a killed process's
/// `next` call (still waiting on its connection) can never swallow the next process's event;
/// dropping this aborts the server and every connection with it.
struct MockRuntime {
    addr: SocketAddr,
    state: Arc<RuntimeState>,
    server: tokio::task::JoinHandle<()>,
}

impl MockRuntime {
    async fn start(function: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding the mock Runtime API")?;
        let addr = listener.local_addr()?;
        let (queue, next) = mpsc::unbounded_channel();
        let state = Arc::new(RuntimeState {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
            queue,
            next: tokio::sync::Mutex::new(next),
            pending: Mutex::new(HashMap::new()),
        });
        let server = tokio::spawn(serve_runtime(listener, state.clone()));
        Ok(Self {
            addr,
            state,
            server,
        })
    }

    /// Queues one event; the receiver yields how the runtime answered it.
    fn invoke(&self, event: &Bytes) -> oneshot::Receiver<Checked> {
        let id = Uuid::new_v4().to_string();
        let (waiter, outcome) = oneshot::channel();
        self.state
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id.clone(), waiter);
        // Cannot fail: the receiving half lives in `state`, as long as this does.
        let _ = self.state.queue.send(Invocation {
            id,
            event: event.clone(),
        });
        outcome
    }
}

impl Drop for MockRuntime {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve_runtime(listener: TcpListener, state: Arc<RuntimeState>) {
    // Owned here, so aborting this task drops (and aborts) every connection too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        eprintln!("mock Runtime API: accept failed: {err}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // Small request/response exchanges: never wait for Nagle.
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| runtime_api(state.clone(), req));
                    // A process killed mid-request just drops its connection.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// The Runtime API routes lambda_runtime 1.x uses (see its `requests.rs`).
async fn runtime_api(
    state: Arc<RuntimeState>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(route) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(status(StatusCode::NOT_FOUND));
    };
    let segments: Vec<&str> = route.split('/').collect();
    let method = req.method().clone();
    let response = match (method.as_str(), segments.as_slice()) {
        ("GET", ["invocation", "next"]) => next_invocation(&state).await,
        ("POST", ["invocation", id, "response"]) => {
            let id = (*id).to_owned();
            match read_body(req).await {
                Some(body) => {
                    // The moment the response is complete: what the cold start is timed to.
                    let at = Instant::now();
                    accepted(state.settle(&id, Checked::Response { at, body }))
                }
                None => status(StatusCode::BAD_REQUEST),
            }
        }
        ("POST", ["invocation", id, "error"]) => {
            let id = (*id).to_owned();
            let kind = error_type(&req);
            let body = read_body(req).await.unwrap_or_default();
            let body = String::from_utf8_lossy(&body).into_owned();
            accepted(state.settle(&id, Checked::Error { kind, body }))
        }
        ("POST", ["init", "error"]) => {
            let kind = error_type(&req);
            let body = read_body(req).await.unwrap_or_default();
            state.fail_all(&kind, &String::from_utf8_lossy(&body));
            status(StatusCode::ACCEPTED)
        }
        _ => status(StatusCode::NOT_FOUND),
    };
    Ok(response)
}

async fn next_invocation(state: &RuntimeState) -> Response<Full<Bytes>> {
    let Some(invocation) = state.next.lock().await.recv().await else {
        return status(StatusCode::SERVICE_UNAVAILABLE);
    };
    let deadline_ms = (SystemTime::now() + Duration::from_secs(30))
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let trace = Uuid::new_v4().simple().to_string();
    let built = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &invocation.id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", &state.function_arn)
        .header(
            "lambda-runtime-trace-id",
            format!(
                "Root=1-{}-{};Parent={};Sampled=0",
                &trace[..8],
                &trace[8..],
                &trace[..16]
            ),
        )
        .body(Full::new(invocation.event));
    built.unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
}

async fn read_body(req: Request<Incoming>) -> Option<Bytes> {
    req.into_body()
        .collect()
        .await
        .ok()
        .map(|collected| collected.to_bytes())
}

fn error_type(req: &Request<Incoming>) -> String {
    req.headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("(none)")
        .to_owned()
}

/// 202 as the real Runtime API answers a result; 400 for an id it never handed out.
fn accepted(known: bool) -> Response<Full<Bytes>> {
    status(if known {
        StatusCode::ACCEPTED
    } else {
        StatusCode::BAD_REQUEST
    })
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

// ---------------------------------------------------------------------------------------
// Child processes

struct Subject {
    function: Function,
    scenario: Scenario,
    /// The child's stdout and stderr, overwritten by each process.
    log: PathBuf,
    cold: Vec<Duration>,
    /// Over a slow link: each recorded cold start's round trips on the wire.
    round_trips: Vec<u64>,
}

/// One bootstrap process and the Runtime API it talks to.
struct Instance {
    name: String,
    child: Child,
    log: PathBuf,
    // Declared last: dropped after the child is gone.
    mock: MockRuntime,
}

impl Instance {
    /// Starts a fresh process and waits for its answer to the first event: the returned
    /// time runs from just before exec to that answer, so it covers config load and the
    /// first database connection that main makes before the runtime loop.
    async fn cold_start(
        subject: &Subject,
        env: &[(String, String)],
    ) -> anyhow::Result<(Self, Duration)> {
        let name = &subject.function.name;
        let mock = MockRuntime::start(name).await?;
        let first = mock.invoke(&subject.scenario.event);
        let log = std::fs::File::create(&subject.log)
            .with_context(|| format!("creating {}", subject.log.display()))?;
        let mut command = Command::new(&subject.function.path);
        // Only what Lambda sets plus the app's config: nothing of this shell leaks in.
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", mock.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2025/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            )
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", subject.function.path.display()))?;
        let mut instance = Self {
            name: name.clone(),
            child,
            log: subject.log.clone(),
            mock,
        };
        let answered = instance
            .outcome(first, &subject.scenario, COLD_TIMEOUT)
            .await?;
        Ok((instance, answered.duration_since(started)))
    }

    /// One warm invocation, timed from queueing the event to the complete response.
    async fn invoke(&mut self, scenario: &Scenario) -> anyhow::Result<Duration> {
        let sent = Instant::now();
        let outcome = self.mock.invoke(&scenario.event);
        let answered = self.outcome(outcome, scenario, WARM_TIMEOUT).await?;
        Ok(answered.duration_since(sent))
    }

    /// Waits for the runtime's answer, failing loudly on anything but the expected
    /// response: an error report, the process exiting, or silence.
    async fn outcome(
        &mut self,
        outcome: oneshot::Receiver<Checked>,
        scenario: &Scenario,
        timeout: Duration,
    ) -> anyhow::Result<Instant> {
        enum Ended {
            Reported(Result<Checked, oneshot::error::RecvError>),
            Exited(std::io::Result<std::process::ExitStatus>),
            TimedOut,
        }
        let ended = tokio::select! {
            outcome = outcome => Ended::Reported(outcome),
            status = self.child.wait() => Ended::Exited(status),
            () = tokio::time::sleep(timeout) => Ended::TimedOut,
        };
        let name = &self.name;
        match ended {
            Ended::Reported(Ok(Checked::Response { at, body })) => {
                scenario
                    .check(&body)
                    .with_context(|| format!("{name} answered unexpectedly{}", self.log_tail()))?;
                Ok(at)
            }
            Ended::Reported(Ok(Checked::Error { kind, body })) => {
                bail!(
                    "{name} reported an invocation error {kind}: {body}{}",
                    self.log_tail()
                )
            }
            Ended::Reported(Ok(Checked::InitError { kind, body })) => {
                bail!(
                    "{name} reported an init error {kind}: {body}{}",
                    self.log_tail()
                )
            }
            Ended::Reported(Err(_)) => bail!("the mock Runtime API dropped {name}'s invocation"),
            Ended::Exited(status) => {
                let status = status.context("waiting for the process")?;
                bail!(
                    "{name} exited ({status}) before answering{}",
                    self.log_tail()
                )
            }
            Ended::TimedOut => bail!(
                "{name} gave no answer within {timeout:?}{}",
                self.log_tail()
            ),
        }
    }

    /// The process's peak resident set (`VmHWM`), in KiB.
    fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the process has already exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .context("no VmHWM in /proc/<pid>/status")?;
        line.trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("VmHWM `{}` is not a number of kB", line.trim()))
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        self.child
            .kill()
            .await
            .with_context(|| format!("stopping {}", self.name))
    }

    /// The last lines the process wrote, to go with an error.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        if tail.is_empty() {
            format!(" (no output; log {})", self.log.display())
        } else {
            format!("\n--- last lines of {} ---\n{tail}", self.log.display())
        }
    }
}

// ---------------------------------------------------------------------------------------
// Report

struct Row {
    name: String,
    cold_min: Duration,
    cold_p50: Duration,
    cold_max: Duration,
    warm_p50: Option<Duration>,
    peak_rss_kib: u64,
    round_trips: Vec<u64>,
}

impl Row {
    /// The subject's cold starts alone (no warm invocations, no RSS).
    fn cold(subject: &mut Subject) -> Self {
        let p50 = Percentiles::of(&mut subject.cold).p50;
        Self {
            name: subject.function.name.clone(),
            cold_min: subject.cold[0],
            cold_p50: p50,
            cold_max: subject.cold[subject.cold.len() - 1],
            warm_p50: None,
            peak_rss_kib: 0,
            round_trips: std::mem::take(&mut subject.round_trips),
        }
    }
}

/// The slow link of a `--link-delay-ms` run.
struct Link {
    proxy: Proxy,
    /// How the functions reach the server through the proxy.
    function_env: Vec<(String, String)>,
    server_version: String,
}

async fn server_version(url: &str) -> anyhow::Result<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let row = client.query_one("SHOW server_version", &[]).await?;
    Ok(row.try_get(0)?)
}

/// The fewest round trips a cold start can take to its first statement's answer: the TCP
/// handshake, the SSLRequest (not with direct negotiation), the TLS 1.3 handshake, the
/// startup message (answered with the SCRAM challenge request), SCRAM's two exchanges, and
/// the statement.
fn protocol_minimum(direct: bool) -> u64 {
    let ssl_request = if direct { 0 } else { 1 };
    1 + ssl_request + 1 + 1 + 2 + 1
}

fn report_link(
    rows: &[Row],
    link: &Link,
    settings: &LinkSettings,
    args: &Args,
) -> anyhow::Result<()> {
    let minimum = protocol_minimum(settings.direct);
    let negotiation = if settings.direct {
        "direct"
    } else {
        "SSLRequest"
    };
    let millis = |duration: Duration| format!("{:.1}", duration.as_secs_f64() * 1e3);
    let mut out = String::new();
    for row in rows {
        let fewest = row.round_trips.iter().min().copied().unwrap_or_default();
        let most = row.round_trips.iter().max().copied().unwrap_or_default();
        let counted = if fewest == most {
            fewest.to_string()
        } else {
            format!("{fewest}–{most}")
        };
        let _ = writeln!(
            out,
            "| {} | PostgreSQL {} | {negotiation} | {} | {} | {} | {counted} | {minimum} | {} |",
            row.name,
            link.server_version,
            millis(row.cold_min),
            millis(row.cold_p50),
            millis(row.cold_max),
            millis(Duration::from_millis(2 * settings.delay_ms * most)),
        );
    }
    let header = "| function | server | TLS negotiation | cold min ms | cold p50 ms | cold max ms | round trips (wire) | protocol minimum | round trips × 2D ms |\n\
                  |---|---|---|---:|---:|---:|---:|---:|---:|\n";
    println!("{header}{out}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, format!("{header}{out}"))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let over: Vec<&str> = rows
        .iter()
        .filter(|row| row.round_trips.iter().any(|&n| n > minimum))
        .map(|row| row.name.as_str())
        .collect();
    ensure!(
        over.is_empty(),
        "above the protocol's minimum of {minimum} round trips: {}",
        over.join(", ")
    );
    Ok(())
}

struct Table {
    header: [&'static str; 7],
    cells: Vec<[String; 7]>,
}

impl Table {
    fn new(rows: &[Row]) -> Self {
        let hello = rows.iter().find(|row| row.name == "hello");
        let millis = |duration: Duration| format!("{:.1}", duration.as_secs_f64() * 1e3);
        let cells = rows
            .iter()
            .map(|row| {
                [
                    row.name.clone(),
                    millis(row.cold_min),
                    millis(row.cold_p50),
                    millis(row.cold_max),
                    hello.map_or_else(
                        || "-".to_owned(),
                        |hello| {
                            format!(
                                "{:.2}",
                                row.cold_p50.as_secs_f64() / hello.cold_p50.as_secs_f64()
                            )
                        },
                    ),
                    row.warm_p50.map_or_else(|| "-".to_owned(), bench::micros),
                    format!("{:.1}", row.peak_rss_kib as f64 / 1024.0),
                ]
            })
            .collect();
        Self {
            header: [
                "function",
                "cold min ms",
                "cold p50 ms",
                "cold max ms",
                "p50 / hello",
                "warm p50 µs",
                "peak RSS MiB",
            ],
            cells,
        }
    }

    fn plain(&self) -> String {
        let mut widths = self.header.map(|title| title.chars().count());
        for row in &self.cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            for (column, (cell, width)) in cells.iter().zip(widths).enumerate() {
                // Names left-aligned, figures right-aligned.
                let _ = if column == 0 {
                    write!(out, "{cell:<width$}")
                } else {
                    write!(out, "  {cell:>width$}")
                };
            }
            out.push('\n');
        };
        line(&mut out, &self.header.map(str::to_owned));
        for row in &self.cells {
            line(&mut out, row);
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("| {} |\n|---|", self.header.join(" | "));
        out.push_str(&"---:|".repeat(self.header.len() - 1));
        out.push('\n');
        for row in &self.cells {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }
}
