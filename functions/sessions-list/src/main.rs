//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(sessions_list::plan, |state, req| {
        Box::pin(sessions_list::handler(state, req))
    })
}
