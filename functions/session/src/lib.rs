//! GET /api/auth/session: the caller's user and when its credential expires, read together
//! with the liveness check in one statement: our session and user, or Better Auth's session
//! or user. A Better Auth JWT whose keys come from another database (`BETTER_AUTH_JWKS_URL`)
//! is answered from its claims.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;
use shared::access;
use shared::auth::better_auth::BetterAuthClaims;
use shared::db::credentials::CallerKind;
use shared::db::sessions;
use shared::db::sessions::SessionUser;
use shared::db::statements::Plan;
use shared::error::AuthFailure;
use shared::{ApiError, AppState, http};
use time::OffsetDateTime;

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Serialize)]
struct SessionBody {
    user: SessionUser,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(kinds: &[CallerKind]) -> Plan {
    Plan::new().for_kinds(kinds, |kind| [sessions::live_user_statement(kind)])
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| session(state, req)).await
}

async fn session(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = access::authenticate(state, &req).await?;
    let elsewhere = state
        .better_auth
        .as_ref()
        .is_some_and(|better_auth| better_auth.settings.jwks_url.is_some());
    let found = match &caller.better_auth_claims {
        Some(claims) if elsewhere => claims_user(claims),
        _ => sessions::live_user(&state.db, &caller.credential, caller.jwt_expires_at()).await?,
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
        },
        claims.expires_at,
    ))
}
