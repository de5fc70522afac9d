//! POST /api/auth/signin: unknown email and wrong password give the same answer after the
//! same work (one argon2id verification either way), then a new session is opened.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use shared::auth::{AuthSuccess, password};
use shared::db::{sessions, users};
use shared::domain::Email;
use shared::secrecy::SecretString;
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = "signin";

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

    let found = users::find_by_email(&state.db, &email).await?;
    let stored_hash = found.as_ref().map(|found| found.password_hash.clone());
    let matches = password::verify(SecretString::from(password), stored_hash).await?;
    let Some(found) = found.filter(|_| matches) else {
        return Err(ApiError::validation("Invalid email or password"));
    };

    let user = found.user;
    let issued = state.tokens.issue(user.id, &user.email, &user.name)?;
    sessions::create(&state.db, user.id, issued.session_id, issued.expires_at).await?;
    Ok(http::json(
        StatusCode::OK,
        &AuthSuccess {
            user,
            token: issued.token,
        },
    ))
}
