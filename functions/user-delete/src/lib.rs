//! DELETE /api/auth/user: confirms the password (throttled and timed like a signin), then
//! deletes the account: every session, task and reset link goes with it, its tokens get
//! 401 from then on, and its email can sign up again. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access::{self, Authenticated, OwnAccount};
use shared::audit::AuditEvent;
use shared::db::{throttle, users};
use shared::domain::required;
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct DeleteBody {
    password: Option<String>,
    device_token: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::OwnAccount(|| vec![
        users::PASSWORD_CHECK.clone(),
        throttle::VOID_SPENT_DEVICE.clone(),
        users::DELETE_ACCOUNT.clone()
    ]),
    [Cookies]
);

async fn route(
    state: &AppState,
    request: Authenticated<'_, OwnAccount>,
) -> Result<Response<Body>, ApiError> {
    let (password, device) = request
        .input(|req| {
            let body: DeleteBody = http::parse_json(req)?;
            Ok((
                required(body.password, "Password is required")?,
                body.device_token,
            ))
        })
        .await?;
    let confirmed = request
        .confirm_password(password, "Password is incorrect", device)
        .await?;
    request
        .run(users::delete_account(&confirmed.settlement))
        .await?;
    request.audit(AuditEvent::AccountDeleted);
    let mut response = http::json(StatusCode::OK, &json!({ "message": "Account deleted" }));
    access::clear_session_cookie(state, &mut response);
    Ok(response)
}
