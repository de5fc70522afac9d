//! POST /api/auth/signup: validates name, email and password in the contract's order, then
//! judges and counts the attempt against the source IP's signup limit and checks the email
//! in one statement, so a refused or doomed signup costs no hash; then hashes the password
//! and stores the user with its first session in a second statement.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use shared::access;
use shared::audit::{self, AuditEvent};
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::throttle::Attempt;
use shared::db::users::{self, SignupCheck};
use shared::domain::{Email, Name, Password};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

const EMAIL_TAKEN: &str = "Email already registered";

#[derive(Deserialize)]
struct SignupBody {
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(_kinds: &[CallerKind]) -> Plan {
    Plan::new().with([
        users::CHECK_SIGNUP.clone(),
        users::CREATE_WITH_SESSION.clone(),
    ])
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| signup(state, req)).await
}

async fn signup(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let body: SignupBody = http::parse_json(&req)?;
    let name = Name::parse(body.name.as_deref())?;
    let email = Email::parse(body.email.as_deref())?;
    let password = Password::parse(body.password)?;

    let attempt = Attempt::signup(
        &state.config.throttle,
        &state.digests,
        http::source_ip(&req).as_deref(),
    );
    match users::check_signup(&state.db, &email, &attempt).await? {
        SignupCheck::Counted => {}
        SignupCheck::EmailTaken => return Err(ApiError::validation(EMAIL_TAKEN)),
        SignupCheck::Throttled { retry_after_secs } => {
            audit::record(state, &req, AuditEvent::Throttled, None);
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
    }

    let password_hash = state.passwords.hash(password.into_secret()).await?;
    let user_id = shared::uuid::Uuid::new_v4();
    let issued = state.tokens.issue(user_id, email.as_str(), name.as_str())?;
    let user = users::create_with_session(
        &state.db,
        user_id,
        &name,
        &email,
        &password_hash,
        issued.session_id,
        issued.expires_at,
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
    ))
}
