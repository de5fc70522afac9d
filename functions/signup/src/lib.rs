//! POST /api/auth/signup: validates name, email and password in the contract's order,
//! hashes the password, and stores the user with its first session in one statement that
//! also counts the attempt against the source IP's signup limit.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use shared::access;
use shared::auth::password;
use shared::db::throttle::Attempt;
use shared::db::users::{self, SignupOutcome};
use shared::domain::{Email, Name, Password};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize)]
struct SignupBody {
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| signup(state, req)).await
}

async fn signup(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let body: SignupBody = http::parse_json(&req)?;
    let name = Name::parse(body.name.as_deref())?;
    let email = Email::parse(body.email.as_deref())?;
    let password = Password::parse(body.password)?;

    let password_hash = password::hash(password.into_secret()).await?;
    let user_id = shared::uuid::Uuid::new_v4();
    let issued = state.tokens.issue(user_id, email.as_str(), name.as_str())?;
    let attempt = Attempt::signup(&state.config.throttle, http::source_ip(&req).as_deref());
    let outcome = users::create_with_session(
        &state.db,
        user_id,
        &name,
        &email,
        &password_hash,
        issued.session_id,
        issued.expires_at,
        &attempt,
    )
    .await?;
    let user = match outcome {
        SignupOutcome::Created(user) => user,
        SignupOutcome::EmailTaken => return Err(ApiError::validation("Email already registered")),
        SignupOutcome::Throttled { retry_after_secs } => {
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
    };
    Ok(access::signed_in(StatusCode::CREATED, &user, &issued))
}
