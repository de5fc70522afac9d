//! Applies the pending migrations to `DATABASE_URL`. Run by hand it migrates once and
//! exits; deployed, it is a Lambda without an HTTP route, invoked once after each deploy.
//! Use the direct (not `-pooler`) host on Neon: migrations need a session.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use shared::db::migrations;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let db = shared::state::or_exit(
        shared::state::database_from_env(shared::db::statements::Plan::new()).await,
    );
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let applied = migrations::run_with(&db).await?;
        println!(
            "migrations applied: {applied:?} (of {} known)",
            migrations::MIGRATIONS.len()
        );
        return Ok(());
    }
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        let applied = migrations::run_with(&db).await.map_err(|err| {
            tracing::error!(error = ?err, "migration failed");
            err
        })?;
        Ok::<_, anyhow::Error>(json!({ "applied": applied }))
    }))
    .await
}
