//! Audit events: one log line (target `audit`; JSON in Lambda, inside the request's span,
//! so it carries the request id and function) per security-relevant outcome. Each names
//! the event, the user id when known, and the source address as its keyed digest
//! ([`crate::auth::digest`]); never an email, password, token or hash.

use lambda_http::Request;

use crate::AppState;
use crate::http;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    SignedUp,
    SigninSucceeded,
    SigninFailed,
    /// A throttle rule refused the attempt.
    Throttled,
    SignedOut,
    SignedOutEverywhere,
    /// 403: the caller asked for somebody else's resource, or for something it may not do.
    AccessDenied,
    /// 403: an unsafe request authenticated only by the cookie, from an origin not allowed.
    CrossSiteRefused,
    /// A wrong password confirming a change of password or the deletion of the account.
    PasswordCheckFailed,
    PasswordChanged,
    /// A reset link was mailed to a registered email (recorded without a user id: the
    /// request names only the email).
    ResetRequested,
    /// A reset mail to a registered email could not be sent (its cause is logged apart).
    ResetMailFailed,
    PasswordReset,
    SessionRevoked,
    AccountDeleted,
    /// A right password refused because the address is not verified yet.
    SigninUnverified,
    /// A verification link was mailed on request (recorded without a user id).
    VerificationRequested,
    /// A verification mail could not be sent (its cause is logged apart).
    VerificationMailFailed,
    /// A verification link was used: the address is the account's and verified.
    EmailVerified,
    /// A change of email was asked for: a link went to the new address.
    EmailChangeRequested,
    /// A verification link switched the account to a new address.
    EmailChanged,
}

impl AuditEvent {
    pub fn name(self) -> &'static str {
        match self {
            AuditEvent::SignedUp => "signed_up",
            AuditEvent::SigninSucceeded => "signin_succeeded",
            AuditEvent::SigninFailed => "signin_failed",
            AuditEvent::Throttled => "throttled",
            AuditEvent::SignedOut => "signed_out",
            AuditEvent::SignedOutEverywhere => "signed_out_everywhere",
            AuditEvent::AccessDenied => "access_denied",
            AuditEvent::CrossSiteRefused => "cross_site_refused",
            AuditEvent::PasswordCheckFailed => "password_check_failed",
            AuditEvent::PasswordChanged => "password_changed",
            AuditEvent::ResetRequested => "reset_requested",
            AuditEvent::ResetMailFailed => "reset_mail_failed",
            AuditEvent::SessionRevoked => "session_revoked",
            AuditEvent::PasswordReset => "password_reset",
            AuditEvent::AccountDeleted => "account_deleted",
            AuditEvent::SigninUnverified => "signin_unverified",
            AuditEvent::VerificationRequested => "verification_requested",
            AuditEvent::VerificationMailFailed => "verification_mail_failed",
            AuditEvent::EmailVerified => "email_verified",
            AuditEvent::EmailChangeRequested => "email_change_requested",
            AuditEvent::EmailChanged => "email_changed",
        }
    }
}

/// Logs `event` for `req`, with the user's id when known.
pub fn record(state: &AppState, req: &Request, event: AuditEvent, user_id: Option<&str>) {
    let source = http::client_ip(req, state.config.trusted_proxy_secret.as_ref())
        .map(|ip| state.digests.audit_source(&ip.to_string()));
    tracing::info!(
        target: "audit",
        event = event.name(),
        user_id,
        source = source.as_deref(),
        "audit"
    );
}
