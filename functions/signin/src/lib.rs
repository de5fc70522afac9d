//! POST /api/auth/signin: unknown email and wrong password give the same answer after the
//! same work (one argon2id verification either way), then a new session is opened. Every
//! attempt counts against the email from this address, the email from everywhere and the
//! address; an attempt a rule refuses gets 429 before any password is looked at, whether
//! or not the email exists, and moves no counter. With `EMAIL_VERIFICATION=required`, a
//! right password on an unverified account gets 403 and a fresh verification link (at
//! most one per window), and no session.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::access;
use shared::audit::{self, AuditEvent};
use shared::auth::digest::random_token;
use shared::config::EmailVerification;
use shared::db::throttle::{self, Attempt, PasswordAttempt, Settlement};
use shared::db::users::User;
use shared::db::{email_verifications, sessions, users};
use shared::domain::{Email, required};
use shared::error::EMAIL_NOT_VERIFIED;
use shared::mail::{self, LinkToken};
use shared::secrecy::SecretString;
use shared::state::MailState;
use shared::{ApiError, http};

#[derive(Deserialize)]
struct SigninBody {
    email: Option<String>,
    password: Option<String>,
    device_token: Option<String>,
}

shared::declare_function!(
    MailState,
    Access::Public(|| vec![
        users::FIND_FOR_SIGNIN.clone(),
        throttle::VOID_SPENT_DEVICE.clone(),
        sessions::OPEN_AFTER_SIGNIN.clone(),
        email_verifications::AFTER_REFUSED_SIGNIN.clone()
    ]),
    [TokenLifetime, Cookies]
);

async fn route(state: &MailState, req: Request) -> Result<Response<Body>, ApiError> {
    let body: SigninBody = http::parse_json(&req)?;
    let email = Email::normalise(body.email.as_deref())
        .ok_or_else(|| ApiError::validation("Email is required"))?;
    let password = required(body.password, "Password is required")?;

    let devices = access::presented_devices(&req, body.device_token);
    let attempt = PasswordAttempt::new(
        &state.config.throttle,
        &state.digests,
        &email,
        http::client_ip(&req, state.config.trusted_proxy_secret.as_ref()),
        &devices,
    );
    let found = users::find_for_signin(&state.db, &email, &attempt)
        .await?
        .map_err(|throttled| access::refuse_throttled(state, &req, None, throttled))?;
    let stored_hash = found.user.as_ref().map(|user| user.password_hash.clone());
    let matches = state
        .passwords
        .verify(SecretString::from(password), stored_hash)
        .await?;
    let user = match found.user {
        Some(found) if matches => found.user,
        user => {
            throttle::void_if_spent(&state.db, found.known_device.as_ref()).await?;
            let user_id = user.map(|user| user.user.id.to_string());
            audit::record(state, &req, AuditEvent::SigninFailed, user_id.as_deref());
            return Err(ApiError::validation("Invalid email or password"));
        }
    };
    let settlement = attempt.settlement(found.known_device.as_ref());
    if state.mailbox.settings.verification == EmailVerification::Required && !user.email_verified {
        return Err(refuse_unverified(state, &req, &user, &settlement).await?);
    }

    let issued = state.tokens.issue(user.id, &user.email, &user.name)?;
    // The device it signed in from: the known one it presented, or a new one.
    let known_token = found
        .known_device
        .as_ref()
        .and_then(|device| attempt.presented_token(device, &devices));
    let device_token = match known_token {
        Some(known) => known.to_owned(),
        None => random_token()?,
    };
    sessions::open_after_signin(
        &state.db,
        user.id,
        issued.session_id,
        issued.expires_at,
        &state.digests.device_digest(&device_token),
        &settlement,
    )
    .await?;
    audit::record(
        state,
        &req,
        AuditEvent::SigninSucceeded,
        Some(&user.id.to_string()),
    );
    Ok(access::signed_in(
        state,
        StatusCode::OK,
        &user,
        &issued,
        &device_token,
    ))
}

/// A right password on an account that has not verified its address, where that is
/// required: the counters settled as for a success, a fresh link mailed (at most one per
/// window), and 403.
async fn refuse_unverified(
    state: &MailState,
    req: &Request,
    user: &User,
    settlement: &Settlement,
) -> Result<ApiError, ApiError> {
    let link = LinkToken::generate()?;
    let settings = &state.mailbox.settings;
    let recipient = email_verifications::after_refused_signin(
        &state.db,
        user.id,
        &Attempt::verification_after_signin(&state.digests, user.id),
        settlement,
        &link.digest,
        settings.verify_token_ttl,
    )
    .await?;
    if let Some(recipient) = recipient {
        let mail = mail::verification_mail(settings, &recipient, &link.token);
        state.mailbox.deliver(&mail).await;
    }
    audit::record(
        state,
        req,
        AuditEvent::SigninUnverified,
        Some(&user.id.to_string()),
    );
    Ok(ApiError::Forbidden(EMAIL_NOT_VERIFIED))
}
