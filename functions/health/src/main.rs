//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_http(health::plan, |state, req| {
        Box::pin(health::handler(state, req))
    })
}
