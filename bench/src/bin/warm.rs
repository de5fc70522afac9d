//! Warm-request cost: what the tasks-list handler adds around the one statement it runs,
//! what signin costs beside its argon2id verification, and whether signin's timing tells an
//! unknown email from a wrong password.
//!
//! ```text
//! cargo run --release -p bench --bin warm -- [--iterations N] [--signin-iterations N] [--markdown FILE]
//! ```

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bench::{BenchDb, Percentiles, answer, micros};
use dev_server::fixtures::better_auth::BetterAuthUser;
use dev_server::fixtures::{SeededUser, gateway_request};
use serde_json::{Value, json};
use shared::domain::ListQuery;
use shared::secrecy::SecretString;
use shared::state::MailState;
use tokio_postgres::types::Type;

const EMAIL: &str = "warm@example.com";
const PASSWORD: &str = "correct horse battery staple";
const TASKS: usize = 20;

/// Each function's default counts real signins, so the bench would soon get 429s; limits
/// this high keep the throttle's counter upsert in every signin statement, as in production,
/// without ever refusing (a limit of 0 would drop that work from the statement).
const STATE: &[(&str, &str)] = &[
    ("DATABASE_POOL_SIZE", "1"),
    ("THROTTLE_SIGNIN_EMAIL", "1000000"),
    ("THROTTLE_SIGNIN_EMAIL_GLOBAL", "1000000"),
    ("THROTTLE_SIGNIN_IP", "1000000"),
    ("THROTTLE_RESET_IP", "1000000"),
    ("THROTTLE_RESET_EMAIL", "1000000"),
];

struct Args {
    iterations: usize,
    signin_iterations: usize,
    markdown: Option<std::path::PathBuf>,
    better_auth: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        iterations: 2000,
        signin_iterations: 50,
        markdown: None,
        better_auth: false,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = || given.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--iterations" => args.iterations = value()?.parse().context("--iterations")?,
            "--signin-iterations" => {
                args.signin_iterations = value()?.parse().context("--signin-iterations")?;
            }
            "--markdown" => args.markdown = Some(value()?.into()),
            "--better-auth" => args.better_auth = true,
            "-h" | "--help" => {
                println!(
                    "usage: warm [--iterations N (2000)] [--signin-iterations N (50)] [--markdown FILE] [--better-auth]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    ensure!(
        args.iterations > 0 && args.signin_iterations > 0,
        "iterations must be at least 1"
    );
    Ok(args)
}

/// The SQL text the handler's last statement sent, read back from the server so the raw
/// side runs exactly the text the handler sent.
async fn last_statement_of_app(url: &str) -> anyhow::Result<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT query, octet_length(query),
                    (SELECT setting::int FROM pg_settings
                      WHERE name = 'track_activity_query_size')
               FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'todo-api'
                AND pid <> pg_backend_pid()",
            &[],
        )
        .await?;
    let [row] = rows.as_slice() else {
        bail!(
            "expected the app's one pooled connection in pg_stat_activity, found {}",
            rows.len()
        );
    };
    let (sql, length, limit): (String, i32, i32) = (row.get(0), row.get(1), row.get(2));
    // The server keeps only track_activity_query_size - 1 bytes of the text.
    ensure!(
        length < limit - 1,
        "the statement ({length} bytes) may be cut at track_activity_query_size ({limit})"
    );
    Ok(sql)
}

/// Orders of the measured variants, a fresh random one per iteration: a fixed rotation
/// lets one variant always follow the same other, and whatever that leaves behind (a
/// blocking-pool thread, an allocator arena, a cache) then biases that variant alone.
struct Shuffle(u64);

impl Shuffle {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        Self(seed | 1)
    }

    /// 0..n in random order (xorshift64 and Fisher–Yates: uniform enough to break up order
    /// effects; not for anything secret).
    fn order(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            order.swap(i, (self.0 % (i as u64 + 1)) as usize);
        }
        order
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

struct Row {
    name: String,
    samples: usize,
    stats: Percentiles,
    /// p50 and p99 ratios to the base row, and its name.
    ratio: String,
}

/// The rows of `measured` and of `base`, `measured`'s with its ratios against `base` (named
/// `label` in the ratio column).
fn versus(
    (name, samples): (&str, &mut [Duration]),
    (base_name, base_samples): (&str, &mut [Duration]),
    label: &str,
) -> [Row; 2] {
    let base = Percentiles::of(base_samples);
    [
        row(name, samples, Some((label, base))),
        row(base_name, base_samples, None),
    ]
}

fn row(name: &str, samples: &mut [Duration], base: Option<(&str, Percentiles)>) -> Row {
    let stats = Percentiles::of(samples);
    let ratio = base.map_or_else(
        || "base".to_owned(),
        |(base_name, base)| {
            format!(
                "{:.2} / {:.2} vs {base_name}",
                ratio(stats.p50, base.p50),
                ratio(stats.p99, base.p99)
            )
        },
    );
    Row {
        name: name.to_owned(),
        samples: samples.len(),
        stats,
        ratio,
    }
}

/// GET /api/{user_id}/tasks through the handler, through the db layer, and as the bare
/// statement prepared on the same connection (the floor: PostgreSQL executing it, no
/// planning) and sent unnamed (planned each time), interleaved in random order so drift
/// and noise hit all four alike.
async fn tasks_list(
    state: &MailState,
    seeded: &SeededUser,
    sql: &str,
    iterations: usize,
) -> anyhow::Result<Vec<Row>> {
    let path = format!("/api/{}/tasks", seeded.user_id);
    let verified = state
        .tokens
        .verify(&seeded.token)
        .map_err(|err| anyhow::anyhow!("seeded token refused: {err:?}"))?;
    let caller = shared::access::Caller::from(verified.clone());
    let query = ListQuery::parse(|_| None)?;
    let (limit, offset) = (query.limit, query.offset);
    let (completed, pattern): (Option<bool>, Option<String>) = (None, None);
    let types = shared::db::tasks::list_statement(
        &shared::db::credentials::CredentialKind::Session,
        query.sort,
        query.descending,
    )
    .types;
    let values: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
        &verified.session_id,
        &verified.user_id,
        &limit,
        &offset,
        &completed,
        &pattern,
    ];
    let typed: Vec<(&(dyn tokio_postgres::types::ToSql + Sync), Type)> =
        values.iter().copied().zip(types.iter().cloned()).collect();
    let prepared = state
        .db
        .client()
        .await?
        .client
        .prepare_typed(sql, &types)
        .await?;

    let warm_up = (iterations / 10).clamp(50, 500);
    let mut samples: [Vec<Duration>; 4] = Default::default();
    let mut shuffle = Shuffle::new();
    for i in 0..warm_up + iterations {
        for which in shuffle.order(4) {
            let elapsed = match which {
                0 => {
                    let req = gateway_request("tasks-list", &path, Some(&seeded.token), None)?;
                    let started = Instant::now();
                    let response = dev_server::dispatch(state, "tasks-list", req).await;
                    let elapsed = started.elapsed();
                    let (status, body) = answer(response)?;
                    ensure!(
                        status == 200 && body.as_array().map(Vec::len) == Some(TASKS),
                        "tasks-list answered {status}: {body}"
                    );
                    elapsed
                }
                1 => {
                    let started = Instant::now();
                    let outcome =
                        shared::db::tasks::list(&state.db, &caller.credential, &query).await?;
                    let elapsed = started.elapsed();
                    let shared::db::credentials::Checked::Done(tasks) = outcome else {
                        bail!("the seeded session ended");
                    };
                    ensure!(tasks.len() == TASKS, "db layer found {} tasks", tasks.len());
                    elapsed
                }
                2 => {
                    // The pool's one connection, checked out outside the timer: the raw
                    // side is the statement alone.
                    let connection = state.db.client().await?;
                    let started = Instant::now();
                    let rows = connection.client.query(&prepared, &values).await?;
                    let elapsed = started.elapsed();
                    ensure!(rows.len() == TASKS, "raw query found {} rows", rows.len());
                    elapsed
                }
                _ => {
                    let connection = state.db.client().await?;
                    let started = Instant::now();
                    let rows = connection.client.query_typed(sql, &typed).await?;
                    let elapsed = started.elapsed();
                    ensure!(rows.len() == TASKS, "raw query found {} rows", rows.len());
                    elapsed
                }
            };
            if i >= warm_up {
                samples[which].push(elapsed);
            }
        }
    }
    let [mut handler, mut layer, mut raw, mut unnamed] = samples;
    let base = Percentiles::of(&mut raw);
    Ok(vec![
        row(
            "tasks-list handler",
            &mut handler,
            Some(("prepared raw", base)),
        ),
        row(
            "db layer: tasks::list (pool, decode)",
            &mut layer,
            Some(("prepared raw", base)),
        ),
        row("raw statement, prepared, same connection", &mut raw, None),
        row(
            "raw statement, unnamed (query_typed: planned every time)",
            &mut unnamed,
            Some(("prepared raw", base)),
        ),
    ])
}

async fn signin(state: &MailState, email: &str, password: &str) -> anyhow::Result<(u16, Value)> {
    let body = json!({ "email": email, "password": password });
    let req = gateway_request("signin", "/api/auth/signin", None, Some(&body))?;
    answer(dev_server::dispatch(state, "signin", req).await)
}

/// The real signin against one argon2id verification of the same stored hash.
async fn signin_vs_argon2(
    state: &MailState,
    hash: &str,
    iterations: usize,
) -> anyhow::Result<Vec<Row>> {
    let warm_up = 3;
    let (mut handler, mut verify) = (Vec::new(), Vec::new());
    let mut shuffle = Shuffle::new();
    for i in 0..warm_up + iterations {
        for which in shuffle.order(2) {
            let started = Instant::now();
            if which == 0 {
                let (status, body) = signin(state, EMAIL, PASSWORD).await?;
                let elapsed = started.elapsed();
                ensure!(status == 200, "signin answered {status}: {body}");
                if i >= warm_up {
                    handler.push(elapsed);
                }
            } else {
                let matches = shared::auth::password::verify(
                    SecretString::from(PASSWORD),
                    Some(hash.to_owned()),
                )
                .await?;
                let elapsed = started.elapsed();
                ensure!(matches, "the stored hash does not verify");
                if i >= warm_up {
                    verify.push(elapsed);
                }
            }
        }
    }
    Ok(versus(
        ("signin handler (right password)", &mut handler),
        ("argon2id verify (m=19456,t=2,p=1)", &mut verify),
        "argon2id verify",
    )
    .into())
}

/// Unknown email and wrong password, interleaved: both must be the same 400, after the
/// same work. The two argon2id verifications behind them (dummy hash vs the stored one)
/// are interleaved with them, so a difference can be told apart from the hashing.
async fn unknown_vs_wrong(
    state: &MailState,
    hash: &str,
    iterations: usize,
) -> anyhow::Result<Vec<Row>> {
    const WRONG: &str = "not the password at all";
    let warm_up = 3;
    let mut samples: [Vec<Duration>; 4] = Default::default();
    let mut answers = Vec::new();
    let mut shuffle = Shuffle::new();
    for i in 0..warm_up + iterations {
        for which in shuffle.order(4) {
            let started = Instant::now();
            match which {
                0 | 1 => {
                    let email = if which == 0 {
                        "nobody@example.com"
                    } else {
                        EMAIL
                    };
                    let answer = signin(state, email, WRONG).await?;
                    ensure!(
                        answer.0 == 400,
                        "signin answered {}: {}",
                        answer.0,
                        answer.1
                    );
                    answers.push(answer);
                }
                _ => {
                    let stored = (which == 3).then(|| hash.to_owned());
                    let matches =
                        shared::auth::password::verify(SecretString::from(WRONG), stored).await?;
                    ensure!(!matches, "a wrong password verified");
                }
            }
            if i >= warm_up {
                samples[which].push(started.elapsed());
            }
        }
    }
    answers.dedup();
    ensure!(
        answers.len() == 1,
        "unknown email and wrong password answered differently: {answers:?}"
    );
    let [mut unknown, mut wrong, mut dummy, mut stored] = samples;
    let (wrong_base, stored_base) = (Percentiles::of(&mut wrong), Percentiles::of(&mut stored));
    Ok(vec![
        row(
            "signin, unknown email (400)",
            &mut unknown,
            Some(("signin, wrong password", wrong_base)),
        ),
        row("signin, wrong password (400)", &mut wrong, None),
        row(
            "argon2id verify, dummy hash (unknown email)",
            &mut dummy,
            Some(("verify, stored hash", stored_base)),
        ),
        row(
            "argon2id verify, stored hash (wrong password)",
            &mut stored,
            None,
        ),
    ])
}

/// GET tasks through the handler with our HS256 token and with a Better Auth EdDSA JWT,
/// each caller owning 20 tasks, interleaved in random order.
async fn token_kinds(
    state: &MailState,
    seeded: &SeededUser,
    better_auth: &BetterAuthUser,
    iterations: usize,
) -> anyhow::Result<Vec<Row>> {
    let ours = (
        format!("/api/{}/tasks", seeded.user_id),
        seeded.token.as_str(),
    );
    let theirs = (
        format!("/api/{}/tasks", better_auth.id),
        better_auth.jwt.as_str(),
    );
    for n in 0..TASKS {
        let body = json!({ "title": format!("Task {n}") });
        let req = gateway_request("task-create", &theirs.0, Some(theirs.1), Some(&body))?;
        let (status, body) = answer(dev_server::dispatch(state, "task-create", req).await)?;
        ensure!(
            status == 201,
            "task-create with the Better Auth JWT answered {status}: {body}"
        );
    }
    let warm_up = (iterations / 10).clamp(50, 500);
    let mut samples: [Vec<Duration>; 2] = Default::default();
    let mut shuffle = Shuffle::new();
    for i in 0..warm_up + iterations {
        for which in shuffle.order(2) {
            let (path, token) = if which == 0 { &ours } else { &theirs };
            let req = gateway_request("tasks-list", path, Some(token), None)?;
            let started = Instant::now();
            let response = dev_server::dispatch(state, "tasks-list", req).await;
            let elapsed = started.elapsed();
            let (status, body) = answer(response)?;
            ensure!(
                status == 200 && body.as_array().map(Vec::len) == Some(TASKS),
                "tasks-list answered {status}: {body}"
            );
            if i >= warm_up {
                samples[which].push(elapsed);
            }
        }
    }
    let [mut hs256, mut eddsa] = samples;
    let [jwt, hs256] = versus(
        ("tasks-list handler, Better Auth EdDSA JWT", &mut eddsa),
        ("tasks-list handler, our HS256 token", &mut hs256),
        "HS256",
    );
    Ok(vec![hs256, jwt])
}

/// forgot-password for the registered email (a token stored, the mail written by the local
/// server's mailbox) and for an unknown one, interleaved in random order: the answer's
/// floor is what keeps them alike.
async fn forgot_registered_vs_unknown(
    state: &MailState,
    iterations: usize,
) -> anyhow::Result<Vec<Row>> {
    let mut samples: [Vec<Duration>; 2] = Default::default();
    let mut answers = Vec::new();
    let mut shuffle = Shuffle::new();
    for _ in 0..iterations {
        for which in shuffle.order(2) {
            let email = if which == 0 {
                EMAIL
            } else {
                "nobody@example.com"
            };
            let body = json!({ "email": email });
            let req = gateway_request(
                "forgot-password",
                "/api/auth/forgot-password",
                None,
                Some(&body),
            )?;
            let started = Instant::now();
            let response = dev_server::dispatch(state, "forgot-password", req).await;
            samples[which].push(started.elapsed());
            let answer = answer(response)?;
            ensure!(
                answer.0 == 200,
                "forgot-password answered {}: {}",
                answer.0,
                answer.1
            );
            answers.push(answer);
        }
    }
    answers.dedup();
    ensure!(
        answers.len() == 1,
        "registered and unknown answered differently: {answers:?}"
    );
    let [mut registered, mut unknown] = samples;
    let [unknown, registered] = versus(
        ("forgot-password, unknown email", &mut unknown),
        (
            "forgot-password, registered email (mail written)",
            &mut registered,
        ),
        "registered",
    );
    Ok(vec![registered, unknown])
}

/// A signup the address's limit refuses (no hash: the verdict comes first) against one
/// argon2id hash, interleaved in random order.
async fn refused_signup_vs_hash(iterations: usize) -> anyhow::Result<Vec<Row>> {
    let db = BenchDb::start().await?;
    let mail = bench::BenchMail::new()?;
    let state = db.state(
        &mail,
        &[("DATABASE_POOL_SIZE", "1"), ("THROTTLE_SIGNUP_IP", "1")],
    )?;
    state.db.warm_up_prepared().await?;
    let signup = |n: usize| {
        let body = json!({ "name": "Refused", "email": format!("refused{n}@example.com"), "password": PASSWORD });
        gateway_request("signup", "/api/auth/signup", None, Some(&body))
    };
    // The one signup the limit allows.
    let (status, body) = answer(dev_server::dispatch(&state, "signup", signup(0)?).await)?;
    ensure!(status == 201, "the first signup answered {status}: {body}");
    let (mut refused, mut hashes) = (Vec::new(), Vec::new());
    let mut shuffle = Shuffle::new();
    for i in 1..=iterations {
        for which in shuffle.order(2) {
            if which == 0 {
                let req = signup(i)?;
                let started = Instant::now();
                let response = dev_server::dispatch(&state, "signup", req).await;
                refused.push(started.elapsed());
                let (status, body) = answer(response)?;
                ensure!(
                    status == 429,
                    "a signup over the limit answered {status}: {body}"
                );
            } else {
                let started = Instant::now();
                shared::auth::password::hash(SecretString::from(PASSWORD)).await?;
                hashes.push(started.elapsed());
            }
        }
    }
    ensure!(state.passwords.runs() == 1, "refused signups hashed");
    Ok(versus(
        ("signup refused by THROTTLE_SIGNUP_IP", &mut refused),
        ("one argon2id hash", &mut hashes),
        "hash",
    )
    .into())
}

fn table(title: &str, note: &str, rows: &[Row]) -> String {
    let mut out = format!(
        "### {title}\n\n{note}\n\n| measurement | n | p50 µs | p99 µs | ratio p50 / p99 |\n|---|---:|---:|---:|---|\n"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.name,
            row.samples,
            micros(row.stats.p50),
            micros(row.stats.p99),
            row.ratio
        );
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let db = BenchDb::start().await?;
    // A real Better Auth on the same database, when asked for, and one of its users.
    let better_auth = match args.better_auth {
        false => None,
        true => Some(bench::better_auth_with_user(&db.url, "Warm", "warm-ba@example.com").await?),
    };
    let mut settings = STATE.to_vec();
    if let Some((server, _)) = &better_auth {
        settings.push(("BETTER_AUTH_URL", server.address.as_str()));
    }
    let mail = bench::BenchMail::new()?;
    let state = db.state(&mail, &settings)?;
    state.db.warm_up_prepared().await?;
    // Better Auth's keys are read as a cold start reads them.
    if let Some(keys) = &state.better_auth {
        keys.cold_start_logged(&state.db).await;
    }
    let seeded = SeededUser::create(&state, EMAIL, PASSWORD, TASKS).await?;

    // One handler call, so pg_stat_activity shows its statement as the connection's last.
    let req = gateway_request(
        "tasks-list",
        &format!("/api/{}/tasks", seeded.user_id),
        Some(&seeded.token),
        None,
    )?;
    let (status, _) = answer(dev_server::dispatch(&state, "tasks-list", req).await)?;
    ensure!(status == 200, "tasks-list answered {status}");
    let sql = last_statement_of_app(&db.url).await?;
    ensure!(
        sql.contains("FROM todo_api.tasks") && sql.contains("LIMIT $3 OFFSET $4"),
        "the captured statement is not the tasks list: {sql}"
    );

    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let version: String = client.query_one("SHOW server_version", &[]).await?.get(0);
    let hash: String = client
        .query_one(
            "SELECT password_hash FROM todo_api.users WHERE email = $1",
            &[&EMAIL],
        )
        .await?
        .get(0);

    eprintln!("tasks-list: {} iterations …", args.iterations);
    let list = tasks_list(&state, &seeded, &sql, args.iterations).await?;
    eprintln!(
        "signin vs argon2id: {} iterations …",
        args.signin_iterations
    );
    let hashing = signin_vs_argon2(&state, &hash, args.signin_iterations).await?;
    eprintln!(
        "unknown email vs wrong password: {} each …",
        args.signin_iterations
    );
    let timing = unknown_vs_wrong(&state, &hash, args.signin_iterations).await?;
    eprintln!(
        "refused signup vs one hash: {} each …",
        args.signin_iterations
    );
    let refused = refused_signup_vs_hash(args.signin_iterations).await?;
    eprintln!(
        "forgot-password, registered vs unknown: {} each …",
        args.signin_iterations
    );
    let forgot = forgot_registered_vs_unknown(&state, args.signin_iterations).await?;

    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mut report = format!(
        "## Warm requests\n\nIn-process handler calls on one pooled connection (`DATABASE_POOL_SIZE=1`) \
         to PostgreSQL {version} on loopback; {cores} cores; release build; no tracing \
         subscriber installed (Lambda's JSON logging is not included).\n\n"
    );
    report.push_str(&table(
        "GET /api/{user_id}/tasks, 20 tasks",
        &format!(
            "Interleaved in a fresh random order each iteration, after a warm-up. The prepared raw row is the statement the \
             handler sent (text read back from `pg_stat_activity`), prepared once on the pool's \
             one connection and executed with the same six parameters, the connection checked \
             out outside the timer: PostgreSQL executing a planned statement, the floor. The \
             unnamed row sends the same text through `query_typed`, planned on every call. Each handler request is built outside the timer too \
             (in Lambda the runtime builds it from the event). The db-layer row adds the pool checkout, the \
             client-side statement timeout and decoding into `Task`s; the handler adds JWT \
             verification, path and query parsing, JSON serialisation and the response.\n\n\
             ```sql\n{}\n```",
            sql.trim()
        ),
        &list,
    ));
    report.push('\n');
    report.push_str(&table(
        "POST /api/auth/signin vs one argon2id verification",
        "Interleaved in random order. Signin = throttle count + user lookup (1 statement), argon2id \
         verification on the blocking pool, JWT issue, session insert + throttle reset \
         (1 statement). The verification row is `shared::auth::password::verify` on the \
         stored hash (also on the blocking pool). Throttle limits are raised to 1,000,000 \
         rather than turned off, so every signin still upserts its counters as in \
         production but is never refused; each successful signin adds a session row.",
        &hashing,
    ));
    report.push('\n');
    report.push_str(&table(
        "Signin timing: unknown email vs wrong password",
        "Interleaved in random order with the two argon2id verifications behind them (the \
         dummy hash an unknown email is checked against, and the user's stored hash). Both \
         signins answer the identical 400 `Invalid email or password` (checked). A ratio \
         near 1.00 means timing does not tell whether an email is registered.",
        &timing,
    ));
    report.push('\n');
    report.push_str(&table(
        "A refused signup vs one argon2id hash",
        "The signup limit of one address (here 1) is judged before the password is hashed: \
         a refused signup is one statement, no hash (the bench checks that the handlers ran \
         argon2id once, for the one signup allowed).",
        &refused,
    ));
    report.push('\n');
    report.push_str(&table(
        "POST /api/auth/forgot-password: registered vs unknown email",
        &format!(
            "Interleaved in random order, with the local server's mailbox (a file per mail). \
             Both answer the identical 200 (checked); the registered one also stores a \
             token and writes the mail. Every answer waits until {} ms after the request \
             came in, longer than SES's delivery usually takes, so the ratio stays near \
             1.00 in Lambda too.",
            forgot_password::ANSWER_FLOOR.as_millis()
        ),
        &forgot,
    ));
    if let Some((_, user)) = &better_auth {
        eprintln!("HS256 vs Better Auth JWT: {} iterations …", args.iterations);
        let kinds = token_kinds(&state, &seeded, user, args.iterations).await?;
        report.push('\n');
        report.push_str(&table(
            "GET /api/{user_id}/tasks: our HS256 token vs a Better Auth JWT",
            "The same handler on the same connection, each caller owning 20 tasks, \
             interleaved in random order. The Better Auth JWT comes from a real Better Auth \
             (the fixture app, jwt plugin defaults: EdDSA over Ed25519) on the same database, \
             its keys read beforehand as a cold start does; its statement also checks the \
             caller's row in `users` (created on its first use, before the timing).",
            &kinds,
        ));
    }
    println!("{report}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &report).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
