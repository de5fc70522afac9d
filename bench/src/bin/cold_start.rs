//! Cold start and memory of the real bootstraps: a mock AWS Lambda Runtime API on loopback
//! hands each fresh process one API Gateway HTTP API (payload v2) event and times exec →
//! response posted (`--runs` per function, round-robin, after one unrecorded round that
//! warms the page cache); then one more process per function answers 1,000 warm
//! invocations and its peak RSS is read. `--function NAME=PATH` picks the bootstraps (NAME
//! is hello, health, session or tasks-list; default: all four from target/release).
//!
//! With `--link-delay-ms D` the database is reached as a hosted one is from Lambda: over a
//! link adding D ms each way (a passthrough proxy that counts the round trips on the wire,
//! TCP handshake included), with TLS verified and SCRAM password authentication, on the
//! server of `--postgres-bindir` (else the installed one), with `--sslnegotiation direct`
//! or `postgres` (the SSLRequest, the default). Each cold start's round trips are set
//! against the protocol's minimum, and the run fails above it. Nothing is asserted on time.

use std::path::PathBuf;
use std::process::Stdio;
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail, ensure};
use bench::proxy::{Mode, Proxy};
use bench::{BenchDb, Flags, Percentiles, SECRET, micros, millis, target_dir};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc};

const USAGE: &str = "usage: cold_start [--function NAME[=PATH]]... [--runs N (20)]
                  [--link-delay-ms D [--postgres-bindir DIR] [--sslnegotiation direct]]";
const KNOWN: [&str; 4] = ["hello", "health", "session", "tasks-list"];
/// Tasks owned by the seeded user: what `tasks-list` returns on every invocation.
const TASKS: usize = 20;
const LOOPBACK_TABLE: &str = "| function | cold min ms | cold p50 ms | cold max ms | p50 / hello | warm p50 µs | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|";
const LINK_TABLE: &str = "| function | server | TLS negotiation | cold min ms | cold p50 ms | cold max ms | round trips (wire) | protocol minimum | round trips × 2D ms |\n|---|---|---|---:|---:|---:|---:|---:|---:|";

#[derive(Debug, PartialEq)]
struct Args {
    /// Each function's name and bootstrap.
    functions: Vec<(String, PathBuf)>,
    runs: usize,
    /// `--link-delay-ms`, `--postgres-bindir`, and whether TLS is negotiated directly.
    link: Option<(u64, Option<PathBuf>, bool)>,
}

impl Args {
    fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let valued = "--function --runs --link-delay-ms --postgres-bindir --sslnegotiation";
        let valued: Vec<&str> = valued.split(' ').collect();
        let flags = Flags::parse(args, USAGE, &valued, &[])?;
        let direct = match flags.values("--sslnegotiation").last() {
            None | Some("postgres") => false,
            Some("direct") => true,
            Some(other) => bail!("--sslnegotiation is direct or postgres, not `{other}`"),
        };
        let bindir = flags.value("--postgres-bindir")?;
        let link = match flags.value("--link-delay-ms")? {
            Some(delay_ms) => Some((delay_ms, bindir, direct)),
            None if bindir.is_some() || direct => bail!("those flags go with --link-delay-ms"),
            None => None,
        };
        let release = |name: &str| (name.to_owned(), target_dir().join("release").join(name));
        let given = flags
            .values("--function")
            .map(|value| match value.split_once('=') {
                Some((name, path)) => (name.to_owned(), PathBuf::from(path)),
                None => release(value),
            });
        let mut functions: Vec<_> = given.collect();
        if functions.is_empty() {
            // hello opens no connection: nothing to count over a link.
            let skip = usize::from(link.is_some());
            functions = KNOWN[skip..].iter().map(|name| release(name)).collect();
        }
        for (name, _) in &functions {
            ensure!(
                KNOWN.contains(&name.as_str()),
                "no event for `{name}`: {KNOWN:?}"
            );
            ensure!(
                link.is_none() || name != "hello",
                "hello has no database to reach"
            );
        }
        let runs = flags.value("--runs")?.unwrap_or(20);
        ensure!(runs > 0, "--runs must be at least 1");
        Ok(Self {
            functions,
            runs,
            link,
        })
    }
}

/// The fewest round trips a cold start can take to its first statement's answer: the TCP
/// handshake, the SSLRequest (not with direct negotiation), the TLS 1.3 handshake, the
/// startup message (answered with the SASL mechanisms), SCRAM's client-first and
/// client-final, and the statements (the plan and the first request's statement
/// pipelined).
fn protocol_minimum(direct: bool) -> u64 {
    let ssl_request = u64::from(!direct);
    1 + ssl_request + 1 + 1 + 2 + 1
}

/// One function: its bootstrap, the serialised event every invocation gets, what it must
/// answer, and its cold starts (and, over a link, the most round trips one took).
struct Subject {
    name: String,
    path: PathBuf,
    event: Bytes,
    user_id: String,
    cold: Vec<Duration>,
    round_trips: u64,
}

impl Subject {
    fn new((name, bootstrap): (String, PathBuf), user: &dev_server::fixtures::SeededUser) -> Self {
        let user_id = user.user_id.to_string();
        let route = shared::routes::by_function(&name);
        let (method, template) = route.map_or(("GET", "/"), |route| (route.method, route.path));
        let path = template.replace("{user_id}", &user_id);
        let params = shared::routes::match_path(template, &path).unwrap_or_default();
        let params: serde_json::Map<_, _> =
            params.into_iter().map(|(k, v)| (k, v.into())).collect();
        let mut headers = json!({ "accept": "application/json", "x-forwarded-for": "203.0.113.7" });
        if name != "health" {
            headers["authorization"] = json!(format!("Bearer {}", user.token));
        }
        let route_key = route.map_or("$default".to_owned(), |_| format!("{method} {template}"));
        // An HTTP API (payload format 2.0) event as API Gateway sends it.
        let event = json!({
            "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": "",
            "headers": headers, "pathParameters": params, "isBase64Encoded": false,
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123defg", "stage": "$default",
                "domainName": "abc123defg.execute-api.us-east-1.amazonaws.com",
                "http": { "method": method, "path": path, "protocol": "HTTP/1.1",
                          "sourceIp": "203.0.113.7", "userAgent": "cold-start-bench" },
                "requestId": "JKJaXmPLvHcESHA=", "routeKey": route_key,
                "timeEpoch": time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
            },
        });
        let event = Bytes::from(event.to_string());
        let (cold, round_trips) = (Vec::new(), 0);
        Self {
            name,
            path: bootstrap,
            event,
            user_id,
            cold,
            round_trips,
        }
    }

    /// A serialised API Gateway response: status 200, and the body this function gives the
    /// seeded user.
    fn check(&self, response: &[u8]) -> anyhow::Result<()> {
        let response: Value = serde_json::from_slice(response)?;
        let (status, body) = (&response["statusCode"], response["body"].as_str());
        ensure!(status == 200, "statusCode {status}, body {body:?}");
        let body: Value = serde_json::from_str(body.unwrap_or_default())?;
        let fits = match self.name.as_str() {
            "hello" => body["hello"] == "world",
            "health" => body["status"] == "ok" && body["database"] == "ok",
            "session" => body["user"]["id"] == self.user_id.as_str(),
            _ => body.as_array().map(Vec::len) == Some(TASKS),
        };
        ensure!(fits, "unexpected body {body}");
        Ok(())
    }
}

/// How an invocation ended: the response and when it was complete, or an error report.
type Answer = Result<(Instant, Bytes), String>;

/// One bootstrap process and the Runtime API it alone talks to (so a killed process's
/// waiting `next` can never take the next process's event); both end when this is dropped.
struct Instance {
    child: Child,
    log: PathBuf,
    events: mpsc::UnboundedSender<Bytes>,
    answers: mpsc::UnboundedReceiver<Answer>,
    runtime: tokio::task::JoinHandle<()>,
}

impl Instance {
    /// Starts a fresh process and waits for its answer to the first event: the time runs
    /// from just before exec to that answer, so it covers reading the configuration and
    /// the first database connection that main makes before the runtime loop.
    async fn cold_start(
        subject: &Subject,
        env: &[(&str, String)],
    ) -> anyhow::Result<(Self, Duration)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let (events, next) = mpsc::unbounded_channel();
        let (answer, answers) = mpsc::unbounded_channel();
        let runtime = tokio::spawn(runtime_api(listener, next, answer));
        let log = target_dir().join(format!("cold-start-{}.log", subject.name));
        let output = std::fs::File::create(&log)?;
        let mut command = Command::new(&subject.path);
        // Only what Lambda sets, and the app's configuration: nothing of this shell.
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", address)
            .env("AWS_LAMBDA_FUNCTION_NAME", &subject.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .kill_on_drop(true);
        events.send(subject.event.clone())?;
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("{}", subject.path.display()))?;
        let mut instance = Self {
            child,
            log,
            events,
            answers,
            runtime,
        };
        let answered = instance.answer(subject).await?;
        Ok((instance, answered - started))
    }

    /// One warm invocation, from queueing the event to the complete response.
    async fn invoke(&mut self, subject: &Subject) -> anyhow::Result<Duration> {
        let sent = Instant::now();
        self.events.send(subject.event.clone())?;
        Ok(self.answer(subject).await? - sent)
    }

    /// Waits for the runtime's answer; fails on anything but the expected response.
    async fn answer(&mut self, subject: &Subject) -> anyhow::Result<Instant> {
        let answer = tokio::select! {
            answer = self.answers.recv() => answer.context("the mock Runtime API stopped")?,
            status = self.child.wait() => Err(format!("exited ({}) before answering", status?)),
        };
        let answer = answer.map_err(anyhow::Error::msg);
        let checked = answer.and_then(|(at, body)| subject.check(&body).map(|()| at));
        checked.with_context(|| format!("{} (its output: {})", subject.name, self.log.display()))
    }

    /// The process's peak resident set (`VmHWM`), in MiB.
    fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        let pid = self.child.id().context("the process has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib = status.lines().find_map(|line| line.strip_prefix("VmHWM:"));
        let kib = kib
            .context("no VmHWM")?
            .trim()
            .trim_end_matches("kB")
            .trim();
        Ok(kib.parse::<f64>().context("VmHWM")? / 1024.0)
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        Ok(self.child.kill().await?)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.runtime.abort();
    }
}

/// The Runtime API routes lambda_runtime 1.x uses: `GET …/invocation/next` hands out the
/// next event; a POST to `…/response`, `…/error` or `…/init/error` is its answer.
async fn runtime_api(
    listener: tokio::net::TcpListener,
    next: mpsc::UnboundedReceiver<Bytes>,
    answer: mpsc::UnboundedSender<Answer>,
) {
    let next = Arc::new(Mutex::new(next));
    // Owned here, so aborting this task ends every connection too.
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let (next, answer) = (next.clone(), answer.clone());
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let (next, answer) = (next.clone(), answer.clone());
            async move {
                let path = req.uri().path().to_owned();
                let mut response = Response::new(Full::default());
                if path.ends_with("/invocation/next") {
                    let event = next.lock().await.recv().await.unwrap_or_default();
                    let deadline = SystemTime::now() + Duration::from_secs(30);
                    let deadline = deadline.duration_since(UNIX_EPOCH).unwrap_or_default();
                    let headers = response.headers_mut();
                    let id = uuid::Uuid::new_v4().to_string();
                    headers.insert("lambda-runtime-aws-request-id", id.parse()?);
                    let deadline = deadline.as_millis().to_string();
                    headers.insert("lambda-runtime-deadline-ms", deadline.parse()?);
                    *response.body_mut() = Full::new(event);
                    return anyhow::Ok(response);
                }
                let body = req.into_body().collect().await.map(|body| body.to_bytes());
                let (at, body) = (Instant::now(), body.unwrap_or_default());
                let _ = answer.send(match path.ends_with("/response") {
                    true => Ok((at, body)),
                    false => Err(format!("{path}: {}", String::from_utf8_lossy(&body))),
                });
                *response.status_mut() = StatusCode::ACCEPTED;
                Ok(response)
            }
        });
        let io = hyper_util::rt::TokioIo::new(stream);
        let http = hyper::server::conn::http1::Builder::new();
        connections.spawn(http.serve_connection(io, service));
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse(std::env::args().skip(1))?;
    for (name, path) in &args.functions {
        let build = format!("`cargo build --release -p {name}`, or --function {name}=PATH");
        ensure!(path.is_file(), "{} not found: {build}", path.display());
    }
    // The database, and how the functions reach it.
    let (db, mut env, proxy) = match &args.link {
        Some((delay_ms, bindir, direct)) => {
            let (db, secured) = BenchDb::start_secured(bindir.clone()).await?;
            let upstream = dev_server::postgres::host_and_port(&db.url)?;
            let proxy = Proxy::start(upstream, Mode::Passthrough).await?;
            proxy.delay_ms.store(*delay_ms, Ordering::SeqCst);
            let config = tokio_postgres::Config::from_str(&db.url)?;
            let database = config.get_dbname().context("no database in the URL")?;
            let url = secured.url(proxy.addr, database, *direct);
            let ca = secured.ca_file.display().to_string();
            let env = vec![("DATABASE_URL", url), ("DATABASE_CA_FILE", ca)];
            (db, env, Some(proxy))
        }
        None => {
            let db = BenchDb::start().await?;
            let env = vec![("DATABASE_URL", db.url.clone())];
            (db, env, None)
        }
    };
    env.push(("BETTER_AUTH_SECRET", SECRET.to_owned()));
    let mail = bench::BenchMail::new()?;
    let state = db.state(&mail, &[])?;
    let user = dev_server::fixtures::SeededUser::create(&state, "c@example.com", "pass", TASKS);
    let user = user.await?;
    let subjects = args.functions.into_iter().map(|f| Subject::new(f, &user));
    let mut subjects: Vec<_> = subjects.collect();

    // Round-robin, so machine noise spreads evenly over the functions. Round 0 brings the
    // binary and its libraries into the page cache, as a provisioned sandbox has them.
    let counted = || {
        proxy
            .as_ref()
            .map_or(0, |proxy| proxy.counters.snapshot().link_round_trips())
    };
    for round in 0..=args.runs {
        for subject in &mut subjects {
            let before = counted();
            let (instance, cold) = Instance::cold_start(subject, &env).await?;
            // Read at the first response, before the process is stopped (its goodbye is
            // no round trip the request waited for).
            let round_trips = counted() - before;
            instance.stop().await?;
            if round > 0 {
                subject.cold.push(cold);
                subject.round_trips = subject.round_trips.max(round_trips);
            }
        }
    }

    let ms = |duration| millis(duration, 1);
    if let Some((delay_ms, _, direct)) = args.link {
        let minimum = protocol_minimum(direct);
        let server = format!("PostgreSQL {}", bench::server_version(&db.url).await?);
        let negotiation = if direct { "direct" } else { "SSLRequest" };
        println!("{LINK_TABLE}");
        let mut over = Vec::new();
        for subject in &mut subjects {
            let cold = Percentiles::of(&mut subject.cold);
            let most = subject.round_trips;
            let ideal = ms(Duration::from_millis(2 * delay_ms * most));
            let cold = [cold.min, cold.p50, cold.max].map(ms).join(" | ");
            let name = &subject.name;
            println!(
                "| {name} | {server} | {negotiation} | {cold} | {most} | {minimum} | {ideal} |"
            );
            if most > minimum {
                over.push(name.as_str());
            }
        }
        ensure!(over.is_empty(), "above the minimum of {minimum}: {over:?}");
        return Ok(());
    }

    println!("{LOOPBACK_TABLE}");
    let hello = subjects.iter_mut().find(|subject| subject.name == "hello");
    let hello = hello.map(|hello| Percentiles::of(&mut hello.cold).p50);
    for subject in &mut subjects {
        let (mut instance, _) = Instance::cold_start(subject, &env).await?;
        let mut warm = Vec::new();
        for _ in 0..1000 {
            warm.push(instance.invoke(subject).await?);
        }
        let rss = instance.peak_rss_mib()?;
        instance.stop().await?;
        let cold = Percentiles::of(&mut subject.cold);
        let warm = Percentiles::of(&mut warm);
        let ratio = hello.map(|hello| cold.p50.as_secs_f64() / hello.as_secs_f64());
        let ratio = ratio.map_or("-".into(), |ratio| format!("{ratio:.2}"));
        let (name, warm) = (&subject.name, micros(warm.p50));
        let cold = [cold.min, cold.p50, cold.max].map(ms).join(" | ");
        println!("| {name} | {cold} | {ratio} | {warm} | {rss:.1} |");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> anyhow::Result<Args> {
        Args::parse(args.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn the_protocol_minimum() {
        // TCP, SSLRequest, TLS 1.3, startup, client-first, client-final, statements.
        assert_eq!(protocol_minimum(false), 7);
        // No SSLRequest with direct negotiation.
        assert_eq!(protocol_minimum(true), 6);
    }

    #[test]
    fn arguments_as_ci_and_bench_run_give_them() -> anyhow::Result<()> {
        let ci = "--link-delay-ms 20 --runs 2 --function health=target/debug/health \
                  --function session --postgres-bindir /pg17 --sslnegotiation direct";
        let args = parse(ci)?;
        assert_eq!(
            (args.runs, args.link),
            (2, Some((20, Some("/pg17".into()), true)))
        );
        let session = ("session".to_owned(), target_dir().join("release/session"));
        let health = ("health".to_owned(), "target/debug/health".into());
        assert_eq!(args.functions, [health, session]);
        let names = |args: Args| args.functions.into_iter().map(|(name, _)| name);
        let link = parse("--link-delay-ms 20 --sslnegotiation postgres")?;
        assert_eq!(link.link, Some((20, None, false)));
        let hello_first = names(parse("")?).collect::<Vec<_>>();
        assert_eq!(hello_first, KNOWN);
        assert_eq!(
            names(link).collect::<Vec<_>>(),
            KNOWN[1..],
            "hello has no database"
        );
        Ok(())
    }

    /// Unknown flags, bad values, missing values, flags without the one they go with.
    #[test]
    fn arguments_that_make_no_sense_are_refused() {
        let wrong = "--sslnegotiation direct; --postgres-bindir /pg17; --function nobody; \
                     --link-delay-ms 20 --function hello; --link-delay-ms 20 --sslnegotiation tls; \
                     --runs 0; --link-delay-ms soon; --markdown out.md; --runs";
        for wrong in wrong.split("; ") {
            assert!(parse(wrong).is_err(), "{wrong}");
        }
    }
}
