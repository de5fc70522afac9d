//! Applies the pending migrations to `DATABASE_URL`. Run by hand it migrates once and
//! exits; deployed, it is a Lambda without an HTTP route, invoked once after each deploy.
//! Use the direct (not `-pooler`) host on Neon: migrations need a session.

use serde_json::json;
use shared::db::migrations;
use shared::db::statements::Plan;

fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::run_job("migrate", Plan::new(), |db| {
        Box::pin(async move {
            let applied = migrations::run_with(db).await?;
            Ok(json!({ "applied": applied, "known": migrations::MIGRATIONS.len() }))
        })
    })
}
