//! The local server for the throughput benchmark: a fresh benchmark database, throttling
//! off (the load comes from one address), one seeded user with 20 tasks. Prints
//! `READY <address> <user id> <token> <email> <password>` on one line, then serves until
//! killed.

use std::sync::Arc;

use anyhow::Context as _;
use bench::BenchDb;
use shared::auth::password;
use shared::db::throttle::Attempt;
use shared::db::users::{self, SignupOutcome};
use shared::domain::{Email, Name};
use shared::secrecy::SecretString;

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "benchmark-password";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let db = BenchDb::start().await?;
    let state = Arc::new(db.state(&[
        ("THROTTLE_SIGNIN_EMAIL", "0"),
        ("THROTTLE_SIGNIN_IP", "0"),
        ("THROTTLE_SIGNUP_IP", "0"),
        ("DATABASE_POOL_SIZE", "8"),
    ])?);

    let user_id = shared::uuid::Uuid::new_v4();
    let name = Name::parse(Some("Bench")).map_err(|err| anyhow::anyhow!("{err}"))?;
    let email = Email::parse(Some(EMAIL)).map_err(|err| anyhow::anyhow!("{err}"))?;
    let hash = password::hash(SecretString::from(PASSWORD)).await?;
    let issued = state.tokens.issue(user_id, EMAIL, "Bench")?;
    let outcome = users::create_with_session(
        &state.db,
        user_id,
        &name,
        &email,
        &hash,
        issued.session_id,
        issued.expires_at,
        &Attempt::default(),
    )
    .await?;
    anyhow::ensure!(
        matches!(outcome, SignupOutcome::Created(_)),
        "seeding the user: {outcome:?}"
    );
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO tasks (user_id, title, description)
             SELECT $1, 'Task ' || n, 'Seeded for the benchmark' FROM generate_series(1, 20) n",
            &[&user_id],
        )
        .await
        .context("seeding tasks")?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "READY http://{} {user_id} {} {EMAIL} {PASSWORD}",
        listener.local_addr()?,
        issued.token
    );
    tokio::select! {
        result = dev_server::serve(listener, state) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
