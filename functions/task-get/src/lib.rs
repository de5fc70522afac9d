//! GET /api/{user_id}/tasks/{task_id}: one of the caller's tasks.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use shared::db::tasks;
use shared::task_routes::{one, owner_and_task};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = "task-get";

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| get(state, req)).await
}

async fn get(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let (token, task_id) = owner_and_task(state, &req, FUNCTION).await?;
    one(
        tasks::get(&state.db, &token, task_id).await?,
        StatusCode::OK,
    )
}
