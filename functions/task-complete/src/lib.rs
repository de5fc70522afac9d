//! PATCH /api/{user_id}/tasks/{task_id}/complete: toggles `completed` in one statement, so
//! concurrent toggles each count.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::access::{Authenticated, PathOwner};
use shared::db::tasks;
use shared::task_handlers::{task_id, task_response};
use shared::{ApiError, AppState};

shared::declare_function!(
    AppState,
    Access::PathOwner(|kind| vec![tasks::TOGGLE.for_kind(kind)]),
    []
);

async fn route(
    _: &AppState,
    request: Authenticated<'_, PathOwner>,
) -> Result<Response<Body>, ApiError> {
    let task_id = request.input(task_id).await?;
    let toggled = request.run(tasks::toggle(task_id)).await?;
    task_response(toggled, StatusCode::OK)
}
