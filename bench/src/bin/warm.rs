//! Warm-request cost, in process, on one pooled connection: what the tasks-list and
//! task-get handlers add around the statement each runs (against that statement prepared,
//! the floor, and for the list sent unnamed), what signin costs beside its argon2id verification, whether timing tells an
//! unknown email from a wrong password, what a refused signup costs beside one hash, and
//! whether the answer to a request for a mailed link tells anything about the address:
//! forgot-password for a registered and an unknown email (and with the mail refused),
//! send-verification-email for an unverified, a verified and an unknown one; and how soon
//! a request gets its 503 while the database cannot be reached. Each group is measured
//! interleaved, in a fresh random order each iteration (a fixed rotation lets one variant
//! always follow the same other, and whatever that leaves behind, a blocking-pool thread,
//! an allocator arena, a cache, then biases that variant alone); every answer is checked.
//! Requests are built outside the timer, as the Lambda runtime builds them from the event.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bench::{BenchDb, Flags, Percentiles, answer, micros};
use dev_server::fixtures::{SeededUser, gateway_request};
use lambda_http::Request;
use serde_json::{Value, json};
use shared::access::{PathOwner, Protocol};
use shared::auth::password;
use shared::db::credentials::CredentialKind;
use shared::secrecy::SecretString;
use shared::state::MailState;
use tokio_postgres::types::{ToSql, Type};

const USAGE: &str = "usage: warm [--iterations N (2000, GET tasks)] [--signin-iterations N (50)]";
const EMAIL: &str = "warm@example.com";
const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "not the password at all";
const UNKNOWN: &str = "nobody@example.com";
const VERIFIED: &str = "verified@example.com";
const TASKS: usize = 20;
type Answer = (u16, Value);

/// The throttle would soon refuse this many signins; limits this high keep its counter
/// upsert in every signin statement, as in production, without ever refusing (a limit of
/// 0 would drop that work from the statement). The signup limit of one address is 1: every
/// signup after the first is refused.
const STATE: &[(&str, &str)] = &[
    ("DATABASE_POOL_SIZE", "1"),
    ("THROTTLE_SIGNIN_EMAIL", "1000000"),
    ("THROTTLE_SIGNIN_EMAIL_GLOBAL", "1000000"),
    ("THROTTLE_SIGNIN_IP", "1000000"),
    ("THROTTLE_RESET_IP", "1000000"),
    ("THROTTLE_RESET_EMAIL", "1000000"),
    ("THROTTLE_SIGNUP_IP", "1"),
];

/// `variants` measurements interleaved, in a random order each iteration, for `warm_up`
/// unrecorded iterations and then `iterations` recorded ones; each variant's samples.
async fn interleaved(
    variants: usize,
    (warm_up, iterations): (usize, usize),
    mut measure: impl AsyncFnMut(usize) -> anyhow::Result<Duration>,
) -> anyhow::Result<Vec<Vec<Duration>>> {
    let mut samples = vec![Vec::new(); variants];
    for i in 0..warm_up + iterations {
        let mut order: Vec<usize> = (0..variants).collect();
        for n in (1..variants).rev() {
            let other = uuid::Uuid::new_v4().as_u128() % (n as u128 + 1);
            order.swap(n, other as usize);
        }
        for which in order {
            let took = measure(which).await?;
            if i >= warm_up {
                samples[which].push(took);
            }
        }
    }
    Ok(samples)
}

/// A markdown table under `title`: each row's name and samples, with its p50 and p99 as a
/// ratio to those of the row at the index given, if any.
fn table(title: &str, rows: &[(&str, Option<usize>)], mut samples: Vec<Vec<Duration>>) -> String {
    let stats: Vec<Percentiles> = samples.iter_mut().map(|s| Percentiles::of(s)).collect();
    let mut out = format!(
        "### {title}\n\n| measurement | n | p50 µs | p99 µs | ratio p50 / p99 |\n|---|---:|---:|---:|---|\n"
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    for (i, (name, base)) in rows.iter().enumerate() {
        let (row, n) = (stats[i], samples[i].len());
        let versus = base.map_or("base".to_owned(), |base| {
            let (p50, p99) = (row.p50, row.p99);
            let (p50, p99) = (ratio(p50, stats[base].p50), ratio(p99, stats[base].p99));
            format!("{p50:.2} / {p99:.2} vs {}", rows[base].0)
        });
        let (p50, p99) = (micros(row.p50), micros(row.p99));
        out += &format!("| {name} | {n} | {p50} | {p99} | {versus} |\n");
    }
    out + "\n"
}

/// `function`'s handler on `req`: how long it took, and its answer.
async fn call(
    state: &MailState,
    function: &str,
    req: Request,
) -> anyhow::Result<(Duration, Answer)> {
    let started = Instant::now();
    let response = dev_server::dispatch(state, function, req).await;
    Ok((started.elapsed(), answer(response)?))
}

/// A POST of `body` to `function`'s route.
fn post(function: &str, body: Value) -> anyhow::Result<Request> {
    let route = shared::routes::by_function(function).context("no route")?;
    gateway_request(function, route.path, None, Some(&body))
}

/// One argon2id verification of `password` against `stored` (the dummy hash if none).
async fn verify(password: &str, stored: &Option<String>) -> anyhow::Result<(Duration, bool)> {
    let (started, password) = (Instant::now(), SecretString::from(password));
    let matches = password::verify(password, stored.clone()).await?;
    Ok((started.elapsed(), matches))
}

/// GET /api/{user_id}/tasks through the handler, through the db layer, and as the bare
/// statement the handler sends, prepared on the same connection (the floor: PostgreSQL
/// executing a planned statement) and sent unnamed (planned on every call), the
/// connection checked out outside the timer.
async fn tasks_list(state: &MailState, seeded: &SeededUser, n: usize) -> anyhow::Result<String> {
    let path = format!("/api/{}/tasks", seeded.user_id);
    let verified = state.tokens.verify(&seeded.token);
    let verified = verified.map_err(|err| anyhow::anyhow!("seeded token refused: {err:?}"))?;
    // Authenticated once, as the handler's protocol does on each request: variant 1 times
    // what the route then does, its statement run and decoded.
    let authenticated = gateway_request("tasks-list", &path, Some(&seeded.token), None)?;
    let authenticated = <PathOwner as Protocol<MailState>>::begin(state, authenticated)
        .await
        .map_err(|err| anyhow::anyhow!("the seeded request was refused: {err}"))?;
    let query = shared::domain::ListQuery::parse(|_| None)?;
    let (sort, descending) = (query.sort, query.descending);
    let statement = shared::db::tasks::list_statement(&CredentialKind::Session, sort, descending);
    let (sql, types) = (statement.sql.as_ref(), &statement.types);
    let ids = (&verified.session_id, &verified.user_id);
    let (limit, offset) = (&query.limit, &query.offset);
    let values: [&(dyn ToSql + Sync); 6] =
        [ids.0, ids.1, limit, offset, &None::<bool>, &None::<String>];
    let typed: Vec<(_, Type)> = values.iter().copied().zip(types.iter().cloned()).collect();
    let connection = state.db.client().await?;
    let prepared = connection.client.prepare_typed(sql, types).await?;
    drop(connection);
    let warm_up = (n / 10).clamp(50, 500);
    let samples = interleaved(4, (warm_up, n), async |which| {
        let (took, found) = match which {
            0 => {
                let req = gateway_request("tasks-list", &path, Some(&seeded.token), None)?;
                let (took, (status, body)) = call(state, "tasks-list", req).await?;
                ensure!(status == 200, "tasks-list answered {status}: {body}");
                (took, body.as_array().map_or(0, Vec::len))
            }
            1 => {
                let started = Instant::now();
                let listed = authenticated.run(shared::db::tasks::list(&query)).await;
                let tasks =
                    listed.map_err(|err| anyhow::anyhow!("the seeded session ended: {err}"))?;
                (started.elapsed(), tasks.len())
            }
            _ => {
                let connection = state.db.client().await?;
                let started = Instant::now();
                let rows = match which {
                    2 => connection.client.query(&prepared, &values).await?,
                    _ => connection.client.query_typed(sql, &typed).await?,
                };
                (started.elapsed(), rows.len())
            }
        };
        ensure!(found == TASKS, "variant {which} found {found} tasks");
        Ok(took)
    });
    let rows = [
        ("tasks-list handler", Some(2)),
        ("db layer: run(tasks::list) (pool, decode)", Some(2)),
        ("raw statement, prepared, same connection", None),
        (
            "raw statement, unnamed (query_typed: planned every time)",
            Some(2),
        ),
    ];
    let table = table("GET /api/{user_id}/tasks, 20 tasks", &rows, samples.await?);
    Ok(format!("{table}```sql\n{}\n```\n\n", sql.trim()))
}

/// GET /api/{user_id}/tasks/{task_id} through the handler, against its statement prepared
/// on the same connection (the floor), the connection checked out outside the timer.
async fn task_get(state: &MailState, seeded: &SeededUser, n: usize) -> anyhow::Result<String> {
    let verified = state.tokens.verify(&seeded.token);
    let verified = verified.map_err(|err| anyhow::anyhow!("seeded token refused: {err:?}"))?;
    let statement = shared::db::tasks::GET.for_kind(&CredentialKind::Session);
    let connection = state.db.client().await?;
    let first = "SELECT min(id) FROM todo_api.tasks";
    let task_id: i64 = connection.client.query_one(first, &[]).await?.try_get(0)?;
    let prepared = connection
        .client
        .prepare_typed(&statement.sql, &statement.types)
        .await?;
    drop(connection);
    let path = format!("/api/{}/tasks/{task_id}", seeded.user_id);
    let values: [&(dyn ToSql + Sync); 3] = [&verified.session_id, &verified.user_id, &task_id];
    let warm_up = (n / 10).clamp(50, 500);
    let samples = interleaved(2, (warm_up, n), async |which| {
        if which == 0 {
            let req = gateway_request("task-get", &path, Some(&seeded.token), None)?;
            let (took, (status, body)) = call(state, "task-get", req).await?;
            ensure!(status == 200, "task-get answered {status}: {body}");
            return Ok(took);
        }
        let connection = state.db.client().await?;
        let started = Instant::now();
        let rows = connection.client.query(&prepared, &values).await?;
        let took = started.elapsed();
        ensure!(
            rows.len() == 1,
            "the raw statement found {} rows",
            rows.len()
        );
        Ok(took)
    });
    let rows = [
        ("task-get handler", Some(1)),
        ("raw statement, prepared, same connection", None),
    ];
    Ok(table(
        "GET /api/{user_id}/tasks/{task_id}",
        &rows,
        samples.await?,
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let valued = ["--iterations", "--signin-iterations"];
    let flags = Flags::parse(std::env::args().skip(1), USAGE, &valued, &[])?;
    let iterations = flags.value("--iterations")?.unwrap_or(2000);
    let n = flags.value("--signin-iterations")?.unwrap_or(50);
    ensure!(iterations > 0 && n > 0, "iterations must be at least 1");
    let db = BenchDb::start().await?;
    let mail = bench::BenchMail::new()?;
    let state = db.state(&mail, STATE)?;
    state.db.warm_up_prepared().await?;
    let seeded = SeededUser::create(&state, EMAIL, PASSWORD, TASKS).await?;
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let hash = "SELECT password_hash FROM todo_api.users WHERE email = $1";
    let hash = Some(client.query_one(hash, &[&EMAIL]).await?.try_get(0)?);
    let signin = |email: &str, password: &str| {
        post("signin", json!({ "email": email, "password": password }))
    };
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let version = bench::server_version(&db.url).await?;
    println!(
        "In-process handler calls on one pooled connection (`DATABASE_POOL_SIZE=1`) to \
         PostgreSQL {version} on loopback; {cores} cores; no tracing subscriber installed.\n"
    );
    print!("{}", tasks_list(&state, &seeded, iterations).await?);
    print!("{}", task_get(&state, &seeded, iterations).await?);

    // Signin = the throttle count and user lookup, argon2id on the blocking pool, the JWT,
    // the session insert and throttle reset; against one verification of the stored hash.
    let samples = interleaved(2, (3, n), async |which| {
        if which == 1 {
            let (took, matches) = verify(PASSWORD, &hash).await?;
            ensure!(matches, "the stored hash does not verify");
            return Ok(took);
        }
        let (took, (status, body)) = call(&state, "signin", signin(EMAIL, PASSWORD)?).await?;
        ensure!(status == 200, "signin answered {status}: {body}");
        Ok(took)
    });
    let rows = [
        ("signin handler (right password)", Some(1)),
        ("argon2id verify (m=19456,t=2,p=1)", None),
    ];
    let title = "POST /api/auth/signin vs one argon2id verification";
    print!("{}", table(title, &rows, samples.await?));

    // An unknown email and a wrong password must answer the same 400, interleaved with the
    // two verifications behind them (the dummy hash and the stored one).
    let mut answers = Vec::new();
    let samples = interleaved(4, (3, n), async |which| {
        let (took, answer) = match which {
            0 | 1 => call(&state, "signin", signin([UNKNOWN, EMAIL][which], WRONG)?).await?,
            _ => {
                let stored = if which == 3 { hash.clone() } else { None };
                let (took, matches) = verify(WRONG, &stored).await?;
                (took, (if matches { 200 } else { 400 }, Value::Null))
            }
        };
        answers.push((which < 2, answer));
        Ok(took)
    });
    let rows = [
        ("signin, unknown email (400)", Some(1)),
        ("signin, wrong password (400)", None),
        ("argon2id verify, dummy hash (unknown email)", Some(3)),
        ("argon2id verify, stored hash (wrong password)", None),
    ];
    let title = "Signin timing: unknown email vs wrong password";
    let table_ = table(title, &rows, samples.await?);
    // One answer for both signins, no verification matching.
    answers.sort_by_key(|(signin, _)| *signin);
    answers.dedup();
    let refused = answers.iter().all(|(_, (status, _))| *status == 400);
    ensure!(answers.len() == 2 && refused, "answers: {answers:?}");
    print!("{table_}");

    // The signup limit of one address (here 1) is judged before the password is hashed.
    let (mut signups, hashed) = (0, state.passwords.runs());
    let samples = interleaved(2, (1, n), async |which| {
        if which == 1 {
            let started = Instant::now();
            password::hash(SecretString::from(PASSWORD)).await?;
            return Ok(started.elapsed());
        }
        signups += 1;
        let email = format!("refused{signups}@example.com");
        let body = json!({ "name": "Refused", "email": email, "password": PASSWORD });
        let (took, (status, body)) = call(&state, "signup", post("signup", body)?).await?;
        let allowed = if signups == 1 { 201 } else { 429 };
        ensure!(status == allowed, "signup {signups}: {status} {body}");
        Ok(took)
    });
    let rows = [
        ("signup refused by THROTTLE_SIGNUP_IP", Some(1)),
        ("one argon2id hash", None),
    ];
    let title = "A refused signup vs one argon2id hash";
    let table_ = table(title, &rows, samples.await?);
    let hashed = state.passwords.runs() - hashed;
    ensure!(
        hashed == 1,
        "{signups} signups, {hashed} hashes: refused ones too"
    );
    print!("{table_}");

    // forgot-password for the registered email (a token stored, the mail written by the
    // local server's mailbox) and for an unknown one: the same 200.
    let mut answers = Vec::new();
    let samples = interleaved(2, (0, n), async |which| {
        let email = [EMAIL, UNKNOWN][which];
        let req = post("forgot-password", json!({ "email": email }))?;
        let (took, answer) = call(&state, "forgot-password", req).await?;
        answers.push(answer);
        Ok(took)
    });
    let rows = [
        ("forgot-password, registered email (mail written)", None),
        ("forgot-password, unknown email", Some(0)),
    ];
    let floor = forgot_password::ANSWER_FLOOR.as_millis();
    let title = format!("POST /api/auth/forgot-password: registered vs unknown ({floor} ms floor)");
    let table_ = table(&title, &rows, samples.await?);
    answers.dedup();
    let same = matches!(answers[..], [(200, _)]);
    ensure!(same, "forgot-password answered {answers:?}");
    print!("{table_}");

    // forgot-password whose mail the mailer refuses (SES in its sandbox, a quota), with
    // the state of a function that mails through such a mailer, against an unknown email:
    // the same 200, and the failure must not show in the time either.
    let mut refusing = db.state(&mail, STATE)?;
    refusing.mailbox.mailer = std::sync::Arc::new(RefusingMailer);
    refusing.db.warm_up_prepared().await?;
    let mut answers = Vec::new();
    let samples = interleaved(2, (0, n), async |which| {
        let email = [EMAIL, UNKNOWN][which];
        let req = post("forgot-password", json!({ "email": email }))?;
        let (took, answer) = call(&refusing, "forgot-password", req).await?;
        answers.push(answer);
        Ok(took)
    });
    let rows = [
        ("forgot-password, registered email (the mail refused)", None),
        ("forgot-password, unknown email", Some(0)),
    ];
    let title =
        format!("POST /api/auth/forgot-password: the mail refused vs unknown ({floor} ms floor)");
    let table_ = table(&title, &rows, samples.await?);
    answers.dedup();
    let same = matches!(answers[..], [(200, _)]);
    ensure!(same, "forgot-password answered {answers:?}");
    print!("{table_}");

    // send-verification-email for an unverified address (a link stored, the mail written),
    // a verified one and an unknown one: the same 200.
    SeededUser::create(&state, VERIFIED, PASSWORD, 0).await?;
    let verify = "UPDATE todo_api.users SET email_verified = true WHERE email = $1";
    ensure!(
        client.execute(verify, &[&VERIFIED]).await? == 1,
        "{VERIFIED} verified"
    );
    let mut answers = Vec::new();
    let samples = interleaved(3, (0, n), async |which| {
        let email = [EMAIL, VERIFIED, UNKNOWN][which];
        let req = post("send-verification-email", json!({ "email": email }))?;
        let (took, answer) = call(&state, "send-verification-email", req).await?;
        answers.push(answer);
        Ok(took)
    });
    let rows = [
        (
            "send-verification-email, unverified email (mail written)",
            None,
        ),
        ("send-verification-email, verified email", Some(0)),
        ("send-verification-email, unknown email", Some(0)),
    ];
    let title = format!(
        "POST /api/auth/send-verification-email: unverified vs verified vs unknown ({floor} ms floor)"
    );
    let table_ = table(&title, &rows, samples.await?);
    answers.dedup();
    let same = matches!(answers[..], [(200, _)]);
    ensure!(same, "send-verification-email answered {answers:?}");
    print!("{table_}");

    print!(
        "{}",
        database_unreachable(&db, &mail, &seeded, n.min(5)).await?
    );
    Ok(())
}

/// GET /api/{user_id}/tasks while the database cannot be reached: refusing connections (a
/// closed port) and silent (a listener that accepts and never answers, under the default
/// `DATABASE_CONNECT_TIMEOUT_SECS` of 5 s): how soon the generic 503 comes, each state's
/// pool empty as after a crash.
async fn database_unreachable(
    db: &BenchDb,
    mail: &bench::BenchMail,
    seeded: &SeededUser,
    n: usize,
) -> anyhow::Result<String> {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let closed_port = closed.local_addr()?.port();
    drop(closed);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let silent_port = silent.local_addr()?.port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let url = |port: u16| format!("postgres://postgres@127.0.0.1:{port}/todo?sslmode=disable");
    let (closed_url, silent_url) = (url(closed_port), url(silent_port));
    let states = [
        db.state(mail, &[STATE, &[("DATABASE_URL", &closed_url)]].concat())?,
        db.state(mail, &[STATE, &[("DATABASE_URL", &silent_url)]].concat())?,
    ];
    let path = format!("/api/{}/tasks", seeded.user_id);
    let samples = interleaved(2, (0, n), async |which| {
        let req = gateway_request("tasks-list", &path, Some(&seeded.token), None)?;
        let (took, (status, body)) = call(&states[which], "tasks-list", req).await?;
        ensure!(status == 503, "tasks-list answered {status}: {body}");
        Ok(took)
    });
    let rows = [
        ("database refusing connections (a closed port)", None),
        ("database silent (accepts, never answers)", None),
    ];
    let title = "GET /api/{user_id}/tasks with the database unreachable (the generic 503)";
    Ok(table(title, &rows, samples.await?))
}

/// A mailer that refuses every mail, as SES does in its sandbox or over its quota.
struct RefusingMailer;

impl shared::mail::Mailer for RefusingMailer {
    fn send<'a>(
        &'a self,
        _mail: &'a shared::mail::Mail,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async { bail!("refused (the bench's mailer refuses every mail)") })
    }
}
