//! DELETE /api/{user_id}/tasks/{task_id}: deletes one of the caller's tasks.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;
use shared::db::tasks;
use shared::task_routes::{found, owner_and_task};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = "task-delete";

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| delete(state, req)).await
}

async fn delete(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let (token, task_id) = owner_and_task(state, &req, FUNCTION).await?;
    found(tasks::delete(&state.db, &token, task_id).await?)?;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Task deleted successfully" }),
    ))
}
