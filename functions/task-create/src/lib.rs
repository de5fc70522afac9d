//! POST /api/{user_id}/tasks: creates a task for the caller.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use shared::access::path_owner;
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::tasks;
use shared::domain::{TaskDescription, TaskTitle};
use shared::task_handlers::task_response;
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize)]
struct CreateBody {
    title: Option<String>,
    description: Option<String>,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(kinds: &[CallerKind]) -> Plan {
    Plan::new().for_kinds(kinds, |kind| {
        [tasks::create_statement(kind), kind.check_statement()]
    })
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| create(state, req)).await
}

async fn create(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let call = path_owner(state, &req).await?;
    let parsed = http::parse_json::<CreateBody>(&req).and_then(|body| {
        Ok((
            TaskTitle::parse(body.title.as_deref())?,
            TaskDescription::parse(body.description)?,
        ))
    });
    let (title, description) = call.parsed_or_refused(parsed).await?;
    task_response(
        &call,
        tasks::create(&state.db, call.credential(), &title, &description).await?,
        StatusCode::CREATED,
    )
}
