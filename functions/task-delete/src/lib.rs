//! DELETE /api/{user_id}/tasks/{task_id}: deletes one of the caller's tasks.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use shared::access::{Authenticated, PathOwner};
use shared::db::tasks;
use shared::task_handlers::{TASK_NOT_FOUND, task_id};
use shared::{ApiError, AppState, http};

shared::declare_function!(
    AppState,
    Access::PathOwner(|kind| vec![tasks::DELETE.for_kind(kind)]),
    []
);

async fn route(
    _: &AppState,
    request: Authenticated<'_, PathOwner>,
) -> Result<Response<Body>, ApiError> {
    let task_id = request.input(task_id).await?;
    request
        .run(tasks::delete(task_id))
        .await?
        .ok_or(ApiError::NotFound(TASK_NOT_FOUND))?;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Task deleted successfully" }),
    ))
}
