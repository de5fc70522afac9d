//! GET /api/auth/sessions: the account's live sessions (one per signin, so per device),
//! newest first, with the one making the request marked `current`. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;
use shared::access;
use shared::db::credentials::CallerKind;
use shared::db::sessions;
use shared::db::statements::Plan;
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(_kinds: &[CallerKind]) -> Plan {
    Plan::new().with([sessions::LIST.clone()])
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| list_sessions(state, req)).await
}

async fn list_sessions(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let call = access::own_account(state, &req).await?;
    let sessions = call.answer(sessions::list(&state.db, call.credential()).await?)?;
    Ok(http::json(StatusCode::OK, &json!({ "sessions": sessions })))
}
