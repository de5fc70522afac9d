//! The one error type of every handler. Each variant knows its status; 5xx causes are
//! logged in full and the client sees only the contract's generic message.

use http::StatusCode;

pub use crate::auth::AuthFailure;
use crate::db::DbError;

pub const GENERIC_5XX: &str = "Service temporarily unavailable, please try again";
/// 403: the path names somebody else's resources.
pub const ACCESS_DENIED: &str = "Access denied to this resource";
/// 403: a cookie-authenticated unsafe request from an origin not allowed.
pub const CROSS_SITE_REFUSED: &str = "Cross-site request refused";
/// 403: an account route called with a Better Auth credential.
pub const MANAGED_BY_BETTER_AUTH: &str = "This account is managed by Better Auth";
/// 403: a right password on an account that must verify its address first
/// (`EMAIL_VERIFICATION=required`).
pub const EMAIL_NOT_VERIFIED: &str = "Email not verified";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with a contract message.
    #[error("{0}")]
    Validation(String),
    /// 401.
    #[error("{}", .0.message())]
    Unauthorized(AuthFailure),
    /// 403 with a contract message: [`ACCESS_DENIED`], [`CROSS_SITE_REFUSED`],
    /// [`MANAGED_BY_BETTER_AUTH`] or [`EMAIL_NOT_VERIFIED`].
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("Request body must be 64 KiB or less")]
    PayloadTooLarge,
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Too many attempts, please try again later")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("{GENERIC_5XX}")]
    Unexpected(#[source] anyhow::Error),
}

impl ApiError {
    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::Validation(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unexpected(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::Unexpected(err)
    }
}

/// A value refused by its domain type: 400 with its message.
impl From<crate::domain::Invalid> for ApiError {
    fn from(invalid: crate::domain::Invalid) -> Self {
        ApiError::Validation(invalid.message().to_owned())
    }
}

/// Every database error that reaches a handler is unexpected: a 5xx.
impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        ApiError::Unexpected(anyhow::Error::new(err))
    }
}
