//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(reset_password::plan, |state, req| {
        Box::pin(reset_password::handler(state, req))
    })
}
