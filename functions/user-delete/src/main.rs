//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(user_delete::plan, |state, req| {
        Box::pin(user_delete::handler(state, req))
    })
}
