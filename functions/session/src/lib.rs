//! GET /api/auth/session: the token's user and expiry, read together with the session
//! check in one statement.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;
use shared::access;
use shared::db::sessions;
use shared::db::users::User;
use shared::error::AuthFailure;
use shared::{ApiError, AppState, http};
use time::OffsetDateTime;

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Serialize)]
struct SessionBody {
    user: User,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| session(state, req)).await
}

async fn session(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = access::authenticate(state, &req)?;
    let (user, expires_at) = sessions::live_user(&state.db, &caller.credential)
        .await?
        .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
    Ok(http::json(
        StatusCode::OK,
        &SessionBody { user, expires_at },
    ))
}
