//! POST /api/auth/change-email: confirms the password (throttled and timed like a signin,
//! known devices honoured), counts the request against the account's and the address's
//! own change-of-email limits (each request mails a third party), then, unless another
//! account has the new address, stores a link for it (voiding an older pending change)
//! and mails it there, in words that cannot be taken for a signup. Nothing changes until
//! the link is used (`verify-email`); sessions stay. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access::{Authenticated, OwnAccount};
use shared::audit::AuditEvent;
use shared::db::email_verifications::{self, ChangeRequested};
use shared::db::throttle::{self, Attempt};
use shared::db::users;
use shared::domain::{Email, required};
use shared::error::AuthFailure;
use shared::mail::{self, LinkToken};
use shared::state::MailState;
use shared::{ApiError, http};

#[derive(Deserialize)]
struct ChangeEmailBody {
    new_email: Option<String>,
    password: Option<String>,
    device_token: Option<String>,
}

shared::declare_function!(
    MailState,
    Access::OwnAccount(|| vec![
        users::PASSWORD_CHECK.clone(),
        throttle::VOID_SPENT_DEVICE.clone(),
        email_verifications::REQUEST_CHANGE.clone()
    ]),
    []
);

async fn route(
    state: &MailState,
    request: Authenticated<'_, OwnAccount>,
) -> Result<Response<Body>, ApiError> {
    let (new_email, password, device) = request
        .input(|req| {
            let body: ChangeEmailBody = http::parse_json(req)?;
            let new_email = Email::parse(body.new_email.as_deref())?;
            let password = required(body.password, "Password is required")?;
            Ok((new_email, password, body.device_token))
        })
        .await?;
    let confirmed = request
        .confirm_password(password, "Password is incorrect", device)
        .await?;
    let link = LinkToken::generate()?;
    let settings = &state.mailbox.settings;
    let attempt = Attempt::change_email(
        &state.config.throttle,
        &state.digests,
        request.account_id()?,
        request.client_ip(),
    );
    let requested = request
        .run(email_verifications::request_change(
            &new_email,
            (&link.digest, settings.verify_token_ttl),
            &confirmed.settlement,
            &attempt,
        ))
        .await?;
    // Past the limit: 429 before any mail, and before telling whether the address is taken.
    match requested.map_err(|throttled| request.throttled(throttled))? {
        ChangeRequested::LinkStored => {}
        ChangeRequested::Taken => return Err(ApiError::validation(Email::TAKEN)),
        ChangeRequested::AccountGone => {
            return Err(ApiError::Unauthorized(AuthFailure::InvalidToken));
        }
    }
    let mail = mail::change_mail(settings, new_email.as_str(), &link.token);
    state.mailbox.deliver(&mail).await;
    request.audit(AuditEvent::EmailChangeRequested);
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Verification sent to the new address" }),
    ))
}
