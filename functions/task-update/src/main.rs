//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(task_update::plan, |state, req| {
        Box::pin(task_update::handler(state, req))
    })
}
