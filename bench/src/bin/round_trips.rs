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
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bench::BenchDb;
use bench::proxy::{Counters, Mode, Proxy, Snapshot, through_proxy, upstream};
use dev_server::fixtures::better_auth::BetterAuthUser;
use dev_server::mailbox::DevMailbox;
use serde_json::{Value, json};
use shared::routes::ROUTES;
use shared::state::MailState;

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
    states: HashMap<&'static str, MailState>,
}

impl Functions {
    fn state(&self, function: &str) -> anyhow::Result<&MailState> {
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

impl<'a> Pass<'a> {
    fn new(functions: &'a Functions, counters: &'a Counters, mailbox: &'a DevMailbox) -> Self {
        Self {
            functions,
            counters,
            mailbox,
            measured: HashMap::new(),
        }
    }

    /// A signin that a later request needs, not measured; its token.
    async fn setup_signin(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({ "email": email, "password": password });
        let req =
            dev_server::fixtures::gateway_request("signin", "/api/auth/signin", None, Some(&body))?;
        let (status, body) = bench::answer(
            dev_server::dispatch(self.functions.state("signin")?, "signin", req).await,
        )
        .context("signin")?;
        ensure!(status == 200, "signin answered {status}: {body}");
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
        let (got, body) = bench::answer(response).context(function)?;
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
    let mut pass = Pass::new(functions, counters, mailbox);
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
    let second_session = pass
        .functions
        .state("session-revoke")?
        .tokens
        .verify(&second)
        .map_err(|err| anyhow::anyhow!("the second signin's token: {err:?}"))?
        .session_id;
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
    let reset_token =
        dev_server::mailbox::link_token_in(&mail, &format!("{}/reset-password", bench::APP_URL))
            .context("no reset link")?;
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
    let mut pass = Pass::new(functions, counters, mailbox);
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
    let proxy = Proxy::start(upstream(&db.url)?, Mode::Protocol).await?;
    let url = through_proxy(&db.url, proxy.addr)?;
    // A real Better Auth on the same database (straight to PostgreSQL, not through the
    // proxy: only the API's statements are counted), and one of its users.
    let better_auth = match args.better_auth {
        false => None,
        true => Some(bench::better_auth_with_user(&db.url, "Round Trip", "rt@example.com").await?),
    };
    // Production settings (throttling on at its defaults) on one pooled connection.
    let mut settings = vec![("DATABASE_URL", url.as_str()), ("DATABASE_POOL_SIZE", "1")];
    if let Some((server, _)) = &better_auth {
        settings.push(("BETTER_AUTH_URL", server.address.as_str()));
    }
    // The local server's mailbox: forgot-password's mail, read back for its link.
    let mail = bench::BenchMail::new()?;
    let mut states = HashMap::new();
    for route in ROUTES {
        let state = db.state_of(route.function, &mail, &settings)?;
        // The connection with its plan prepared, and Better Auth's keys, are paid here,
        // as a cold start pays them, outside every measured request.
        state.db.warm_up_prepared().await?;
        if let Some(keys) = &state.better_auth {
            keys.cold_start_logged(&state.db).await;
        }
        states.insert(route.function, state);
    }
    let functions = Functions { states };
    ensure!(
        proxy.counters.snapshot().connections == ROUTES.len() as u64,
        "the warm-ups did not all go through the proxy"
    );

    let plain = pass(&functions, &proxy.counters, &mail.mailer, "plain").await?;
    let mut passes = vec![(Kind::Ours, plain)];
    if let Some((_, user)) = &better_auth {
        for kind in [Kind::BetterAuthJwt, Kind::BetterAuthSession] {
            passes.push((
                kind,
                better_auth_pass(&functions, &proxy.counters, &mail.mailer, user, kind).await?,
            ));
        }
    }
    let delayed = match args.delay_ms {
        Some(delay) => {
            proxy.delay_ms.store(delay, Ordering::SeqCst);
            let delayed = pass(&functions, &proxy.counters, &mail.mailer, "delayed").await?;
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
