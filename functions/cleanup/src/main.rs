//! Deletes expired sessions, throttle counters whose window has passed and expired
//! password-reset tokens. Deployed, it is a Lambda on an EventBridge schedule (no HTTP
//! route); run by hand, it purges once.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use shared::db::maintenance;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let db = shared::state::or_exit(
        shared::state::database_from_env(
            shared::db::statements::Plan::new().with([maintenance::PURGE.clone()]),
        )
        .await,
    );
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let purged = maintenance::purge_expired(&db).await?;
        println!("purged: {purged:?}");
        return Ok(());
    }
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        let purged = maintenance::purge_expired(&db).await.map_err(|err| {
            tracing::error!(error = ?err, "clean-up failed");
            err
        })?;
        tracing::info!(
            sessions = purged.sessions,
            throttle_counters = purged.throttle_counters,
            password_resets = purged.password_resets,
            "expired rows deleted"
        );
        Ok::<_, anyhow::Error>(purged)
    }))
    .await
}
