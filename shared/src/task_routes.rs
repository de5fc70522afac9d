//! What every task function does around its one statement: find the caller and the task id,
//! refuse early errors the same way, and turn the statement's outcome into the response.

use ::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Deserializer};

use crate::auth::{VerifiedToken, path_owner, refuse};
use crate::db::tasks::{Outcome, Task};
use crate::error::{ApiError, AuthFailure};
use crate::{AppState, http};

pub const TASK_NOT_FOUND: &str = "Task not found";

/// The caller and the path's task id. An id that is not a positive 64-bit integer cannot
/// name a task: 404, like a task that does not exist.
pub async fn owner_and_task(
    state: &AppState,
    req: &Request,
    function: &str,
) -> Result<(VerifiedToken, i64), ApiError> {
    let token = path_owner(state, req, function).await?;
    let task_id = http::path_param(req, function, "task_id")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0);
    match task_id {
        Some(task_id) => Ok((token, task_id)),
        None => Err(refuse(state, &token, ApiError::NotFound(TASK_NOT_FOUND)).await),
    }
}

/// `result` as is when Ok; a refusal (checked against the session) when Err.
pub async fn checked<T>(
    state: &AppState,
    token: &VerifiedToken,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match result {
        Ok(value) => Ok(value),
        Err(err) => Err(refuse(state, token, err).await),
    }
}

/// What the statement found, or 401 when it found the session ended.
pub fn live<T>(outcome: Outcome<T>) -> Result<T, ApiError> {
    match outcome {
        Outcome::SessionEnded => Err(ApiError::Unauthorized(AuthFailure::InvalidToken)),
        Outcome::Done(found) => Ok(found),
    }
}

/// The task a statement found, or 404.
pub fn found(outcome: Outcome<Option<Task>>) -> Result<Task, ApiError> {
    live(outcome)?.ok_or(ApiError::NotFound(TASK_NOT_FOUND))
}

/// The response for a statement about one task.
pub fn one(outcome: Outcome<Option<Task>>, status: StatusCode) -> Result<Response<Body>, ApiError> {
    Ok(http::json(status, &found(outcome)?))
}

/// For optional fields where `null` and absent mean different things (PATCH): absent is
/// `None`, `null` is `Some(None)`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
