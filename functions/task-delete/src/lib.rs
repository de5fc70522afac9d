//! DELETE /api/{user_id}/tasks/{task_id}: deletes one of the caller's tasks.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::tasks;
use shared::task_handlers::{path_owner_and_task, task_or_not_found};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(kinds: &[CallerKind]) -> Plan {
    Plan::new().for_kinds(kinds, |kind| {
        [tasks::delete_statement(kind), kind.check_statement()]
    })
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| delete(state, req)).await
}

async fn delete(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let (call, task_id) = path_owner_and_task(state, &req).await?;
    task_or_not_found(
        &call,
        tasks::delete(&state.db, call.credential(), task_id).await?,
    )?;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Task deleted successfully" }),
    ))
}
