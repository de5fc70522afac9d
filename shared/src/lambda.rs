//! Every function's `main`: logging, the cold start and the Lambda event loop, compiled
//! once, here. A function hands over its plan and a handler whose future it boxes, and
//! instantiates nothing generic: the runtime client, hyper and tower code behind
//! `lambda_http::run`, and the `async fn` bodies of this crate, were otherwise built again
//! at full optimisation into each of the functions (most of a one-handler rebuild).

use futures_util::future::BoxFuture;
use lambda_http::{Body, Error, Request, Response, service_fn};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::AppState;
use crate::db::Db;
use crate::db::statements::Plan;
use crate::state::{HttpState, PlanOf, or_exit};

/// A function's handler, its future boxed so that one event loop serves every function.
pub type Handler<S> = for<'a> fn(&'a S, Request) -> BoxFuture<'a, Result<Response<Body>, Error>>;

/// The work of a function without an HTTP route, on its database; what it returns is the
/// invocation's answer.
pub type Job = for<'a> fn(&'a Db) -> BoxFuture<'a, anyhow::Result<Value>>;

/// An HTTP function: the cold start with `plan`, then events served with `handler`.
pub fn run(plan: PlanOf, handler: Handler<AppState>) -> Result<(), Error> {
    run_with(plan, |_| {}, handler)
}

/// [`run`], with `set_up` adding to the state what only this function needs
/// (forgot-password's mailbox).
pub fn run_with(
    plan: PlanOf,
    set_up: fn(&mut AppState),
    handler: Handler<AppState>,
) -> Result<(), Error> {
    runtime()?.block_on(async {
        crate::telemetry::init();
        let mut state = or_exit(AppState::cold_start(plan).await);
        set_up(&mut state);
        serve(&state, handler).await
    })
}

/// [`run`] for a function that needs no more than [`HttpState`] (health).
pub fn run_http(plan: PlanOf, handler: Handler<HttpState>) -> Result<(), Error> {
    runtime()?.block_on(async {
        crate::telemetry::init();
        let state = or_exit(HttpState::cold_start(plan).await);
        serve(&state, handler).await
    })
}

/// A function without an HTTP route (migrate, cleanup): run by hand (outside Lambda) it
/// does `job` once and prints what it did as `{name}: {answer}`; deployed, every event
/// runs `job`, and a failure is logged and answered as the invocation's error.
pub fn run_job(name: &'static str, plan: Plan, job: Job) -> Result<(), Error> {
    runtime()?.block_on(async move {
        crate::telemetry::init();
        let db = or_exit(crate::state::database_from_env(plan).await);
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
            println!("{name}: {}", job(&db).await?);
            return Ok(());
        }
        let db = &db;
        lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
            job(db).await.inspect_err(|err| {
                tracing::error!(error = ?err, "{name} failed");
            })
        }))
        .await
    })
}

/// The runtime `#[tokio::main]` would build.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

async fn serve<S: Sync>(state: &S, handler: Handler<S>) -> Result<(), Error> {
    lambda_http::run(service_fn(move |req| handler(state, req))).await
}
