//! POST /api/auth/change-password: confirms the current password (throttled and timed like
//! a signin), stores the new one, and ends every other session of the account (and any
//! pending reset link); the session making the request keeps working. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access;
use shared::audit::AuditEvent;
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::users;
use shared::domain::{Password, required};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize)]
struct ChangePasswordBody {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(_kinds: &[CallerKind]) -> Plan {
    Plan::new().with([
        CallerKind::Session.check_statement(),
        users::PASSWORD_CHECK.clone(),
        users::CHANGE_PASSWORD.clone(),
    ])
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| change_password(state, req)).await
}

async fn change_password(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let call = access::own_account(state, &req).await?;
    let parsed = http::parse_json::<ChangePasswordBody>(&req).and_then(|body| {
        let current = required(body.current_password, "Current password is required")?;
        let new = required(body.new_password, "New password is required")?;
        Ok((current, Password::parse(Some(new))?))
    });
    let (current, new) = call.parsed_or_refused(parsed).await?;
    let attempt = call
        .confirm_password(current, "Current password is incorrect")
        .await?;
    let password_hash = state.passwords.hash(new.into_secret()).await?;
    call.answer(
        users::change_password(&state.db, call.credential(), &password_hash, &attempt).await?,
    )?;
    call.audit(AuditEvent::PasswordChanged);
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Password changed" }),
    ))
}
