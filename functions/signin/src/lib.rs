//! POST /api/auth/signin: unknown email and wrong password give the same answer after the
//! same work (one argon2id verification either way), then a new session is opened. Every
//! attempt counts against the email's and the source IP's limits; a throttled attempt gets
//! 429 before the password is looked at, whether or not the email exists.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use shared::access;
use shared::auth::password;
use shared::db::throttle::Attempt;
use shared::db::users::SigninLookup;
use shared::db::{sessions, users};
use shared::domain::Email;
use shared::secrecy::SecretString;
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize)]
struct SigninBody {
    email: Option<String>,
    password: Option<String>,
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| signin(state, req)).await
}

async fn signin(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let body: SigninBody = http::parse_json(&req)?;
    let email = Email::normalise(body.email.as_deref())
        .ok_or_else(|| ApiError::validation("Email is required"))?;
    let password = body
        .password
        .filter(|password| !password.is_empty())
        .ok_or_else(|| ApiError::validation("Password is required"))?;

    let source_ip = http::source_ip(&req);
    let attempt = Attempt::signin(&state.config.throttle, &email, source_ip.as_deref());
    let found = match users::find_for_signin(&state.db, &email, &attempt).await? {
        SigninLookup::Counted(found) => found,
        SigninLookup::Throttled { retry_after_secs } => {
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
    };
    let stored_hash = found.as_ref().map(|found| found.password_hash.clone());
    let matches = password::verify(SecretString::from(password), stored_hash).await?;
    let Some(found) = found.filter(|_| matches) else {
        return Err(ApiError::validation("Invalid email or password"));
    };

    let user = found.user;
    let issued = state.tokens.issue(user.id, &user.email, &user.name)?;
    sessions::open_after_signin(
        &state.db,
        user.id,
        issued.session_id,
        issued.expires_at,
        &email,
        source_ip.as_deref(),
    )
    .await?;
    Ok(access::signed_in(StatusCode::OK, &user, &issued))
}
