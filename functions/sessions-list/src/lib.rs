//! GET /api/auth/sessions: the account's live sessions (one per signin, so per device),
//! newest first, with the one making the request marked `current`. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use shared::access::{Authenticated, OwnAccount};
use shared::db::sessions;
use shared::{ApiError, AppState, http};

shared::declare_function!(
    AppState,
    Access::OwnAccount(|| vec![sessions::LIST.clone()]),
    []
);

async fn route(
    _: &AppState,
    request: Authenticated<'_, OwnAccount>,
) -> Result<Response<Body>, ApiError> {
    let sessions = request.run(sessions::list()).await?;
    Ok(http::json(StatusCode::OK, &json!({ "sessions": sessions })))
}
