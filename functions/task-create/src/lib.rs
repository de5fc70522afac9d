//! POST /api/{user_id}/tasks: creates a task for the caller.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use shared::access::{Authenticated, PathOwner};
use shared::db::tasks;
use shared::domain::{TaskDescription, TaskTitle};
use shared::task_handlers::task_response;
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct CreateBody {
    title: Option<String>,
    description: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::PathOwner(|kind| vec![tasks::CREATE.for_kind(kind)]),
    []
);

async fn route(
    _: &AppState,
    request: Authenticated<'_, PathOwner>,
) -> Result<Response<Body>, ApiError> {
    let (title, description) = request
        .input(|req| {
            let body: CreateBody = http::parse_json(req)?;
            Ok((
                TaskTitle::parse(body.title.as_deref())?,
                TaskDescription::parse(body.description)?,
            ))
        })
        .await?;
    let created = request.run(tasks::create(&title, &description)).await?;
    task_response(created, StatusCode::CREATED)
}
