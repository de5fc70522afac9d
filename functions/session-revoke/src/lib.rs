//! DELETE /api/auth/sessions/{session_id}: ends one live session of the account (sign a
//! device out); its token gets 401 from then on. Unknown, ended, or another account's
//! session: 404, all alike. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;
use shared::access;
use shared::audit::AuditEvent;
use shared::db::credentials::CallerKind;
use shared::db::sessions;
use shared::db::statements::Plan;
use shared::uuid::Uuid;
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

const SESSION_NOT_FOUND: &str = "Session not found";

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(_kinds: &[CallerKind]) -> Plan {
    Plan::new().with([
        CallerKind::Session.check_statement(),
        sessions::REVOKE_ONE.clone(),
    ])
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| revoke_session(state, req)).await
}

async fn revoke_session(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let call = access::own_account(state, &req).await?;
    let session_id = http::path_param(&req, "session_id")
        .and_then(|id| Uuid::parse_str(&id).ok())
        .ok_or(ApiError::NotFound(SESSION_NOT_FOUND));
    let session_id = call.parsed_or_refused(session_id).await?;
    let revoked =
        call.answer(sessions::revoke_one(&state.db, call.credential(), session_id).await?)?;
    if !revoked {
        return Err(ApiError::NotFound(SESSION_NOT_FOUND));
    }
    call.audit(AuditEvent::SessionRevoked);
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Session revoked" }),
    ))
}
