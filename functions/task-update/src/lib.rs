//! PATCH /api/{user_id}/tasks/{task_id}: changes only the fields given (at least one);
//! `"description": null` clears the description.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::tasks::{self, TaskChanges};
use shared::domain::{TaskDescription, TaskTitle};
use shared::http::distinguish_null_from_absent;
use shared::task_handlers::{path_owner_and_task, task_response};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(default, deserialize_with = "distinguish_null_from_absent")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "distinguish_null_from_absent")]
    description: Option<Option<String>>,
    completed: Option<bool>,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(kinds: &[CallerKind]) -> Plan {
    Plan::new().for_kinds(kinds, |kind| {
        [tasks::update_statement(kind), kind.check_statement()]
    })
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| update(state, req)).await
}

async fn update(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let (call, task_id) = path_owner_and_task(state, &req).await?;
    let parsed = http::parse_json::<UpdateBody>(&req).and_then(|body| {
        if body.title.is_none() && body.description.is_none() && body.completed.is_none() {
            return Err(ApiError::validation(
                "Provide at least one of title, description, completed",
            ));
        }
        Ok(TaskChanges {
            title: body
                .title
                .map(|title| TaskTitle::parse(title.as_deref()))
                .transpose()?,
            description: body.description.map(TaskDescription::parse).transpose()?,
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
