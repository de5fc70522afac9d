//! What every task function does around its one statement: read the path's task id, and
//! answer the task the statement found or 404.

use ::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::access::Authenticated;
use crate::db::credentials::Checked;
use crate::db::tasks::Task;
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

/// The response for a statement about one task: the task with `status`; 401 or 403 as
/// [`Authenticated::checked`] says, 404 if there was none.
pub fn task_response(
    request: &Authenticated<'_>,
    checked: Checked<Option<Task>>,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let task = request
        .checked(checked)?
        .ok_or(ApiError::NotFound(TASK_NOT_FOUND))?;
    Ok(http::json(status, &task))
}
