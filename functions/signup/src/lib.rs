//! POST /api/auth/signup: validates name, email and password in the contract's order, then
//! judges and counts the attempt against the source IP's signup limit and checks the email
//! in one statement, so a refused or doomed signup costs no hash; then hashes the password
//! and stores the user with its first session (and, unless `EMAIL_VERIFICATION=off`, a
//! verification link) in a second statement, and mails the link.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::access;
use shared::audit::{self, AuditEvent};
use shared::auth::digest::random_token;
use shared::db::throttle::Attempt;
use shared::db::users::{self, EmailFound, NewAccount};
use shared::domain::{Email, Name, Password};
use shared::mail::{self, LinkToken};
use shared::state::MailState;
use shared::{ApiError, http};

#[derive(Deserialize)]
struct SignupBody {
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

shared::declare_function!(
    MailState,
    Access::Public(|| vec![
        users::CHECK_SIGNUP.clone(),
        users::CREATE_WITH_SESSION.clone()
    ]),
    [TokenLifetime, Cookies]
);

async fn route(state: &MailState, req: Request) -> Result<Response<Body>, ApiError> {
    let body: SignupBody = http::parse_json(&req)?;
    let name = Name::parse(body.name.as_deref())?;
    let email = Email::parse(body.email.as_deref())?;
    let password = Password::parse(body.password)?;

    let attempt = Attempt::signup(
        &state.config.throttle,
        &state.digests,
        http::client_ip(&req, state.config.trusted_proxy_secret.as_ref()),
    );
    let found = users::check_signup(&state.db, &email, &attempt)
        .await?
        .map_err(|throttled| access::refuse_throttled(state, &req, None, throttled))?;
    if found == EmailFound::Taken {
        return Err(ApiError::validation(Email::TAKEN));
    }

    let password_hash = state.passwords.hash(password.into_secret()).await?;
    let user_id = shared::uuid::Uuid::new_v4();
    let issued = state.tokens.issue(user_id, email.as_str(), name.as_str())?;
    let device_token = random_token()?;
    let settings = &state.mailbox.settings;
    let link = match settings.verification.mails() {
        true => Some(LinkToken::generate()?),
        false => None,
    };
    let account = NewAccount {
        id: user_id,
        name: &name,
        email: &email,
        password_hash: &password_hash,
        session_id: issued.session_id,
        session_expires_at: issued.expires_at,
        device_digest: &state.digests.device_digest(&device_token),
        verification: link
            .as_ref()
            .map(|link| (link.digest.as_slice(), settings.verify_token_ttl)),
    };
    let user = users::create_with_session(&state.db, &account)
        .await?
        // Taken by a concurrent signup since the check.
        .ok_or_else(|| ApiError::validation(Email::TAKEN))?;
    if let Some(link) = link {
        // A mail that cannot go is logged; the account exists all the same, and a new
        // link can be asked for.
        let mail = mail::verification_mail(settings, &user.email, &link.token);
        state.mailbox.deliver(&mail).await;
    }
    audit::record(
        state,
        &req,
        AuditEvent::SignedUp,
        Some(&user.id.to_string()),
    );
    Ok(access::signed_in(
        state,
        StatusCode::CREATED,
        &user,
        &issued,
        &device_token,
    ))
}
