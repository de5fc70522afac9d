//! POST /api/auth/forgot-password: for a registered email, stores a single-use reset token
//! (only its SHA-256) and mails the link; for any email, answers the same body in about
//! the same time. The request is judged and counted against the address's and the email's
//! reset limits, and the token stored, in one statement; the answer then waits until
//! [`ANSWER_FLOOR`] has passed since the request came in, so the mail's delivery does not
//! show in the timing. A mail that cannot be sent is logged and audited, and answered the
//! same: its failure tells nothing about the address either.

use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access;
use shared::audit::{self, AuditEvent};
use shared::db::password_resets;
use shared::db::throttle::Attempt;
use shared::domain::Email;
use shared::function::Access;
use shared::mail::{self, LinkToken};
use shared::state::MailState;
use shared::{ApiError, http};

/// Every successful answer takes at least this long: longer than the mail's delivery
/// usually takes, so a registered email (stored token, mail sent) and an unknown one
/// (nothing to do) answer alike.
pub const ANSWER_FLOOR: Duration = Duration::from_millis(400);

#[derive(Deserialize)]
struct ForgotBody {
    email: Option<String>,
}

shared::declare_function!(
    MailState,
    Access::Public(|| vec![password_resets::REQUEST.clone()]),
    []
);

async fn route(state: &MailState, req: Request) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let body: ForgotBody = http::parse_json(&req)?;
    let email = Email::parse(body.email.as_deref())?;
    let attempt = Attempt::reset(
        &state.config.throttle,
        &state.digests,
        email.as_str(),
        http::client_ip(&req, state.config.trusted_proxy_secret.as_ref()),
    );
    let token = LinkToken::generate()?;
    let settings = &state.mailbox.settings;
    let recipient = password_resets::request(
        &state.db,
        email.as_str(),
        &token.digest,
        settings.reset_token_ttl,
        &attempt,
    )
    .await?
    .map_err(|throttled| access::refuse_throttled(state, &req, None, throttled))?;
    if let Some(recipient) = recipient {
        let mail = mail::reset_mail(settings, &recipient, &token.token);
        let event = match state.mailbox.deliver(&mail).await {
            true => AuditEvent::ResetRequested,
            false => AuditEvent::ResetMailFailed,
        };
        audit::record(state, &req, event, None);
    }
    tokio::time::sleep_until((started + ANSWER_FLOOR).into()).await;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "If that email is registered, a reset link has been sent" }),
    ))
}
