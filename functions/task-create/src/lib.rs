//! POST /api/{user_id}/tasks: creates a task for the caller.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use shared::auth::path_owner;
use shared::db::tasks;
use shared::domain::{TaskDescription, TaskTitle};
use shared::task_routes::{checked, one};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = "task-create";

#[derive(Deserialize)]
struct CreateBody {
    title: Option<String>,
    description: Option<String>,
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| create(state, req)).await
}

async fn create(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let token = path_owner(state, &req, FUNCTION).await?;
    let parsed = http::parse_json::<CreateBody>(&req).and_then(|body| {
        Ok((
            TaskTitle::parse(body.title.as_deref())?,
            TaskDescription::parse(body.description)?,
        ))
    });
    let (title, description) = checked(state, &token, parsed).await?;
    one(
        tasks::create(&state.db, &token, &title, &description).await?,
        StatusCode::CREATED,
    )
}
