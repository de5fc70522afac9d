//! POST /api/{user_id}/tasks: creates a task for the caller.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::access::Authenticated;
use shared::db::tasks;
use shared::domain::{TaskDescription, TaskTitle};
use shared::function::Access;
use shared::task_handlers::task_response;
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct CreateBody {
    title: Option<String>,
    description: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::AnyCredential(|kind| vec![tasks::create_statement(kind)]),
    []
);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let request = Authenticated::path_owner(state, req).await?;
    let (title, description) = request
        .input(|req| {
            let body: CreateBody = http::parse_json(req)?;
            Ok((
                TaskTitle::parse(body.title.as_deref())?,
                TaskDescription::parse(body.description)?,
            ))
        })
        .await?;
    let created = tasks::create(&state.db, request.credential(), &title, &description).await?;
    task_response(&request, created, StatusCode::CREATED)
}
