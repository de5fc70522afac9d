//! POST /api/auth/verify-email: uses a mailed verification link. In one statement the link
//! is deleted (single use), its address becomes the account's email (the same one after a
//! signup, the new one after a change) and is marked verified; a change then tells the
//! former address. No credential needed: the link is the proof.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::audit::{self, AuditEvent};
use shared::db::email_verifications::{self, Redeemed};
use shared::domain::{Email, required};
use shared::mail::{self, LinkToken};
use shared::state::MailState;
use shared::{ApiError, http};

const INVALID_TOKEN: &str = "Invalid or expired verification token";
#[derive(Deserialize)]
struct VerifyBody {
    token: Option<String>,
}

shared::declare_function!(
    MailState,
    Access::Public(|| vec![email_verifications::REDEEM.clone()]),
    []
);

async fn route(state: &MailState, req: Request) -> Result<Response<Body>, ApiError> {
    let body: VerifyBody = http::parse_json(&req)?;
    let token = required(body.token, INVALID_TOKEN)?;
    let digest = LinkToken::digest_of(&token);
    let (user, former_email) = match email_verifications::redeem(&state.db, &digest).await? {
        Redeemed::Verified { user, former_email } => (user, former_email),
        Redeemed::Taken => return Err(ApiError::validation(Email::TAKEN)),
        Redeemed::Invalid => return Err(ApiError::validation(INVALID_TOKEN)),
    };
    let user_id = user.id.to_string();
    match former_email {
        Some(former) => {
            let notice = mail::email_changed_mail(&state.mailbox.settings, &former);
            state.mailbox.deliver(&notice).await;
            audit::record(state, &req, AuditEvent::EmailChanged, Some(&user_id));
        }
        None => audit::record(state, &req, AuditEvent::EmailVerified, Some(&user_id)),
    }
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Email verified", "user": user }),
    ))
}
