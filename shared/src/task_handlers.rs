//! What every task function does around its one statement: read the path's task id after
//! the path-owner rule, and answer the task the statement found or 404.

use ::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::access::{self, Call};
use crate::db::credentials::Outcome;
use crate::db::tasks::Task;
use crate::error::ApiError;
use crate::{AppState, http};

pub const TASK_NOT_FOUND: &str = "Task not found";

/// The call (see [`access::path_owner`]) and the path's task id. An id that is not a
/// positive 64-bit integer cannot name a task: 404, like a task that does not exist.
pub async fn path_owner_and_task<'r>(
    state: &'r AppState,
    req: &'r Request,
) -> Result<(Call<'r>, i64), ApiError> {
    let call = access::path_owner(state, req).await?;
    let task_id = http::path_param(req, "task_id")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0);
    match task_id {
        Some(task_id) => Ok((call, task_id)),
        None => Err(call.refuse(ApiError::NotFound(TASK_NOT_FOUND)).await),
    }
}

/// The task a statement found; 401 or 403 as [`Call::answer`] says, 404 if there was none.
pub fn task_or_not_found(
    call: &Call<'_>,
    outcome: Outcome<Option<Task>>,
) -> Result<Task, ApiError> {
    call.answer(outcome)?
        .ok_or(ApiError::NotFound(TASK_NOT_FOUND))
}

/// The response for a statement about one task: the task with `status`, or the refusal.
pub fn task_response(
    call: &Call<'_>,
    outcome: Outcome<Option<Task>>,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    Ok(http::json(status, &task_or_not_found(call, outcome)?))
}
