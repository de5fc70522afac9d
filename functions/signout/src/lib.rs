//! POST /api/auth/signout: 200 and the session cookie cleared; with a valid token (header
//! or cookie) its session is deleted, and with `?scope=global` the user is signed out
//! everywhere: every session ends, with what else that event voids (Security events).
//! Only a cross-site request that the cookie alone authenticates is refused (403).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access::{self, MaybeSignedIn};
use shared::db::sessions;
use shared::{ApiError, AppState, http};

/// A body is optional; a bearer client may name its own device, which sign out everywhere
/// keeps (browsers present theirs as the device cookie).
#[derive(Deserialize)]
struct SignoutBody {
    device_token: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::OptionalCaller(|| vec![sessions::REVOKE.clone(), sessions::REVOKE_ALL.clone()]),
    [Cookies]
);

async fn route(state: &AppState, request: MaybeSignedIn<'_>) -> Result<Response<Body>, ApiError> {
    let req = request.request();
    let everywhere = match http::query_param(req, "scope").as_deref() {
        None => false,
        Some("global") => true,
        Some(_) => return Err(ApiError::validation("scope must be \"global\" or left out")),
    };
    let body: SignoutBody = http::parse_json(req)?;
    // Signing out without a usable token is not an error: there is nothing to revoke. The
    // caller's own devices stay known (Security events).
    let own_devices = access::presented_devices(req, body.device_token);
    request.sign_out(everywhere, &own_devices).await?;
    let mut response = http::json(
        StatusCode::OK,
        &json!({ "message": "Signed out successfully" }),
    );
    access::clear_session_cookie(state, &mut response);
    Ok(response)
}
