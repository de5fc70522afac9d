//! DELETE /api/auth/sessions/{session_id}: ends one live session of the account (sign a
//! device out); its token gets 401 from then on. Unknown, ended, or another account's
//! session: 404, all alike. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use shared::access::{Authenticated, OwnAccount};
use shared::audit::AuditEvent;
use shared::db::sessions;
use shared::uuid::Uuid;
use shared::{ApiError, AppState, http};

const SESSION_NOT_FOUND: &str = "Session not found";

shared::declare_function!(
    AppState,
    Access::OwnAccount(|| vec![sessions::REVOKE_ONE.clone()]),
    []
);

async fn route(
    _: &AppState,
    request: Authenticated<'_, OwnAccount>,
) -> Result<Response<Body>, ApiError> {
    let session_id = request
        .input(|req| {
            http::path_param(req, "session_id")
                .and_then(|id| Uuid::parse_str(&id).ok())
                .ok_or(ApiError::NotFound(SESSION_NOT_FOUND))
        })
        .await?;
    let revoked = request.run(sessions::revoke_one(session_id)).await?;
    if !revoked {
        return Err(ApiError::NotFound(SESSION_NOT_FOUND));
    }
    request.audit(AuditEvent::SessionRevoked);
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Session revoked" }),
    ))
}
