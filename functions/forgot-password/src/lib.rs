//! POST /api/auth/forgot-password: for a registered email, stores a single-use reset token
//! (only its SHA-256) and mails the link; for any email, the same body in about the same
//! time, counted against the address's and the email's reset limits
//! ([`shared::link_request`]).

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::audit::AuditEvent;
use shared::db::password_resets;
use shared::db::throttle::Attempt;
use shared::link_request::{self, LinkRequest};
use shared::mail;
use shared::state::MailState;

pub use shared::link_request::ANSWER_FLOOR;

shared::declare_function!(
    MailState,
    Access::Public(|| vec![password_resets::REQUEST.clone()]),
    []
);

static RESET_LINK: LinkRequest = LinkRequest {
    statement: &password_resets::REQUEST,
    attempt: Attempt::reset,
    ttl: |settings| settings.reset_token_ttl,
    mail: mail::reset_mail,
    sent: AuditEvent::ResetRequested,
    failed: AuditEvent::ResetMailFailed,
    answer: "If that email is registered, a reset link has been sent",
};

async fn route(state: &MailState, req: Request) -> Result<Response<Body>, ApiError> {
    link_request::answer(state, req, &RESET_LINK).await
}
