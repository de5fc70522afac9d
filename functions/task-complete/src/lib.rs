//! PATCH /api/{user_id}/tasks/{task_id}/complete: toggles `completed` in one statement, so
//! concurrent toggles each count.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::access::Authenticated;
use shared::db::tasks;
use shared::function::Access;
use shared::task_handlers::{task_id, task_response};
use shared::{ApiError, AppState};

shared::declare_function!(
    AppState,
    Access::AnyCredential(|kind| vec![tasks::toggle_statement(kind)]),
    []
);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let request = Authenticated::path_owner(state, req).await?;
    let task_id = request.input(task_id).await?;
    let toggled = tasks::toggle(&state.db, request.credential(), task_id).await?;
    task_response(&request, toggled, StatusCode::OK)
}
