//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(session_revoke::plan, |state, req| {
        Box::pin(session_revoke::handler(state, req))
    })
}
