//! DELETE /api/{user_id}/tasks/{task_id}: deletes one of the caller's tasks.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;
use shared::db::tasks::{self, Outcome};
use shared::error::AuthFailure;
use shared::task_routes::{TASK_NOT_FOUND, owner_and_task};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = "task-delete";

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| delete(state, req)).await
}

async fn delete(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let (token, task_id) = owner_and_task(state, &req, FUNCTION).await?;
    match tasks::delete(&state.db, &token, task_id).await? {
        Outcome::SessionEnded => Err(ApiError::Unauthorized(AuthFailure::InvalidToken)),
        Outcome::Done(None) => Err(ApiError::NotFound(TASK_NOT_FOUND)),
        Outcome::Done(Some(_)) => Ok(http::json(
            StatusCode::OK,
            &json!({ "message": "Task deleted successfully" }),
        )),
    }
}
