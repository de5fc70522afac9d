//! POST /api/auth/signout: 200 and the session cookie cleared; with a valid token (header
//! or cookie) its session is deleted, and with `?scope=global` the user is signed out
//! everywhere: every session ends, with what else that event voids (Security events).
//! Only a cross-site request that the cookie alone authenticates is refused (403).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access;
use shared::audit::{self, AuditEvent};
use shared::db::sessions;
use shared::function::Access;
use shared::{ApiError, AppState, http};

/// A body is optional; a bearer client may name its own device, which sign out everywhere
/// keeps (browsers present theirs as the device cookie).
#[derive(Deserialize)]
struct SignoutBody {
    device_token: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::Public(|| vec![sessions::REVOKE.clone(), sessions::REVOKE_ALL.clone()]),
    [TokenLifetime, Cookies]
);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let global = match http::query_param(&req, "scope").as_deref() {
        None => false,
        Some("global") => true,
        Some(_) => return Err(ApiError::validation("scope must be \"global\" or left out")),
    };
    let body: SignoutBody = http::parse_json(&req)?;
    // Signing out without a usable token is not an error: there is nothing to revoke.
    if let Some(caller) = access::caller_if_any(state, &req).await? {
        let event = if global {
            // The caller's own devices stay known (Security events).
            let devices: Vec<Vec<u8>> = access::presented_devices(&req, body.device_token)
                .iter()
                .map(|token| state.digests.device_digest(token))
                .collect();
            sessions::revoke_all(&state.db, &caller.credential, &devices).await?;
            AuditEvent::SignedOutEverywhere
        } else {
            sessions::revoke(&state.db, &caller.credential).await?;
            AuditEvent::SignedOut
        };
        audit::record(state, &req, event, caller.public_id.as_deref());
    }
    let mut response = http::json(
        StatusCode::OK,
        &json!({ "message": "Signed out successfully" }),
    );
    access::clear_session_cookie(state, &mut response);
    Ok(response)
}
