//! POST /api/auth/send-verification-email: for an unverified account's email, stores a
//! fresh verification link (only its SHA-256; older links of the account void) and mails
//! it; for any email, answers the same body in about the same time. The request is judged
//! and counted against the address's and the email's limits (the reset limits, on counters
//! of their own) and the link stored in one statement; the answer then waits until
//! [`ANSWER_FLOOR`] has passed, so neither the mail's delivery nor its failure shows.

use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access;
use shared::audit::{self, AuditEvent};
use shared::db::email_verifications;
use shared::db::throttle::Attempt;
use shared::domain::Email;
use shared::function::Access;
use shared::mail::{self, LinkToken};
use shared::state::MailState;
use shared::{ApiError, http};

/// Every successful answer takes at least this long: longer than the mail's delivery
/// usually takes, so unknown, verified and unverified addresses answer alike.
pub const ANSWER_FLOOR: Duration = Duration::from_millis(400);

#[derive(Deserialize)]
struct SendBody {
    email: Option<String>,
}

shared::declare_function!(
    MailState,
    Access::Public(|| vec![email_verifications::REQUEST.clone()]),
    []
);

async fn route(state: &MailState, req: Request) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let body: SendBody = http::parse_json(&req)?;
    let email = Email::parse(body.email.as_deref())?;
    let attempt = Attempt::verification_request(
        &state.config.throttle,
        &state.digests,
        email.as_str(),
        http::client_ip(&req, state.config.trusted_proxy_secret.as_ref()),
    );
    let link = LinkToken::generate()?;
    let settings = &state.mailbox.settings;
    let recipient = email_verifications::request(
        &state.db,
        email.as_str(),
        &link.digest,
        settings.verify_token_ttl,
        &attempt,
    )
    .await?
    .map_err(|throttled| access::refuse_throttled(state, &req, None, throttled))?;
    if let Some(recipient) = recipient {
        let mail = mail::verification_mail(settings, &recipient, &link.token);
        let event = match state.mailbox.deliver(&mail).await {
            true => AuditEvent::VerificationRequested,
            false => AuditEvent::VerificationMailFailed,
        };
        audit::record(state, &req, event, None);
    }
    tokio::time::sleep_until((started + ANSWER_FLOOR).into()).await;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "If that email needs verification, a link has been sent" }),
    ))
}
