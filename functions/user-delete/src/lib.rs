//! DELETE /api/auth/user: confirms the password (throttled and timed like a signin), then
//! deletes the account: every session, task and reset link goes with it, its tokens get
//! 401 from then on, and its email can sign up again. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access;
use shared::audit::AuditEvent;
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::users;
use shared::domain::required;
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize)]
struct DeleteBody {
    password: Option<String>,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(_kinds: &[CallerKind]) -> Plan {
    Plan::new().with([
        CallerKind::Session.check_statement(),
        users::PASSWORD_CHECK.clone(),
        users::DELETE_ACCOUNT.clone(),
    ])
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| delete_user(state, req)).await
}

async fn delete_user(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let call = access::own_account(state, &req).await?;
    let parsed = http::parse_json::<DeleteBody>(&req)
        .and_then(|body| required(body.password, "Password is required"));
    let password = call.parsed_or_refused(parsed).await?;
    let attempt = call
        .confirm_password(password, "Password is incorrect")
        .await?;
    call.answer(users::delete_account(&state.db, call.credential(), &attempt).await?)?;
    call.audit(AuditEvent::AccountDeleted);
    let mut response = http::json(StatusCode::OK, &json!({ "message": "Account deleted" }));
    access::clear_session_cookie(state, &mut response);
    Ok(response)
}
