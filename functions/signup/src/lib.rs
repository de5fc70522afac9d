//! POST /api/auth/signup: validates name, email and password in the contract's order, then
//! judges and counts the attempt against the source IP's signup limit and checks the email
//! in one statement, so a refused or doomed signup costs no hash; then hashes the password
//! and stores the user with its first session in a second statement.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::access;
use shared::audit::{self, AuditEvent};
use shared::auth::digest::random_token;
use shared::db::throttle::Attempt;
use shared::db::users::{self, EmailFound};
use shared::domain::{Email, Name, Password};
use shared::function::Access;
use shared::{ApiError, AppState, http};

const EMAIL_TAKEN: &str = "Email already registered";

#[derive(Deserialize)]
struct SignupBody {
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::Public(|| vec![
        users::CHECK_SIGNUP.clone(),
        users::CREATE_WITH_SESSION.clone()
    ]),
    [TokenLifetime, Cookies]
);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
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
        return Err(ApiError::validation(EMAIL_TAKEN));
    }

    let password_hash = state.passwords.hash(password.into_secret()).await?;
    let user_id = shared::uuid::Uuid::new_v4();
    let issued = state.tokens.issue(user_id, email.as_str(), name.as_str())?;
    let device_token = random_token()?;
    let user = users::create_with_session(
        &state.db,
        user_id,
        &name,
        &email,
        &password_hash,
        issued.session_id,
        issued.expires_at,
        &state.digests.device_digest(&device_token),
    )
    .await?
    // Taken by a concurrent signup since the check.
    .ok_or_else(|| ApiError::validation(EMAIL_TAKEN))?;
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
