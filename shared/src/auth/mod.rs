//! Authentication primitives, pure (no database, no state): password hashing, tokens, and
//! reading a credential off a request. [`crate::access`] turns them into a caller.

pub mod better_auth;
pub mod digest;
pub mod jwt;
pub mod password;

use http::header::AUTHORIZATION;
use lambda_http::Request;

pub use jwt::{Claims, IssuedToken, TokenKeys, VerifiedToken};

/// Why a request is not authenticated: each is a 401 with its contract message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    MissingToken,
    ExpiredToken,
    InvalidToken,
}

impl AuthFailure {
    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::MissingToken => "Authentication required",
            AuthFailure::ExpiredToken => "Token expired, please log in again",
            AuthFailure::InvalidToken => "Invalid or malformed token",
        }
    }
}

/// Longest `Authorization` value read; a real token is a few hundred bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The bearer token of `req`, if the header is there at all. The scheme is matched
/// case-insensitively; any other scheme or an empty token is malformed.
pub fn bearer_token(req: &Request) -> Result<Option<&str>, AuthFailure> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    if value.len() > MAX_TOKEN_BYTES + "Bearer ".len() {
        return Err(AuthFailure::InvalidToken);
    }
    let value = value
        .to_str()
        .map_err(|_| AuthFailure::InvalidToken)?
        .trim();
    if value.is_empty() {
        return Ok(None);
    }
    let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::InvalidToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthFailure::InvalidToken);
    }
    Ok(Some(token))
}
