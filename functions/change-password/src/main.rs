//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(change_password::plan, |state, req| {
        Box::pin(change_password::handler(state, req))
    })
}
