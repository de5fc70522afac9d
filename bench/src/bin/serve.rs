//! The local server for the throughput benchmark: a fresh benchmark database, throttling
//! off (the load comes from one address), one seeded user with 20 tasks. Prints
//! `READY <address> <user id> <token> <email> <password>` on one line, then serves until
//! killed.

use std::sync::Arc;

use bench::BenchDb;
use dev_server::fixtures::SeededUser;

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

    let seeded = SeededUser::create(&state, EMAIL, PASSWORD, 20).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "READY http://{} {} {} {EMAIL} {PASSWORD}",
        listener.local_addr()?,
        seeded.user_id,
        seeded.token
    );
    tokio::select! {
        result = dev_server::serve(listener, state) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
