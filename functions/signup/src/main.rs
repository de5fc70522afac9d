//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(signup::plan, |state, req| {
        Box::pin(signup::handler(state, req))
    })
}
