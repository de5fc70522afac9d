//! GET /api/auth/session: the caller's user and when its credential expires, read together
//! with the liveness check in one statement: our session and user, or Better Auth's session
//! or user. A Better Auth JWT whose keys come from another database (`BETTER_AUTH_JWKS_URL`)
//! is answered from its claims.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::access::{AnyCredential, Authenticated};
use shared::auth::better_auth::BetterAuthClaims;
use shared::db::sessions::{self, SessionUser};
use shared::error::AuthFailure;
use shared::{ApiError, AppState, http};
use time::OffsetDateTime;

#[derive(Serialize)]
struct SessionBody {
    user: SessionUser,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

shared::declare_function!(
    AppState,
    Access::AnyCredential(|kind| vec![sessions::LIVE_USER.for_kind(kind)]),
    []
);

async fn route(
    state: &AppState,
    request: Authenticated<'_, AnyCredential>,
) -> Result<Response<Body>, ApiError> {
    let elsewhere = state
        .better_auth
        .as_ref()
        .is_some_and(|better_auth| better_auth.settings.jwks_url.is_some());
    let found = match request.better_auth_claims() {
        Some(claims) if elsewhere => claims_user(claims),
        _ => request.live_user().await?,
    };
    let (user, expires_at) = found.ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
    Ok(http::json(
        StatusCode::OK,
        &SessionBody { user, expires_at },
    ))
}

/// The user a Better Auth JWT describes (its jwt plugin puts the user's email and name in).
fn claims_user(claims: &BetterAuthClaims) -> Option<(SessionUser, OffsetDateTime)> {
    Some((
        SessionUser {
            id: claims.subject.clone(),
            email: claims.email.clone()?,
            name: claims.name.clone()?,
            email_verified: claims.email_verified.unwrap_or(false),
        },
        claims.expires_at,
    ))
}
