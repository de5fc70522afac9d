//! PUT /api/{user_id}/tasks/{task_id}: replaces the title and description (a description
//! left out becomes null); `completed` is set when given and kept otherwise.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::tasks::{self, TaskChanges};
use shared::domain::{TaskDescription, TaskTitle};
use shared::task_handlers::{path_owner_and_task, task_response};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize)]
struct ReplaceBody {
    title: Option<String>,
    description: Option<String>,
    completed: Option<bool>,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(kinds: &[CallerKind]) -> Plan {
    Plan::new().for_kinds(kinds, |kind| {
        [tasks::update_statement(kind), kind.check_statement()]
    })
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| replace(state, req)).await
}

async fn replace(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let (call, task_id) = path_owner_and_task(state, &req).await?;
    let parsed = http::parse_json::<ReplaceBody>(&req).and_then(|body| {
        Ok(TaskChanges {
            title: Some(TaskTitle::parse(body.title.as_deref())?),
            description: Some(TaskDescription::parse(body.description)?),
            completed: body.completed,
        })
    });
    let changes = call.parsed_or_refused(parsed).await?;
    task_response(
        &call,
        tasks::update(&state.db, call.credential(), task_id, &changes).await?,
        StatusCode::OK,
    )
}
