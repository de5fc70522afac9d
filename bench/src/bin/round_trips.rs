//! Database round trips per route, counted on the wire, and checked: one typical successful
//! request per route of `shared::routes::ROUTES` through its function's real handler, in
//! process, each function on one pooled connection of its own, opened (its statements
//! prepared) beforehand as a cold start does. A loopback proxy between the pools and
//! PostgreSQL reads the protocol and counts the server's ReadyForQuery messages (one per
//! round trip) and the client's reads holding a Sync or Query; the pool's own statement
//! counter is the cross-check. Requests and expectations are keyed by route (method and
//! path); the run fails on a route of the table left unmeasured, on a count other than the
//! expected one, on counters that disagree, and on a statement missing from a plan.
//!
//! `--better-auth` drives the routes a Better Auth caller may use again with a real Better
//! Auth's JWT and session token; `--delay-ms D` runs our pass again with D ms added each
//! way, showing that a request's time grows by round trips × 2D.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use bench::proxy::{Counters, Mode, Proxy, Snapshot};
use bench::{BenchDb, BenchMail, Flags, millis};
use dev_server::fixtures::better_auth::BetterAuthServer;
use serde_json::{Value, json};
use shared::function::Access;
use shared::routes::{ROUTES, Route};
use shared::state::MailState;

const USAGE: &str = "usage: round_trips [--delay-ms D] [--better-auth]";

/// The routes that verify or hash a password between two statements: the one that judges
/// the attempt and reads what the check needs, and the one that writes after it (so no
/// transaction stays open across argon2id). Every other request is one statement.
const PASSWORD_BETWEEN_TWO: [&str; 6] = [
    "POST /api/auth/signup",
    "POST /api/auth/signin",
    "POST /api/auth/change-password",
    "DELETE /api/auth/user",
    "POST /api/auth/reset-password",
    "POST /api/auth/change-email",
];

/// Better Auth ends its own sessions: signing its caller out touches nothing of ours.
const SIGNOUT: &str = "POST /api/auth/signout";

/// The credentials a pass authenticates its protected requests with: ours, then Better
/// Auth's.
const OURS: &str = "our token";
const BETTER_AUTH: [&str; 2] = ["Better Auth JWT", "Better Auth session token"];

/// A route's key: its method and path template, `GET /api/{user_id}/tasks`.
fn key(route: &Route) -> String {
    format!("{} {}", route.method, route.path)
}

fn route(wanted: &str) -> anyhow::Result<&'static Route> {
    let found = ROUTES.iter().find(|route| key(route) == wanted);
    found.with_context(|| format!("`{wanted}` is not a route of shared::routes::ROUTES"))
}

fn access(route: &Route) -> Option<Access> {
    dev_server::declared(route.function).map(|declared| declared.access)
}

/// The round trips `route` is designed to take with our credential or Better Auth's;
/// `None`: not a route such a credential is sent to (a Better Auth caller reaches the
/// routes open to any credential, and signout; the account routes refuse it first).
fn expected(route: &Route, ours: bool) -> Option<u64> {
    let key = key(route);
    match ours {
        true if PASSWORD_BETWEEN_TWO.contains(&key.as_str()) => Some(2),
        true => Some(1),
        false if key == SIGNOUT => Some(0),
        false => matches!(
            access(route)?,
            Access::AnyCredential(_) | Access::PathOwner(_)
        )
        .then_some(1),
    }
}

/// One request's figures: its status, the wire's counters, the pool's statement counter
/// and how long it took.
type Measured = (u16, Snapshot, u64, Duration);
type Measures = HashMap<String, Measured>;

/// Each function's state, as its own cold start builds it, and what the passes share.
struct Run {
    states: HashMap<&'static str, MailState>,
    counters: std::sync::Arc<Counters>,
    mail: BenchMail,
    /// What is wrong, route by route.
    wrong: std::cell::RefCell<Vec<String>>,
}

impl Run {
    /// The token of the newest link to `page` mailed to `email`.
    fn mailed_link(&self, email: &str, page: &str) -> anyhow::Result<String> {
        let page = format!("{}{page}", bench::APP_URL);
        let mail = self.mail.mailer.messages_to(email)?;
        let link = mail
            .iter()
            .rev()
            .find_map(|mail| dev_server::mailbox::link_token_in(mail, &page));
        link.with_context(|| format!("no link to {page} mailed to {email}"))
    }
}

/// One pass of requests with a credential (`label`): the token it sends to the routes that
/// take one, the path parameters it has learnt, and what it measured by route.
struct Pass<'a> {
    run: &'a Run,
    label: &'static str,
    token: String,
    params: Vec<(&'static str, String)>,
    measured: Measures,
}

impl<'a> Pass<'a> {
    fn new(run: &'a Run, label: &'static str, token: String) -> Self {
        let (params, measured) = (Vec::new(), HashMap::new());
        Self {
            run,
            label,
            token,
            params,
            measured,
        }
    }

    /// The state of the function serving the route `key`.
    fn state(&self, key: &str) -> anyhow::Result<&'a MailState> {
        let state = self.run.states.get(route(key)?.function);
        state.with_context(|| format!("no state for {key}"))
    }

    /// Remembers a path parameter for the requests that follow.
    fn learn(&mut self, name: &'static str, value: &Value) {
        let value = value.as_str().map_or(value.to_string(), str::to_owned);
        self.params.push((name, value));
    }

    /// Sends one request to the route `key`, its path filled from the parameters learnt,
    /// with the pass's token unless the route is public (signout takes one); it must
    /// answer `status`. Measured and checked, unless it only prepares a later request.
    async fn call(
        &mut self,
        key: &str,
        body: Option<Value>,
        status: u16,
        measure: bool,
    ) -> anyhow::Result<Value> {
        let (route, state) = (route(key)?, self.state(key)?);
        let public = matches!(access(route), Some(Access::Public(_)));
        let token = (!public).then_some(self.token.as_str());
        let path = fill(route.path, &self.params);
        let req =
            dev_server::fixtures::gateway_request(route.function, &path, token, body.as_ref())?;
        let (db, counters) = (&state.db, &self.run.counters);
        let (wire, statements) = (counters.snapshot(), db.round_trips());
        let unplanned = db.unplanned_statements();
        let started = Instant::now();
        let response = dev_server::dispatch(state, route.function, req).await;
        let elapsed = started.elapsed();
        let (wire, statements) = (counters.snapshot() - wire, db.round_trips() - statements);
        let unplanned = db.unplanned_statements() - unplanned;
        let (got, body) = bench::answer(response).context(key.to_owned())?;
        ensure!(got == status, "{key} answered {got}: {body}");
        if measure {
            // Wire, flushes and the pool agree on the expected count, every statement was
            // planned, and the connection opened beforehand served the request.
            let expected = expected(route, self.label == OURS).context(key.to_owned())?;
            let counts = [wire.ready_for_query, wire.sync_flushes, statements];
            if counts != [expected; 3] || unplanned > 0 || wire.connections > 0 {
                let (label, opened) = (self.label, wire.connections);
                let what = format!(
                    "{key} ({label}): ReadyForQuery, Sync/Query flushes, statements {counts:?}, {expected} expected; {unplanned} unplanned, {opened} connections opened"
                );
                self.run.wrong.borrow_mut().push(what);
            }
            let measured = (status, wire, statements, elapsed);
            self.measured.insert(key.to_owned(), measured);
        }
        Ok(body)
    }

    async fn send(&mut self, key: &str, body: Option<Value>, status: u16) -> anyhow::Result<Value> {
        self.call(key, body, status, true).await
    }

    /// Signs in, unmeasured (a later request needs the session); the token.
    async fn signin(&mut self, email: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({ "email": email, "password": password });
        let answer = self
            .call("POST /api/auth/signin", Some(body), 200, false)
            .await?;
        Ok(answer["token"].as_str().context("no token")?.to_owned())
    }

    /// The figures, once every route the pass's credential is sent to was measured.
    fn complete(self) -> anyhow::Result<(&'static str, Measures)> {
        let ours = self.label == OURS;
        let keys = ROUTES
            .iter()
            .filter(|route| expected(route, ours).is_some())
            .map(key);
        let missing: Vec<String> = keys
            .filter(|key| !self.measured.contains_key(key))
            .collect();
        ensure!(missing.is_empty(), "no request written for {missing:?}");
        Ok((self.label, self.measured))
    }
}

/// `template` with each `{name}` replaced by its value in `params`.
fn fill(template: &str, params: &[(&str, String)]) -> String {
    let fill =
        |path: String, (name, value): &(&str, String)| path.replace(&format!("{{{name}}}"), value);
    params.iter().fold(template.to_owned(), fill)
}

/// One typical successful request per route, as a new user whose email is tagged `tag`, in
/// an order where each finds what it needs (a user, a token, a task, a second session).
async fn our_pass(run: &Run, tag: &str) -> anyhow::Result<(&'static str, Measures)> {
    let mut pass = Pass::new(run, OURS, String::new());
    let (email, password) = (format!("rt-{tag}@example.com"), "correct horse battery");
    let body = json!({ "name": "Round Trip", "email": email, "password": password });
    let signed_up = pass.send("POST /api/auth/signup", Some(body), 201).await?;
    pass.learn("user_id", &signed_up["user"]["id"]);
    let body = json!({ "email": email, "password": password });
    let signed_in = pass.send("POST /api/auth/signin", Some(body), 200).await?;
    pass.token = signed_in["token"].as_str().context("no token")?.to_owned();
    pass.send("GET /api/health", None, 200).await?;
    let body = json!({ "email": email });
    pass.send("POST /api/auth/send-verification-email", Some(body), 200)
        .await?;
    let body = json!({ "token": run.mailed_link(&email, "/verify-email")? });
    pass.send("POST /api/auth/verify-email", Some(body), 200)
        .await?;
    protected_requests(&mut pass).await?;

    let body = json!({ "name": "Round Trip Renamed" });
    pass.send("PATCH /api/auth/user", Some(body), 200).await?;
    // A second device, to sign out from the first.
    let second = pass.signin(&email, password).await?;
    let verified = pass.state("POST /api/auth/signin")?.tokens.verify(&second);
    let verified = verified.map_err(|err| anyhow::anyhow!("the second token: {err:?}"))?;
    pass.learn("session_id", &json!(verified.session_id));
    pass.send("GET /api/auth/sessions", None, 200).await?;
    pass.send("DELETE /api/auth/sessions/{session_id}", None, 200)
        .await?;
    let changed = json!({ "current_password": password, "new_password": "a changed one" });
    pass.send("POST /api/auth/change-password", Some(changed), 200)
        .await?;
    let new_email = format!("rt-{tag}-new@example.com");
    let body = json!({ "new_email": new_email, "password": "a changed one" });
    pass.send("POST /api/auth/change-email", Some(body), 200)
        .await?;
    let body = json!({ "email": email });
    pass.send("POST /api/auth/forgot-password", Some(body), 200)
        .await?;
    let reset = run.mailed_link(&email, "/reset-password")?;
    let password = "a reset passphrase";
    let body = json!({ "token": reset, "password": password });
    pass.send("POST /api/auth/reset-password", Some(body), 200)
        .await?;
    // The reset ended every session: a new one, for the rest.
    pass.token = pass.signin(&email, password).await?;
    let body = json!({ "password": password });
    pass.send("DELETE /api/auth/user", Some(body), 200).await?;
    pass.send(SIGNOUT, None, 200).await?;
    pass.complete()
}

/// One typical successful request per route open to any credential.
async fn protected_requests(pass: &mut Pass<'_>) -> anyhow::Result<()> {
    pass.send("GET /api/auth/session", None, 200).await?;
    let body = json!({ "title": "Buy milk", "description": "Two litres" });
    let created = pass
        .send("POST /api/{user_id}/tasks", Some(body), 201)
        .await?;
    pass.learn("task_id", &created["id"]);
    pass.send("GET /api/{user_id}/tasks", None, 200).await?;
    let task = "/api/{user_id}/tasks/{task_id}";
    pass.send(&format!("GET {task}"), None, 200).await?;
    let body = json!({ "title": "Buy oat milk", "description": "One litre" });
    pass.send(&format!("PUT {task}"), Some(body), 200).await?;
    let body = json!({ "title": "Buy oat milk today" });
    pass.send(&format!("PATCH {task}"), Some(body), 200).await?;
    pass.send(&format!("PATCH {task}/complete"), None, 200)
        .await?;
    pass.send(&format!("DELETE {task}"), None, 200).await?;
    Ok(())
}

/// The routes a Better Auth caller may use, as `user` with `credential`.
async fn better_auth_pass(
    run: &Run,
    (label, user, credential): (&'static str, &str, &str),
) -> anyhow::Result<(&'static str, Measures)> {
    let mut pass = Pass::new(run, label, credential.to_owned());
    pass.learn("user_id", &json!(user));
    protected_requests(&mut pass).await?;
    pass.send(SIGNOUT, None, 200).await?;
    pass.complete()
}

/// The table of every pass, by credential (`delayed`: our pass again with the proxy's
/// delay).
fn report(passes: &[(&str, Measures)], delayed: Option<&(u64, Measures)>) -> String {
    let mut out = String::from(
        "| route | function | credential | status | expected | ReadyForQuery (wire) | statements (pool counter) | Sync/Query flushes | time ms |",
    );
    let mut rule = String::from("|---|---|---|---:|---:|---:|---:|---:|---:|");
    if let Some((delay, _)) = delayed {
        out +=
            &format!(" time ms, {delay} ms each way | added ms | round trips × 2 × {delay} ms |");
        rule += "---:|---:|---:|";
    }
    out += &format!("\n{rule}\n");
    for (label, measured) in passes {
        for route in ROUTES {
            let (key, expected) = (key(route), expected(route, *label == OURS));
            let (Some(expected), Some((status, wire, statements, elapsed))) =
                (expected, measured.get(&key))
            else {
                continue;
            };
            let (trips, flushes, time) =
                (wire.ready_for_query, wire.sync_flushes, millis(*elapsed, 2));
            out += &format!(
                "| {key} | {} | {label} | {status} | {expected} | {trips} | {statements} | {flushes} | {time} |",
                route.function
            );
            match delayed.map(|(delay, delayed)| (delay, delayed.get(&key))) {
                Some((delay, Some((_, wire, _, after)))) if *label == OURS => {
                    let added = after.as_secs_f64() * 1e3 - elapsed.as_secs_f64() * 1e3;
                    let (after, ideal) = (millis(*after, 2), wire.ready_for_query * 2 * delay);
                    out += &format!(" {after} | {added:.2} | {ideal} |");
                }
                Some(_) => out += " | | |",
                None => {}
            }
            out.push('\n');
        }
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = std::env::args().skip(1);
    let flags = Flags::parse(args, USAGE, &["--delay-ms"], &["--better-auth"])?;
    let delay: Option<u64> = flags.value("--delay-ms")?;
    let db = BenchDb::start().await?;
    let (host, port) = dev_server::postgres::host_and_port(&db.url)?;
    let proxy = Proxy::start((host.clone(), port), Mode::Protocol).await?;
    // The proxy reads the protocol: it must be plaintext.
    let plaintext = db.url.contains("sslmode=disable");
    ensure!(plaintext, "BENCH_DATABASE_URL needs sslmode=disable");
    let proxied = proxy.addr.to_string();
    let url = db.url.replace(&format!("{host}:{port}"), &proxied);
    // A real Better Auth, straight to PostgreSQL (only the API's statements are counted),
    // signing with the bench's secret, and one of its users.
    let mut better_auth = None;
    if flags.switch("--better-auth") {
        let server = BetterAuthServer::try_start(&db.url, bench::SECRET, None, &[]).await?;
        let user = server.try_sign_up("Round Trip", "rt@example.com").await?;
        better_auth = Some((server, user));
    }
    // Production settings (throttling on at its defaults) on one pooled connection.
    let mut settings = vec![("DATABASE_URL", url.as_str()), ("DATABASE_POOL_SIZE", "1")];
    if let Some((server, _)) = &better_auth {
        settings.push(("BETTER_AUTH_URL", server.address.as_str()));
    }
    let mail = BenchMail::new()?;
    let mut states = HashMap::new();
    for route in ROUTES {
        let state = db.state_of(route.function, &mail, &settings)?;
        // The connection with its plan prepared, and Better Auth's keys, are paid here, as
        // a cold start pays them, outside every measured request.
        state.db.warm_up_prepared().await?;
        if let Some(keys) = &state.better_auth {
            keys.cold_start_logged(&state.db).await;
        }
        states.insert(route.function, state);
    }
    let opened = proxy.counters.snapshot().connections;
    ensure!(opened == ROUTES.len() as u64, "{opened} connections");
    let run = Run {
        states,
        counters: proxy.counters.clone(),
        mail,
        wrong: Default::default(),
    };

    let mut passes = vec![our_pass(&run, "plain").await?];
    if let Some((_, user)) = &better_auth {
        let credentials = [&user.jwt, &user.session_token];
        for (label, credential) in BETTER_AUTH.into_iter().zip(credentials) {
            passes.push(better_auth_pass(&run, (label, &user.id, credential)).await?);
        }
    }
    let mut delayed = None;
    if let Some(delay) = delay {
        proxy.delay_ms.store(delay, Ordering::SeqCst);
        delayed = Some((delay, our_pass(&run, "delayed").await?.1));
    }
    print!("{}", report(&passes, delayed.as_ref()));
    // CI runs this as a check: a route that grows a round trip fails it.
    let wrong = run.wrong.into_inner();
    ensure!(wrong.is_empty(), "wrong:\n- {}", wrong.join("\n- "));
    println!("\nEvery route took its expected round trips; wire and pool counters agree.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_are_keyed_by_route() -> anyhow::Result<()> {
        let ours = ROUTES.iter().map(|route| expected(route, true));
        let ours: Option<Vec<u64>> = ours.collect();
        assert_eq!(
            ours.map(|all| all.iter().sum()),
            Some((ROUTES.len() + PASSWORD_BETWEEN_TWO.len()) as u64)
        );
        assert_eq!(expected(route("POST /api/auth/signin")?, true), Some(2));
        let better_auth = [
            (SIGNOUT, Some(0)),
            ("GET /api/auth/session", Some(1)),
            ("PATCH /api/{user_id}/tasks/{task_id}", Some(1)),
            ("DELETE /api/auth/user", None),
            ("POST /api/auth/signin", None),
        ];
        for (key, count) in better_auth {
            assert_eq!(expected(route(key)?, false), count, "{key}");
        }
        assert!(route("GET /api/nothing").is_err());
        Ok(())
    }

    #[test]
    fn paths_are_filled_from_what_a_pass_learnt() {
        let params = [("user_id", "u1".to_owned()), ("task_id", "7".to_owned())];
        let filled = fill("/api/{user_id}/tasks/{task_id}/complete", &params);
        assert_eq!(filled, "/api/u1/tasks/7/complete");
        let filled = fill("/api/auth/sessions/{session_id}", &params);
        assert_eq!(filled, "/api/auth/sessions/{session_id}");
    }
}
