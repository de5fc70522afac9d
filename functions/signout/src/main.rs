//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(signout::plan, |state, req| {
        Box::pin(signout::handler(state, req))
    })
}
