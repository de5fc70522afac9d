//! Lambda entry point: build the state once per cold start, then serve events with it.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let state = shared::state::or_exit(shared::AppState::cold_start(sessions_list::plan).await);
    run(service_fn(|req| sessions_list::handler(&state, req))).await
}
