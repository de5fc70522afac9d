//! POST /api/auth/forgot-password: for a registered email, stores a single-use reset token
//! (only its SHA-256) and mails the link; for any email, answers the same body in about
//! the same time. The request is judged and counted against the address's and the email's
//! reset limits, and the token stored, in one statement; the answer then waits until
//! [`ANSWER_FLOOR`] has passed since the request came in, so the mail's delivery does not
//! show in the timing.

pub mod ses;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::audit::{self, AuditEvent};
use shared::db::credentials::CallerKind;
use shared::db::password_resets::{self, ResetRequest};
use shared::db::statements::Plan;
use shared::db::throttle::Attempt;
use shared::domain::Email;
use shared::mail::{self, ResetToken};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

/// Every successful answer takes at least this long: longer than the mail's delivery
/// usually takes, so a registered email (stored token, mail sent) and an unknown one
/// (nothing to do) answer alike.
pub const ANSWER_FLOOR: Duration = Duration::from_millis(400);

#[derive(Deserialize)]
struct ForgotBody {
    email: Option<String>,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(_kinds: &[CallerKind]) -> Plan {
    Plan::new().with([password_resets::REQUEST.clone()])
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| forgot_password(state, req)).await
}

async fn forgot_password(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let body: ForgotBody = http::parse_json(&req)?;
    let email = Email::parse(body.email.as_deref())?;
    let mailbox = state
        .mailbox
        .as_ref()
        .context("forgot-password has no mailbox configured")?;
    let attempt = Attempt::reset(
        &state.config.throttle,
        &state.digests,
        email.as_str(),
        http::source_ip(&req).as_deref(),
    );
    let token = ResetToken::generate()?;
    let ttl = mailbox.settings.reset_token_ttl;
    match password_resets::request(&state.db, email.as_str(), &token.digest, ttl, &attempt).await? {
        ResetRequest::Throttled { retry_after_secs } => {
            audit::record(state, &req, AuditEvent::Throttled, None);
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
        ResetRequest::Counted(Some(recipient)) => {
            let mail = mail::reset_mail(&mailbox.settings, &recipient, &token.token);
            mailbox
                .mailer
                .send(&mail)
                .await
                .context("sending the reset mail")?;
            audit::record(state, &req, AuditEvent::ResetRequested, None);
        }
        ResetRequest::Counted(None) => {}
    }
    tokio::time::sleep_until((started + ANSWER_FLOOR).into()).await;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "If that email is registered, a reset link has been sent" }),
    ))
}
