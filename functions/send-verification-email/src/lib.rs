//! POST /api/auth/send-verification-email: for an unverified account's email, stores a
//! fresh verification link (only its SHA-256; the account's older links void) and mails
//! it; for any email, the same body in about the same time, counted against the address's
//! and the email's limits (the reset limits, on counters of their own)
//! ([`shared::link_request`]).

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::audit::AuditEvent;
use shared::db::email_verifications;
use shared::db::throttle::Attempt;
use shared::link_request::{self, LinkRequest};
use shared::mail;
use shared::state::MailState;

pub use shared::link_request::ANSWER_FLOOR;

shared::declare_function!(
    MailState,
    Access::Public(|| vec![email_verifications::REQUEST.clone()]),
    []
);

static VERIFICATION_LINK: LinkRequest = LinkRequest {
    statement: &email_verifications::REQUEST,
    attempt: Attempt::verification_request,
    ttl: |settings| settings.verify_token_ttl,
    mail: mail::verification_mail,
    sent: AuditEvent::VerificationRequested,
    failed: AuditEvent::VerificationMailFailed,
    answer: "If that email needs verification, a link has been sent",
};

async fn route(state: &MailState, req: Request) -> Result<Response<Body>, ApiError> {
    link_request::answer(state, req, &VERIFICATION_LINK).await
}
