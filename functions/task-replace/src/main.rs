//! Lambda entry point: build the state once per cold start, then serve events with it.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let state = shared::state::or_exit(shared::AppState::cold_start(task_replace::plan).await);
    run(service_fn(|req| task_replace::handler(&state, req))).await
}
