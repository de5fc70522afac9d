//! Deletes expired sessions, throttle counters whose window has passed, expired reset and
//! verification links, and devices unused for their lifetime. Deployed, it is a Lambda on an EventBridge schedule (no HTTP
//! route); run by hand, it purges once.

use shared::db::maintenance;
use shared::db::statements::Plan;

fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::run_job(
        "cleanup",
        Plan::new().with([maintenance::PURGE.clone()]),
        |db| {
            Box::pin(async move {
                let purged = maintenance::purge_expired(db).await?;
                tracing::info!(
                    sessions = purged.sessions,
                    throttle_counters = purged.throttle_counters,
                    password_resets = purged.password_resets,
                    devices = purged.devices,
                    email_verifications = purged.email_verifications,
                    "expired rows deleted"
                );
                Ok(serde_json::to_value(purged)?)
            })
        },
    )
}
