//! GET /api/{user_id}/tasks/{task_id}: one of the caller's tasks.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::access::Authenticated;
use shared::db::tasks;
use shared::function::Access;
use shared::task_handlers::{task_id, task_response};
use shared::{ApiError, AppState};

shared::declare_function!(
    AppState,
    Access::AnyCredential(|kind| vec![tasks::get_statement(kind)]),
    []
);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let request = Authenticated::path_owner(state, req).await?;
    let task_id = request.input(task_id).await?;
    let task = tasks::get(&state.db, request.credential(), task_id).await?;
    task_response(&request, task, StatusCode::OK)
}
