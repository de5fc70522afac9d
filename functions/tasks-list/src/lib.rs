//! GET /api/{user_id}/tasks: the caller's tasks, newest first by default, with the
//! contract's status, sort, order, limit, offset and q parameters.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use shared::access::path_owner;
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::tasks;
use shared::domain::ListQuery;
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(kinds: &[CallerKind]) -> Plan {
    Plan::new().for_kinds(kinds, |kind| {
        let mut statements = tasks::list_statements(kind);
        statements.push(kind.check_statement());
        statements
    })
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| list(state, req)).await
}

async fn list(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let call = path_owner(state, &req).await?;
    let params = http::query_params(&req);
    let query = call
        .parsed_or_refused(ListQuery::parse(|name| {
            params.first(name).map(str::to_owned)
        }))
        .await?;
    let tasks = call.answer(tasks::list(&state.db, call.credential(), &query).await?)?;
    Ok(http::json(StatusCode::OK, &tasks))
}
