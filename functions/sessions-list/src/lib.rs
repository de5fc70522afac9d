//! GET /api/auth/sessions: the account's live sessions (one per signin, so per device),
//! newest first, with the one making the request marked `current`. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::access::Authenticated;
use shared::db::sessions;
use shared::function::Access;
use shared::{ApiError, AppState, http};

shared::declare_function!(
    AppState,
    Access::OwnAccount(|| vec![sessions::LIST.clone()]),
    []
);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let request = Authenticated::own_account(state, req).await?;
    let sessions = request.checked(sessions::list(&state.db, request.credential()).await?)?;
    Ok(http::json(StatusCode::OK, &json!({ "sessions": sessions })))
}
