//! Every function's `main`: logging, the cold start and the Lambda event loop, compiled
//! once, here. A function hands over its declaration ([`Function`]), whose handler's
//! future is boxed, and instantiates nothing generic of its own: the runtime client, hyper
//! and tower code behind `lambda_http::run`, and the `async fn` bodies of this crate, were
//! otherwise built again at full optimisation into each of the functions (most of a
//! one-handler rebuild).

use std::fmt::Display;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use lambda_http::{Error, service_fn};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::config::{DatabaseSettings, HttpConfig, MailSettings};
use crate::db::Db;
use crate::db::statements::Plan;
use crate::function::{Access, Function, Handler};
use crate::mail::Mailbox;
use crate::mail::ses::SesMailer;
use crate::state::{AppState, HttpState, MailState};

/// The work of a function without an HTTP route, on its database; what it returns is the
/// invocation's answer.
pub type Job = for<'a> fn(&'a Db) -> BoxFuture<'a, anyhow::Result<Value>>;

/// A state a cold start builds from the environment (secrets fetched from Secrets Manager
/// where a `*_ARN` variable says so), for a function of `access`.
pub trait ColdStart: crate::function::FunctionState + Sized {
    fn cold_start(access: Access) -> BoxFuture<'static, anyhow::Result<Self>>;
}

fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The database and CORS variables only: `health` needs no signing secret, and no
/// permission to read one. A database that is down now is logged, not fatal: requests
/// retry the connection and answer 503 meanwhile.
impl ColdStart for HttpState {
    fn cold_start(access: Access) -> BoxFuture<'static, anyhow::Result<Self>> {
        Box::pin(async move {
            let env = crate::secrets::resolve(environment).await?;
            let state = Self::new(&HttpConfig::from_lookup(&env)?, access.plan(&[]))?;
            state.db.warm_up_logged().await;
            Ok(state)
        })
    }
}

/// Configuration, then the first database connection and Better Auth's keys, all before
/// the runtime asks for the first event.
impl ColdStart for AppState {
    fn cold_start(access: Access) -> BoxFuture<'static, anyhow::Result<Self>> {
        Box::pin(async move {
            let config = crate::secrets::load_config(environment).await?;
            let state = Self::new(config, |kinds| access.plan(kinds))?;
            state.db.warm_up_logged().await;
            if let Some(keys) = &state.better_auth {
                keys.cold_start_logged(&state.db).await;
            }
            Ok(state)
        })
    }
}

/// [`AppState`]'s cold start and Amazon SES as the mailbox (`EMAIL_FROM` and `APP_URL`
/// required).
impl ColdStart for MailState {
    fn cold_start(access: Access) -> BoxFuture<'static, anyhow::Result<Self>> {
        Box::pin(async move {
            let app = AppState::cold_start(access).await?;
            let mailbox = Mailbox {
                settings: MailSettings::from_lookup(&environment)?,
                mailer: Arc::new(SesMailer::from_lookup(&environment)?),
            };
            Ok(Self { app, mailbox })
        })
    }
}

/// An HTTP function: its cold start, then events served by its handler.
pub fn run<S: ColdStart>(function: &'static Function<S>) -> Result<(), Error> {
    runtime()?.block_on(async {
        crate::telemetry::init();
        let state = or_exit(S::cold_start(function.access).await);
        serve(&state, function.handler).await
    })
}

/// A function without an HTTP route (migrate, cleanup): run by hand (outside Lambda) it
/// does `job` once and prints what it did as `{name}: {answer}`; deployed, every event
/// runs `job`, and a failure is logged and answered as the invocation's error. Its
/// connections prepare `plan`.
pub fn run_job(name: &'static str, plan: Plan, job: Job) -> Result<(), Error> {
    runtime()?.block_on(async move {
        crate::telemetry::init();
        let db = or_exit(database_from_env(plan).await);
        if std::env::var_os(crate::config::vars::AWS_LAMBDA_RUNTIME_API).is_none() {
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

/// The database of a function without an HTTP route: `DATABASE_URL`, or the value of
/// `DATABASE_URL_SECRET_ARN`, and the pool settings.
async fn database_from_env(plan: Plan) -> anyhow::Result<Db> {
    let env = crate::secrets::resolve(environment).await?;
    Db::connect_lazy(&DatabaseSettings::from_lookup(&env)?, plan)
}

/// Ends a cold start that cannot go on: one line (a log line, JSON in Lambda) naming what
/// to fix, no backtrace, exit status 1.
pub fn or_exit<T, E: Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => {
            tracing::error!("start-up failed: {err:#}");
            std::process::exit(1);
        }
    }
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
