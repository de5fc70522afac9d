//! What every task function does around its one statement: read the path's task id, and
//! answer the task the statement found or 404.

use ::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::access::{Authenticated, PathOwner};
use crate::db::tasks::{self, Task, TaskChanges};
use crate::error::ApiError;
use crate::http;

pub const TASK_NOT_FOUND: &str = "Task not found";

/// The path's task id. An id that is not a positive 64-bit integer cannot name a task: 404,
/// like a task that does not exist. Read through [`Authenticated::input`].
pub fn task_id(req: &Request) -> Result<i64, ApiError> {
    http::path_param(req, "task_id")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound(TASK_NOT_FOUND))
}

/// PUT and PATCH: the path's task changed as `changes` reads the request's body, in one
/// statement; the task as it now is.
pub async fn update_task(
    request: Authenticated<'_, PathOwner>,
    changes: fn(&Request) -> Result<TaskChanges, ApiError>,
) -> Result<Response<Body>, ApiError> {
    let (task_id, changes) = request
        .input(|req| Ok((task_id(req)?, changes(req)?)))
        .await?;
    let updated = request.run(tasks::update(task_id, &changes)).await?;
    task_response(updated, StatusCode::OK)
}

/// The response for a statement about one task: the task with `status`, or 404 if there
/// was none.
pub fn task_response(task: Option<Task>, status: StatusCode) -> Result<Response<Body>, ApiError> {
    let task = task.ok_or(ApiError::NotFound(TASK_NOT_FOUND))?;
    Ok(http::json(status, &task))
}
