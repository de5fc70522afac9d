//! Authentication: password hashing, tokens, and reading the caller's token off a request.

pub mod jwt;
pub mod password;

use http::header::AUTHORIZATION;
use lambda_http::Request;

pub use jwt::{Claims, IssuedToken, TokenKeys, VerifiedToken};

use crate::db::users::User;

/// The body of a successful signup or signin.
#[derive(Debug, serde::Serialize)]
pub struct AuthSuccess {
    pub user: User,
    pub token: String,
}

use crate::error::{ApiError, AuthFailure};

/// Longest `Authorization` value read; a real token is a few hundred bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The bearer token of `req`, if the header is there at all. The scheme is matched
/// case-insensitively; any other scheme or an empty token is malformed.
pub fn bearer_token(req: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || ApiError::Unauthorized(AuthFailure::InvalidToken);
    if value.len() > MAX_TOKEN_BYTES + "Bearer ".len() {
        return Err(malformed());
    }
    let value = value.to_str().map_err(|_| malformed())?.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(Some(token))
}

/// The verified token of a protected request: 401 without one or with a bad one. Whether
/// its session is still live is checked by the request's own database statement.
pub fn authenticate(req: &Request, keys: &TokenKeys) -> Result<VerifiedToken, ApiError> {
    let token = bearer_token(req)?.ok_or(ApiError::Unauthorized(AuthFailure::MissingToken))?;
    keys.verify(token).map_err(ApiError::Unauthorized)
}

/// The caller of a per-user route (`/api/{user_id}/…`): a verified token whose subject is
/// the path's user. Otherwise 403, decided without reading or writing any task.
pub async fn path_owner(
    state: &crate::AppState,
    req: &Request,
    function: &str,
) -> Result<VerifiedToken, ApiError> {
    let token = authenticate(req, &state.tokens)?;
    let path_user = crate::http::path_param(req, function, "user_id")
        .and_then(|user| uuid::Uuid::parse_str(&user).ok());
    if path_user != Some(token.user_id) {
        return Err(refuse(state, &token, ApiError::Forbidden).await);
    }
    Ok(token)
}

/// For a refusal decided before the request's own statement ran (403, a bad body, a bad
/// task id): a token whose session has ended gets 401 instead, as it does everywhere.
/// Only the error path pays this round trip.
pub async fn refuse(state: &crate::AppState, token: &VerifiedToken, refusal: ApiError) -> ApiError {
    match crate::db::sessions::is_live(&state.db, token).await {
        Ok(true) => refusal,
        Ok(false) => ApiError::Unauthorized(AuthFailure::InvalidToken),
        Err(err) => err.into(),
    }
}
