//! Database round trips per route, counted on the wire: a loopback proxy between the
//! application and PostgreSQL reads the protocol's message framing and counts the server's
//! ReadyForQuery messages (one per round trip), cross-checked against the pool's own
//! statement counter. With `--delay-ms D` the proxy also adds D ms of latency each way,
//! showing that a request's time grows by round trips × 2D.
//!
//! ```text
//! cargo run --release -p bench --bin round_trips -- [--delay-ms D] [--markdown FILE]
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bench::BenchDb;
use dev_server::fixtures::better_auth::{BetterAuthServer, BetterAuthUser};
use dev_server::mailbox::DevMailbox;
use lambda_http::Body;
use serde_json::{Value, json};
use shared::AppState;
use shared::config::MailSettings;
use shared::mail::Mailbox;
use shared::routes::ROUTES;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------
// The proxy.

/// Startup-phase request codes (protocol "message flow: start-up"): these two ask for
/// encryption first and expect a one-byte answer instead of authentication.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
/// A startup packet is small (user, database, a few options); anything bigger is garbage.
const MAX_STARTUP_BYTES: usize = 10_000;
/// PostgreSQL refuses messages over 1 GB; a length beyond that means the framing is lost.
const MAX_MESSAGE_BYTES: u32 = 1 << 30;

/// What the proxy saw, over every connection it carried.
#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    /// ReadyForQuery messages after each connection's startup: one per round trip.
    ready_for_query: AtomicU64,
    /// Reads from the client that held a Sync or a simple Query: the requests those
    /// ReadyForQuery messages answer (on loopback one write arrives as one read).
    sync_flushes: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Snapshot {
    connections: u64,
    ready_for_query: u64,
    sync_flushes: u64,
}

impl Counters {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            connections: self.connections.load(Ordering::SeqCst),
            ready_for_query: self.ready_for_query.load(Ordering::SeqCst),
            sync_flushes: self.sync_flushes.load(Ordering::SeqCst),
        }
    }
}

impl std::ops::Sub for Snapshot {
    type Output = Snapshot;
    fn sub(self, before: Snapshot) -> Snapshot {
        Snapshot {
            connections: self.connections - before.connections,
            ready_for_query: self.ready_for_query - before.ready_for_query,
            sync_flushes: self.sync_flushes - before.sync_flushes,
        }
    }
}

/// Splits one direction's byte stream into typed messages (`type byte, Int32 length`
/// including itself, body), across reads of any size. Bodies are skipped, not buffered.
#[derive(Default)]
struct Framer {
    header: Vec<u8>,
    skip: usize,
}

impl Framer {
    /// The type bytes of the messages whose header completes in `bytes`.
    fn feed(&mut self, mut bytes: &[u8], types: &mut Vec<u8>) -> anyhow::Result<()> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (5 - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            let [kind, a, b, c, d] = self.header[..] else {
                continue;
            };
            let length = u32::from_be_bytes([a, b, c, d]);
            ensure!(
                (4..=MAX_MESSAGE_BYTES).contains(&length),
                "message {:?} has impossible length {length}: framing lost",
                char::from(kind)
            );
            self.skip = usize::try_from(length - 4)?;
            types.push(kind);
            self.header.clear();
        }
        Ok(())
    }
}

/// A loopback TCP proxy to one PostgreSQL server that counts round trips and can delay
/// every forwarded chunk.
struct Proxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    /// Added latency per direction, in milliseconds; changed between passes.
    delay_ms: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: (String, u16)) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = Self {
            addr: listener.local_addr()?,
            counters: Arc::default(),
            delay_ms: Arc::default(),
        };
        let (counters, delay_ms) = (proxy.counters.clone(), proxy.delay_ms.clone());
        tokio::spawn(async move {
            loop {
                let client = match listener.accept().await {
                    Ok((client, _)) => client,
                    Err(err) => {
                        eprintln!("proxy: accept failed: {err}");
                        return;
                    }
                };
                counters.connections.fetch_add(1, Ordering::SeqCst);
                let (counters, delay_ms, upstream) =
                    (counters.clone(), delay_ms.clone(), upstream.clone());
                tokio::spawn(async move {
                    if let Err(err) = carry(client, upstream, counters, delay_ms).await {
                        eprintln!("proxy: connection ended: {err:#}");
                    }
                });
            }
        });
        Ok(proxy)
    }
}

/// One client connection: the startup phase by hand (refusing encryption, so the
/// application talks plaintext that can be read), then both directions pumped and counted.
async fn carry(
    mut client: TcpStream,
    upstream: (String, u16),
    counters: Arc<Counters>,
    delay_ms: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    client.set_nodelay(true)?;
    let mut server = TcpStream::connect((upstream.0.as_str(), upstream.1))
        .await
        .context("connecting to PostgreSQL")?;
    server.set_nodelay(true)?;

    // Startup messages have no type byte: Int32 length, Int32 code, then the body.
    loop {
        let mut head = [0u8; 8];
        client.read_exact(&mut head).await?;
        let [a, b, c, d, e, f, g, h] = head;
        let length = usize::try_from(u32::from_be_bytes([a, b, c, d]))?;
        let code = u32::from_be_bytes([e, f, g, h]);
        ensure!(
            (8..=MAX_STARTUP_BYTES).contains(&length),
            "startup packet of {length} bytes"
        );
        let mut body = vec![0u8; length - 8];
        client.read_exact(&mut body).await?;
        if code == SSL_REQUEST || code == GSSENC_REQUEST {
            // "N": not supported here; the client goes on in plaintext (or gives up if
            // its sslmode demands TLS, which is why the app's URL says sslmode=disable).
            client.write_all(b"N").await?;
            continue;
        }
        server.write_all(&head).await?;
        server.write_all(&body).await?;
        break;
    }

    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();

    let up_counters = counters.clone();
    let mut up_framer = Framer::default();
    let mut types = Vec::new();
    let up = pump(client_read, server_write, delay_ms.clone(), move |chunk| {
        types.clear();
        up_framer.feed(chunk, &mut types)?;
        if types.iter().any(|kind| matches!(kind, b'S' | b'Q')) {
            up_counters.sync_flushes.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    });

    let mut down_framer = Framer::default();
    let mut types = Vec::new();
    // The first ReadyForQuery ends authentication: it answers no request.
    let mut started = false;
    let down = pump(server_read, client_write, delay_ms, move |chunk| {
        types.clear();
        down_framer.feed(chunk, &mut types)?;
        for kind in &types {
            if *kind == b'Z' {
                if started {
                    counters.ready_for_query.fetch_add(1, Ordering::SeqCst);
                }
                started = true;
            }
        }
        Ok(())
    });
    let (up, down) = tokio::join!(up, down);
    up.context("client to server")?;
    down.context("server to client")
}

/// Copies `from` to `to`, letting `inspect` see every chunk as it arrives and delivering
/// it `delay_ms` later. Chunks are queued with their due time rather than slept on in the
/// reader, so the delay is latency (each chunk late by D), not a rate limit.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin + Send + 'static,
    delay_ms: Arc<AtomicU64>,
    mut inspect: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (queue, mut due) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = due.recv().await {
            // Tokio's timer rounds up to the next millisecond: an undelayed chunk must
            // not meet it at all.
            if at > tokio::time::Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            to.write_all(&chunk).await?;
        }
        to.shutdown().await
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        let chunk = &buffer[..n];
        inspect(chunk)?;
        let at =
            tokio::time::Instant::now() + Duration::from_millis(delay_ms.load(Ordering::SeqCst));
        if queue.send((at, chunk.to_vec())).is_err() {
            break;
        }
    }
    drop(queue);
    writer.await??;
    Ok(())
}

/// `url` pointed at the proxy, in plaintext (the proxy must read the protocol).
fn through_proxy(url: &str, proxy: SocketAddr) -> anyhow::Result<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("the database URL must be a postgres:// URL for the proxy");
    };
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority
        .rsplit_once('@')
        .map_or(String::new(), |(user, _)| format!("{user}@"));
    let (database, query) = tail.split_once('?').unwrap_or((tail, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            !pair.is_empty() && !matches!(key, "sslmode" | "host" | "port" | "channel_binding")
        })
        .collect();
    params.push("sslmode=disable");
    Ok(format!(
        "{scheme}://{user}{proxy}/{database}?{}",
        params.join("&")
    ))
}

/// Host and port of the server behind `url`.
fn upstream(url: &str) -> anyhow::Result<(String, u16)> {
    let config: tokio_postgres::Config = url.parse()?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => bail!("the proxy needs a TCP host in the database URL"),
    };
    Ok((host, config.get_ports().first().copied().unwrap_or(5432)))
}

// ---------------------------------------------------------------------------------------
// The requests.

/// The credential a pass authenticates its protected requests with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// Our HS256 token.
    Ours,
    BetterAuthJwt,
    BetterAuthSession,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Ours => "our token",
            Kind::BetterAuthJwt => "Better Auth JWT",
            Kind::BetterAuthSession => "Better Auth session token",
        }
    }
}

/// The round trips each route is designed to take with a credential of `kind` (`None`:
/// not a route such a credential is sent to). One statement per request, but for the two
/// that must judge an attempt before hashing or verifying a password and write after it
/// (signin needs the stored hash before it can open the session; signup's throttle verdict
/// must come before the hash it then stores); and signing out a Better Auth caller touches
/// nothing of ours (Better Auth ends its own sessions).
fn expected(function: &str, kind: Kind) -> Option<u64> {
    const ACCOUNT: [&str; 7] = [
        "change-password",
        "user-update",
        "user-delete",
        "sessions-list",
        "session-revoke",
        "forgot-password",
        "reset-password",
    ];
    match (kind, function) {
        // A password is hashed or verified between two statements: the one that judges
        // the attempt (or the token) and reads what the check needs, and the one that
        // writes after it.
        (
            Kind::Ours,
            "signin" | "signup" | "change-password" | "user-delete" | "reset-password",
        ) => Some(2),
        (Kind::Ours, _) => Some(1),
        (_, "signin" | "signup" | "health") => None,
        // Better Auth manages those accounts: refused before any statement.
        (_, function) if ACCOUNT.contains(&function) => None,
        (_, "signout") => Some(0),
        (_, _) => Some(1),
    }
}

/// One request's figures.
struct Measured {
    status: u16,
    wire: Snapshot,
    statements: u64,
    /// Statements sent unnamed because they were missing from the function's plan.
    unplanned: u64,
    elapsed: Duration,
}

/// Each function's state, as its own cold start builds it: its own plan prepared on its
/// own connection (opened through the proxy before anything is measured).
struct Functions {
    states: HashMap<&'static str, AppState>,
}

impl Functions {
    fn state(&self, function: &str) -> anyhow::Result<&AppState> {
        self.states
            .get(function)
            .with_context(|| format!("no state for {function}"))
    }
}

struct Pass<'a> {
    functions: &'a Functions,
    counters: &'a Counters,
    /// Where forgot-password's mail goes.
    mailbox: &'a DevMailbox,
    measured: HashMap<&'static str, Measured>,
}

impl Pass<'_> {
    /// A signin that a later request needs, not measured; its token.
    async fn setup_signin(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({ "email": email, "password": password });
        let req =
            dev_server::fixtures::gateway_request("signin", "/api/auth/signin", None, Some(&body))?;
        let response = dev_server::dispatch(self.functions.state("signin")?, "signin", req)
            .await
            .map_err(|err| anyhow::anyhow!("signin failed: {err}"))?;
        let body: Value = match response.body() {
            Body::Text(text) => serde_json::from_str(text)?,
            _ => Value::Null,
        };
        Ok(body["token"]
            .as_str()
            .context("signin gave no token")?
            .to_owned())
    }

    /// Sends one request through `function`'s handler; it must answer `status`.
    async fn send(
        &mut self,
        function: &'static str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: u16,
    ) -> anyhow::Result<Value> {
        let req = dev_server::fixtures::gateway_request(function, path, token, body.as_ref())?;
        let state = self.functions.state(function)?;
        let (wire, statements, unplanned) = (
            self.counters.snapshot(),
            state.db.round_trips(),
            state.db.unplanned_statements(),
        );
        let started = Instant::now();
        let response = dev_server::dispatch(state, function, req).await;
        let elapsed = started.elapsed();
        let (wire, statements, unplanned) = (
            self.counters.snapshot() - wire,
            state.db.round_trips() - statements,
            state.db.unplanned_statements() - unplanned,
        );
        let response = response.map_err(|err| anyhow::anyhow!("{function} failed: {err}"))?;
        let got = response.status().as_u16();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text)?,
            _ => Value::Null,
        };
        ensure!(got == status, "{function} answered {got}: {body}");
        self.measured.insert(
            function,
            Measured {
                status: got,
                wire,
                statements,
                unplanned,
                elapsed,
            },
        );
        Ok(body)
    }
}

/// One typical successful request per route, in an order where each finds what it needs
/// (a user, a token, a task). `tag` keeps the pass's email unique.
async fn pass(
    functions: &Functions,
    counters: &Counters,
    mailbox: &DevMailbox,
    tag: &str,
) -> anyhow::Result<HashMap<&'static str, Measured>> {
    let mut pass = Pass {
        functions,
        counters,
        mailbox,
        measured: HashMap::new(),
    };
    let (email, password) = (format!("rt-{tag}@example.com"), "correct horse battery");
    let body = json!({ "name": "Round Trip", "email": email, "password": password });
    let signed_up = pass
        .send("signup", "/api/auth/signup", None, Some(body), 201)
        .await?;
    let user = signed_up["user"]["id"]
        .as_str()
        .context("signup gave no user id")?
        .to_owned();
    let body = json!({ "email": email, "password": password });
    let signed_in = pass
        .send("signin", "/api/auth/signin", None, Some(body), 200)
        .await?;
    let token = signed_in["token"]
        .as_str()
        .context("signin gave no token")?
        .to_owned();
    pass.send("health", "/api/health", None, None, 200).await?;
    protected_requests(&mut pass, &user, &token).await?;
    let token = account_requests(&mut pass, &email, password, &token).await?;
    pass.send("signout", "/api/auth/signout", Some(&token), None, 200)
        .await?;
    pass.complete(Kind::Ours)
}

/// One typical successful request per account route, as the account `email` signed in
/// with `token`; the token of its last session (the reset ends the others).
async fn account_requests(
    pass: &mut Pass<'_>,
    email: &str,
    password: &str,
    token: &str,
) -> anyhow::Result<String> {
    let body = json!({ "name": "Round Trip Renamed" });
    pass.send(
        "user-update",
        "/api/auth/user",
        Some(token),
        Some(body),
        200,
    )
    .await?;
    // A second device, to sign out from the first.
    let second = pass.setup_signin(email, password).await?;
    let claims = jwtoken_claims_unverified(&second)?;
    let second_session = claims["jti"].as_str().context("no jti")?;
    pass.send(
        "sessions-list",
        "/api/auth/sessions",
        Some(token),
        None,
        200,
    )
    .await?;
    let path = format!("/api/auth/sessions/{second_session}");
    pass.send("session-revoke", &path, Some(token), None, 200)
        .await?;
    let new_password = "a changed passphrase";
    let body = json!({ "current_password": password, "new_password": new_password });
    pass.send(
        "change-password",
        "/api/auth/change-password",
        Some(token),
        Some(body),
        200,
    )
    .await?;
    let body = json!({ "email": email });
    pass.send(
        "forgot-password",
        "/api/auth/forgot-password",
        None,
        Some(body),
        200,
    )
    .await?;
    let mail = pass
        .mailbox
        .messages_to(email)?
        .pop()
        .context("no reset mail")?;
    let link = "reset-password?token=";
    let at = mail.find(link).context("no reset link")? + link.len();
    let reset_token: String = mail[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let reset_password = "a reset passphrase";
    let body = json!({ "token": reset_token, "password": reset_password });
    pass.send(
        "reset-password",
        "/api/auth/reset-password",
        None,
        Some(body),
        200,
    )
    .await?;
    // The reset ended every session: a new one, for the rest.
    let token = pass.setup_signin(email, reset_password).await?;
    let body = json!({ "password": reset_password });
    pass.send(
        "user-delete",
        "/api/auth/user",
        Some(&token),
        Some(body),
        200,
    )
    .await?;
    Ok(token)
}

/// The claims of a JWT, read without verifying it (the bench's own token).
fn jwtoken_claims_unverified(token: &str) -> anyhow::Result<Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).context("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// One typical successful request per protected route, as the caller `user` with `token`.
async fn protected_requests(pass: &mut Pass<'_>, user: &str, token: &str) -> anyhow::Result<()> {
    let token = Some(token);
    pass.send("session", "/api/auth/session", token, None, 200)
        .await?;
    let tasks = format!("/api/{user}/tasks");
    let body = json!({ "title": "Buy milk", "description": "Two litres" });
    let created = pass
        .send("task-create", &tasks, token, Some(body), 201)
        .await?;
    let id = created["id"].as_i64().context("task-create gave no id")?;
    let task = format!("{tasks}/{id}");
    pass.send("tasks-list", &tasks, token, None, 200).await?;
    pass.send("task-get", &task, token, None, 200).await?;
    let body = json!({ "title": "Buy oat milk", "description": "One litre" });
    pass.send("task-replace", &task, token, Some(body), 200)
        .await?;
    let body = json!({ "title": "Buy oat milk today" });
    pass.send("task-update", &task, token, Some(body), 200)
        .await?;
    pass.send(
        "task-complete",
        &format!("{task}/complete"),
        token,
        None,
        200,
    )
    .await?;
    pass.send("task-delete", &task, token, None, 200).await?;
    Ok(())
}

impl Pass<'_> {
    /// The figures, once every route a credential of `kind` is sent to was measured.
    fn complete(self, kind: Kind) -> anyhow::Result<HashMap<&'static str, Measured>> {
        let missing: Vec<_> = ROUTES
            .iter()
            .filter(|route| expected(route.function, kind).is_some())
            .filter(|route| !self.measured.contains_key(route.function))
            .map(|route| route.function)
            .collect();
        ensure!(
            missing.is_empty(),
            "no typical request written for {missing:?} ({})",
            kind.label()
        );
        Ok(self.measured)
    }
}

/// The protected routes with a Better Auth user's credential of `kind`.
async fn better_auth_pass(
    functions: &Functions,
    counters: &Counters,
    mailbox: &DevMailbox,
    user: &BetterAuthUser,
    kind: Kind,
) -> anyhow::Result<HashMap<&'static str, Measured>> {
    let mut pass = Pass {
        functions,
        counters,
        mailbox,
        measured: HashMap::new(),
    };
    let credential = match kind {
        Kind::BetterAuthJwt => &user.jwt,
        _ => &user.session_token,
    };
    protected_requests(&mut pass, &user.id, credential).await?;
    pass.send("signout", "/api/auth/signout", Some(credential), None, 200)
        .await?;
    pass.complete(kind)
}

fn millis(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1e3)
}

/// The table of every pass (`delayed`, when given, is our tokens' pass again with the
/// proxy's delay), and what in it is odd.
fn report(
    passes: &[(Kind, &HashMap<&'static str, Measured>)],
    delayed: Option<(u64, &HashMap<&'static str, Measured>)>,
) -> anyhow::Result<(String, Vec<String>)> {
    let mut out = String::from(
        "| route | function | credential | status | expected | ReadyForQuery (wire) | statements (pool counter) | Sync/Query flushes | time ms |",
    );
    let mut rule = String::from("|---|---|---|---:|---:|---:|---:|---:|---:|");
    if let Some((delay, _)) = delayed {
        let _ = write!(
            out,
            " time ms, {delay} ms each way | added ms | round trips × 2 × {delay} ms |"
        );
        rule.push_str("---:|---:|---:|");
    }
    out.push('\n');
    out.push_str(&rule);
    out.push('\n');
    let mut odd = Vec::new();
    for (kind, plain) in passes {
        for route in ROUTES {
            let Some(expected) = expected(route.function, *kind) else {
                continue;
            };
            let label = format!("{} ({})", route.function, kind.label());
            let m = plain
                .get(route.function)
                .with_context(|| format!("{label} not measured"))?;
            let trips = m.wire.ready_for_query;
            let _ = write!(
                out,
                "| {} {} | {} | {} | {} | {expected} | {trips} | {} | {} | {} |",
                route.method,
                route.path,
                route.function,
                kind.label(),
                m.status,
                m.statements,
                m.wire.sync_flushes,
                millis(m.elapsed)
            );
            if trips != m.statements || trips != m.wire.sync_flushes {
                odd.push(format!(
                    "{label}: the wire shows {trips} ReadyForQuery and {} Sync/Query flushes, the pool counted {} statements",
                    m.wire.sync_flushes, m.statements
                ));
            }
            if trips != expected {
                odd.push(format!("{label}: {trips} round trips, {expected} expected"));
            }
            if m.unplanned > 0 {
                odd.push(format!(
                    "{label}: sent {} statement(s) missing from its plan (unnamed)",
                    m.unplanned
                ));
            }
            if m.wire.connections > 0 {
                odd.push(format!(
                    "{label}: opened {} new connection(s)",
                    m.wire.connections
                ));
            }
            match delayed {
                Some((delay, delayed)) if *kind == Kind::Ours => {
                    let d = delayed
                        .get(route.function)
                        .with_context(|| format!("{label} not measured with delay"))?;
                    let added = d.elapsed.as_secs_f64() * 1e3 - m.elapsed.as_secs_f64() * 1e3;
                    let _ = write!(
                        out,
                        " {} | {:.2} | {} |",
                        millis(d.elapsed),
                        added,
                        d.wire.ready_for_query * 2 * delay
                    );
                    if d.wire.ready_for_query != trips {
                        odd.push(format!(
                            "{label}: {} round trips with delay, {trips} without",
                            d.wire.ready_for_query
                        ));
                    }
                }
                Some(_) => out.push_str(" | | |"),
                None => {}
            }
            out.push('\n');
        }
    }
    Ok((out, odd))
}

struct Args {
    delay_ms: Option<u64>,
    markdown: Option<std::path::PathBuf>,
    better_auth: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        delay_ms: None,
        markdown: None,
        better_auth: false,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = || given.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--delay-ms" => args.delay_ms = Some(value()?.parse().context("--delay-ms")?),
            "--markdown" => args.markdown = Some(value()?.into()),
            "--better-auth" => args.better_auth = true,
            "-h" | "--help" => {
                println!(
                    "usage: round_trips [--delay-ms D] [--markdown FILE] [--better-auth]\n\
                     --better-auth also drives the protected routes with a real Better Auth's \
                     JWT and session token (needs Node.js and \
                     npm ci --prefix dev-server/tests/better-auth)"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let db = BenchDb::start().await?;
    let proxy = Proxy::start(upstream(&db.url)?).await?;
    let url = through_proxy(&db.url, proxy.addr)?;
    // A real Better Auth on the same database (straight to PostgreSQL, not through the
    // proxy: only the API's statements are counted), and one of its users.
    let better_auth = match args.better_auth {
        false => None,
        true => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let base_url = format!("http://127.0.0.1:{port}");
            let server =
                BetterAuthServer::try_start(&db.url, bench::SECRET, &base_url, port, &[]).await?;
            let user = server.try_sign_up("Round Trip", "rt@example.com").await?;
            Some((base_url, server, user))
        }
    };
    // Production settings (throttling on at its defaults) on one pooled connection.
    let mut settings = vec![("DATABASE_URL", url.as_str()), ("DATABASE_POOL_SIZE", "1")];
    if let Some((base_url, _, _)) = &better_auth {
        settings.push(("BETTER_AUTH_URL", base_url));
    }
    // The local server's mailbox: forgot-password's mail, read back for its link.
    let mail_dir =
        std::env::temp_dir().join(format!("todo-api-round-trips-{}", std::process::id()));
    let mailbox = Arc::new(DevMailbox::new(&mail_dir)?);
    let mut states = HashMap::new();
    for route in ROUTES {
        let mut state = db.state_of(route.function, &settings)?;
        state.mailbox = Some(Mailbox {
            settings: MailSettings {
                from: "no-reply@bench.example.com".into(),
                app_url: "http://localhost:3000".into(),
                reset_token_ttl: Duration::from_secs(1800),
            },
            mailer: mailbox.clone(),
        });
        // The connection with its plan prepared, and Better Auth's keys, are paid here,
        // as a cold start pays them, outside every measured request.
        state.db.warm_up().await?;
        if let Some(keys) = &state.better_auth {
            keys.read_keys_logged(&state.db).await;
        }
        states.insert(route.function, state);
    }
    let functions = Functions { states };
    ensure!(
        proxy.counters.snapshot().connections == ROUTES.len() as u64,
        "the warm-ups did not all go through the proxy"
    );

    let plain = pass(&functions, &proxy.counters, &mailbox, "plain").await?;
    let mut passes = vec![(Kind::Ours, plain)];
    if let Some((_, _, user)) = &better_auth {
        for kind in [Kind::BetterAuthJwt, Kind::BetterAuthSession] {
            passes.push((
                kind,
                better_auth_pass(&functions, &proxy.counters, &mailbox, user, kind).await?,
            ));
        }
    }
    let delayed = match args.delay_ms {
        Some(delay) => {
            proxy.delay_ms.store(delay, Ordering::SeqCst);
            let delayed = pass(&functions, &proxy.counters, &mailbox, "delayed").await?;
            Some((delay, delayed))
        }
        None => None,
    };
    let passes: Vec<_> = passes
        .iter()
        .map(|(kind, measured)| (*kind, measured))
        .collect();
    let (table, odd) = report(&passes, delayed.as_ref().map(|(d, m)| (*d, m)))?;

    let mut out = String::from(
        "## Database round trips per route\n\nOne typical successful request per route through \
         its real handler, in process, each function on one pooled connection of its own that \
         was opened (and its statements prepared) beforehand, as a cold start does. A \
         statement missing from the function's plan would be sent unnamed and is reported. \
         A loopback proxy between the pool and PostgreSQL counts the server's ReadyForQuery \
         messages (one ends every round trip) and the client's reads holding a Sync or \
         Query; the pool's own statement counter is the cross-check. Throttling is on at \
         its defaults. With --better-auth, the protected routes are driven again with a real \
         Better Auth's JWT and session token (its keys read beforehand, as a cold start \
         does).\n\n",
    );
    if let Some((delay, _)) = delayed {
        let _ = write!(
            out,
            "With delay: the proxy holds every chunk {delay} ms in each direction, on a second \
             pass with a new user; \"added ms\" is that pass's time minus the first pass's and \
             should be close to round trips × 2 × {delay} ms. Tokio's timer rounds each \
             delay up to its next millisecond tick, so expect up to 1 ms more per direction \
             per round trip; argon2id makes signup and signin noisier.\n\n"
        );
    }
    out.push_str(&table);
    if odd.is_empty() {
        out.push_str(
            "\nEvery route took its expected round trips; wire and pool counters agree.\n",
        );
    } else {
        out.push_str("\nOdd:\n\n");
        for line in &odd {
            let _ = writeln!(out, "- {line}");
        }
    }
    println!("{out}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &out).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    // CI runs this as a check: a route that grows a round trip fails it.
    ensure!(odd.is_empty(), "{} odd findings, listed above", odd.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message of `kind` with `body`, framed as on the wire.
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let length = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
        let mut out = vec![kind];
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn framing_survives_reads_of_any_size() -> anyhow::Result<()> {
        let stream = [
            message(b'P', b"\0SELECT 1\0\0\0"),
            message(b'B', &[0; 12]),
            message(b'E', &[0; 5]),
            message(b'S', &[]),
        ]
        .concat();
        for size in 1..=stream.len() {
            let (mut framer, mut types) = (Framer::default(), Vec::new());
            for chunk in stream.chunks(size) {
                framer.feed(chunk, &mut types)?;
            }
            assert_eq!(types, b"PBES", "reads of {size} bytes");
        }
        let mut types = Vec::new();
        assert!(Framer::default().feed(b"Z\0\0\0\x02", &mut types).is_err());
        Ok(())
    }

    #[test]
    fn the_app_url_points_at_the_proxy_in_plaintext() -> anyhow::Result<()> {
        let proxy: SocketAddr = "127.0.0.1:7000".parse()?;
        assert_eq!(
            through_proxy(
                "postgres://u:p@db.example.com:5432/app?sslmode=verify-full&application_name=x",
                proxy
            )?,
            "postgres://u:p@127.0.0.1:7000/app?application_name=x&sslmode=disable"
        );
        assert_eq!(
            through_proxy("postgresql://localhost/app", proxy)?,
            "postgresql://127.0.0.1:7000/app?sslmode=disable"
        );
        Ok(())
    }

    /// Against a scripted server: an SSLRequest is answered "N" by the proxy and never
    /// reaches the server, the startup message is forwarded whole, the startup's
    /// ReadyForQuery is not counted, and a later Sync and its ReadyForQuery are.
    #[tokio::test]
    async fn startup_is_not_counted_and_requests_are() -> anyhow::Result<()> {
        let server = TcpListener::bind("127.0.0.1:0").await?;
        let port = server.local_addr()?.port();
        let startup = {
            let params = b"user\0postgres\0\0";
            let length = u32::try_from(8 + params.len())?;
            [&length.to_be_bytes()[..], &196_608u32.to_be_bytes(), params].concat()
        };
        let expected = startup.clone();
        let scripted = tokio::spawn(async move {
            let (mut socket, _) = server.accept().await?;
            let mut got = vec![0; expected.len()];
            socket.read_exact(&mut got).await?;
            anyhow::ensure!(got == expected, "server got {got:?}");
            let ready = message(b'Z', b"I");
            socket
                .write_all(&[message(b'R', &[0; 4]), ready.clone()].concat())
                .await?;
            let mut sync = [0; 5];
            socket.read_exact(&mut sync).await?;
            anyhow::ensure!(sync == *b"S\0\0\0\x04", "server got {sync:?}");
            socket.write_all(&ready).await?;
            anyhow::Ok(())
        });

        let proxy = Proxy::start(("127.0.0.1".into(), port)).await?;
        let mut client = TcpStream::connect(proxy.addr).await?;
        let ssl_request = [8u32.to_be_bytes(), SSL_REQUEST.to_be_bytes()].concat();
        client.write_all(&ssl_request).await?;
        let mut answer = [0; 1];
        client.read_exact(&mut answer).await?;
        assert_eq!(&answer, b"N");
        client.write_all(&startup).await?;
        let mut reply = [0; 9 + 6];
        client.read_exact(&mut reply).await?;
        assert_eq!(proxy.counters.snapshot().ready_for_query, 0);

        client.write_all(&message(b'S', &[])).await?;
        let mut ready = [0; 6];
        client.read_exact(&mut ready).await?;
        scripted.await??;
        let seen = proxy.counters.snapshot();
        assert_eq!(
            (seen.connections, seen.ready_for_query, seen.sync_flushes),
            (1, 1, 1)
        );
        Ok(())
    }
}
