//! DELETE /api/{user_id}/tasks/{task_id}: deletes one of the caller's tasks.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::access::Authenticated;
use shared::db::tasks;
use shared::function::Access;
use shared::task_handlers::{TASK_NOT_FOUND, task_id};
use shared::{ApiError, AppState, http};

shared::declare_function!(
    AppState,
    Access::AnyCredential(|kind| vec![tasks::delete_statement(kind)]),
    []
);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let request = Authenticated::path_owner(state, req).await?;
    let task_id = request.input(task_id).await?;
    request
        .checked(tasks::delete(&state.db, request.credential(), task_id).await?)?
        .ok_or(ApiError::NotFound(TASK_NOT_FOUND))?;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Task deleted successfully" }),
    ))
}
