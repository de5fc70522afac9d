//! Lambda entry point: build the state once per cold start, then serve events with it.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(tasks_list::plan, |state, req| {
        Box::pin(tasks_list::handler(state, req))
    })
}
