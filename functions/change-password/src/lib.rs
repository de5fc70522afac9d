//! POST /api/auth/change-password: confirms the current password (throttled and timed like
//! a signin), stores the new one, and does what a password change does (Security events):
//! every other session and device of the account ends, with every pending reset link and
//! change of email; the session and device making the request keep working. Our accounts
//! only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access::{Authenticated, OwnAccount};
use shared::audit::AuditEvent;
use shared::db::{throttle, users};
use shared::domain::{Password, required};
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct ChangePasswordBody {
    current_password: Option<String>,
    new_password: Option<String>,
    device_token: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::OwnAccount(|| vec![
        users::PASSWORD_CHECK.clone(),
        throttle::VOID_SPENT_DEVICE.clone(),
        users::CHANGE_PASSWORD.clone()
    ]),
    []
);

async fn route(
    state: &AppState,
    request: Authenticated<'_, OwnAccount>,
) -> Result<Response<Body>, ApiError> {
    let (current, new, device) = request
        .input(|req| {
            let body: ChangePasswordBody = http::parse_json(req)?;
            let current = required(body.current_password, "Current password is required")?;
            let new = required(body.new_password, "New password is required")?;
            Ok((current, Password::parse(Some(new))?, body.device_token))
        })
        .await?;
    let confirmed = request
        .confirm_password(current, "Current password is incorrect", device)
        .await?;
    let password_hash = state.passwords.hash(new.into_secret()).await?;
    request
        .run(users::change_password(
            &password_hash,
            &confirmed.settlement,
            confirmed.caller_devices(),
        ))
        .await?;
    request.audit(AuditEvent::PasswordChanged);
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Password changed" }),
    ))
}
