//! POST /api/auth/change-email: confirms the password (throttled and timed like a signin,
//! known devices honoured), then, unless another account has the new address, stores a
//! link for it and mails it there. Nothing changes until the link is used
//! (`verify-email`); sessions stay. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access::Authenticated;
use shared::audit::AuditEvent;
use shared::db::email_verifications::{self, ChangeRequested};
use shared::db::users;
use shared::domain::{Email, required};
use shared::error::AuthFailure;
use shared::function::Access;
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
        email_verifications::REQUEST_CHANGE.clone()
    ]),
    []
);

async fn route(state: &MailState, req: Request) -> Result<Response<Body>, ApiError> {
    let request = Authenticated::own_account(state, req).await?;
    let (new_email, password, device) = request
        .input(|req| {
            let body: ChangeEmailBody = http::parse_json(req)?;
            let new_email = Email::parse(body.new_email.as_deref())?;
            let password = required(body.password, "Password is required")?;
            Ok((new_email, password, body.device_token))
        })
        .await?;
    let settlement = request
        .confirm_password(password, "Password is incorrect", device)
        .await?;
    let link = LinkToken::generate()?;
    let settings = &state.mailbox.settings;
    let requested = email_verifications::request_change(
        &state.db,
        request.credential(),
        &new_email,
        &link.digest,
        settings.verify_token_ttl,
        &settlement,
    )
    .await?;
    match request.checked(requested)? {
        ChangeRequested::LinkStored => {}
        ChangeRequested::Taken => return Err(ApiError::validation(Email::TAKEN)),
        ChangeRequested::AccountGone => {
            return Err(ApiError::Unauthorized(AuthFailure::InvalidToken));
        }
    }
    let mail = mail::verification_mail(settings, new_email.as_str(), &link.token);
    state.mailbox.deliver(&mail).await;
    request.audit(AuditEvent::EmailChangeRequested);
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": "Verification sent to the new address" }),
    ))
}
