//! The local server for the throughput benchmark: a fresh benchmark database, throttling
//! off (the load comes from one address), one seeded user with 20 tasks. Prints
//! `READY <address> <user id> <token> <email> <password> <database url>` on one line,
//! then serves until killed. With `--pgbench-script FILE` it first writes the statement
//! GET /api/{user_id}/tasks sends for that user, parameters as literals, for
//! `pgbench -f FILE` (PostgreSQL alone running it: the floor the route is compared with).

use std::sync::Arc;

use anyhow::Context as _;
use bench::BenchDb;
use dev_server::fixtures::SeededUser;
use shared::db::credentials::CredentialKind;
use shared::domain::ListQuery;

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "benchmark-password";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let usage = "usage: serve [--pgbench-script FILE]";
    let flags = bench::Flags::parse(std::env::args().skip(1), usage, &["--pgbench-script"], &[])?;
    let script: Option<String> = flags.value("--pgbench-script")?;
    let db = BenchDb::start().await?;
    let mail = bench::BenchMail::new()?;
    let state = Arc::new(db.state(
        &mail,
        &[
            ("THROTTLE_SIGNIN_EMAIL", "0"),
            ("THROTTLE_SIGNIN_EMAIL_GLOBAL", "0"),
            ("THROTTLE_SIGNIN_IP", "0"),
            ("THROTTLE_SIGNUP_IP", "0"),
            ("DATABASE_POOL_SIZE", "8"),
        ],
    )?);

    let seeded = SeededUser::create(&state, EMAIL, PASSWORD, 20).await?;
    if let Some(path) = script {
        let sql = list_statement_with_literals(&state, &seeded)?;
        std::fs::write(&path, sql + ";\n").with_context(|| format!("writing {path}"))?;
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (address, user, token) = (listener.local_addr()?, seeded.user_id, &seeded.token);
    println!(
        "READY http://{address} {user} {token} {EMAIL} {PASSWORD} {}",
        db.url
    );
    tokio::select! {
        result = dev_server::serve(listener, state) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// The statement of a default GET /api/{user_id}/tasks (no filter, newest first, the
/// default page) for `seeded`'s session, each `$n` replaced by its value as a literal.
fn list_statement_with_literals(
    state: &shared::AppState,
    seeded: &SeededUser,
) -> anyhow::Result<String> {
    let verified = state.tokens.verify(&seeded.token);
    let verified = verified.map_err(|err| anyhow::anyhow!("seeded token refused: {err:?}"))?;
    let query = ListQuery::parse(|_| None)?;
    let statement =
        shared::db::tasks::list_statement(&CredentialKind::Session, query.sort, query.descending);
    let literals = [
        format!("'{}'::uuid", verified.session_id),
        format!("'{}'::uuid", verified.user_id),
        format!("{}::int8", query.limit),
        format!("{}::int8", query.offset),
        "NULL::bool".to_owned(),
        "NULL::text".to_owned(),
    ];
    let count = statement.types.len();
    anyhow::ensure!(
        count == literals.len(),
        "the list statement takes {count} parameters"
    );
    // Highest first, so `$1` never matches the start of `$10`.
    let mut sql = statement.sql.to_string();
    for (n, literal) in literals.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", n + 1), literal);
    }
    // pgbench reads one statement per line.
    Ok(sql.split_whitespace().collect::<Vec<_>>().join(" "))
}
