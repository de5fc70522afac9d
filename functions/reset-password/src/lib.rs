//! POST /api/auth/reset-password: sets a new password with a mailed reset token. The token
//! is checked before the new password is hashed (a bad one costs no hash), then used,
//! the password stored and every session of the account ended in one statement: single
//! use, and whoever held the account before signs in again.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::audit::{self, AuditEvent};
use shared::db::password_resets;
use shared::db::throttle::Counters;
use shared::domain::{Password, required};
use shared::mail::LinkToken;
use shared::{ApiError, AppState, http};

const INVALID_TOKEN: &str = "Invalid or expired reset token";

#[derive(Deserialize)]
struct ResetBody {
    token: Option<String>,
    password: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::Public(|| vec![
        password_resets::ACCOUNT_OF.clone(),
        password_resets::REDEEM.clone()
    ]),
    []
);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let body: ResetBody = http::parse_json(&req)?;
    let token = required(body.token, INVALID_TOKEN)?;
    let password = Password::parse(body.password)?;
    let digest = LinkToken::digest_of(&token);
    let email = password_resets::account_of(&state.db, &digest)
        .await?
        .ok_or_else(|| ApiError::validation(INVALID_TOKEN))?;
    let password_hash = state.passwords.hash(password.into_secret()).await?;
    let cleared = Counters::of_email(
        &state.digests,
        &email,
        http::client_ip(&req, state.config.trusted_proxy_secret.as_ref()),
    );
    let user_id = password_resets::redeem(&state.db, &digest, &password_hash, &cleared)
        .await?
        // Used by a concurrent request since the check.
        .ok_or_else(|| ApiError::validation(INVALID_TOKEN))?;
    audit::record(
        state,
        &req,
        AuditEvent::PasswordReset,
        Some(&user_id.to_string()),
    );
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Password has been reset" }),
    ))
}
