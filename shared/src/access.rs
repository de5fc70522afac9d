//! Who is calling. The one place that turns a request into a [`Caller`] (today: our HS256
//! bearer token), applies the path-owner rule (403), and lets a refusal decided before the
//! route's statement through only once the credential is known to be live, so an ended
//! credential gets 401 everywhere.
//!
//! Credentials are verified here without the database ([`crate::auth`] is pure); whether
//! one is still live is decided by the route's own statement, through the predicate its
//! [`Credential`] carries ([`crate::db::credentials`]).

use ::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::auth::{AuthFailure, IssuedToken, VerifiedToken, bearer_token};
use crate::db::credentials::{self, Credential, Outcome};
use crate::db::users::User;
use crate::error::ApiError;
use crate::{AppState, http};

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The id the client knows the caller by: the `{user_id}` of its paths.
    pub user_id: Uuid,
    pub credential: Credential,
}

impl From<VerifiedToken> for Caller {
    fn from(token: VerifiedToken) -> Self {
        Self {
            user_id: token.user_id,
            credential: Credential::Session {
                session_id: token.session_id,
                user_id: token.user_id,
            },
        }
    }
}

/// The caller of a protected request: 401 without a credential or with a bad one.
pub fn authenticate(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    let token = bearer_token(req)
        .map_err(ApiError::Unauthorized)?
        .ok_or(ApiError::Unauthorized(AuthFailure::MissingToken))?;
    state
        .tokens
        .verify(token)
        .map(Caller::from)
        .map_err(ApiError::Unauthorized)
}

/// The caller, if the request carries a valid credential; for routes that answer anonymous
/// requests too (signout).
pub fn caller_if_any(state: &AppState, req: &Request) -> Option<Caller> {
    authenticate(state, req).ok()
}

/// The caller of a per-user route (`/api/{user_id}/…`): authenticated, and the path's user.
/// Otherwise 403, decided without reading or writing anything the route serves.
pub async fn path_owner(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    let caller = authenticate(state, req)?;
    let path_user = http::path_param(req, "user_id").and_then(|user| Uuid::parse_str(&user).ok());
    if path_user != Some(caller.user_id) {
        let refusal = refuse(state, &caller, ApiError::Forbidden).await;
        if matches!(refusal, ApiError::Forbidden) {
            let user_id = caller.user_id.to_string();
            audit::record(state, req, AuditEvent::AccessDenied, Some(&user_id));
        }
        return Err(refusal);
    }
    Ok(caller)
}

/// What to answer for a refusal decided before the route's own statement ran (403, a bad
/// body, a bad id): the refusal, or 401 when the caller's credential has ended. Only the
/// error path pays this round trip.
pub async fn refuse(state: &AppState, caller: &Caller, refusal: ApiError) -> ApiError {
    match credentials::is_live(&state.db, &caller.credential).await {
        Ok(true) => refusal,
        Ok(false) => ApiError::Unauthorized(AuthFailure::InvalidToken),
        Err(err) => err.into(),
    }
}

/// The parsed request input, or what [`refuse`] answers for its error.
pub async fn parsed_or_refused<T>(
    state: &AppState,
    caller: &Caller,
    parsed: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match parsed {
        Ok(value) => Ok(value),
        Err(err) => Err(refuse(state, caller, err).await),
    }
}

/// What a protected statement did, or 401 when it found the credential ended.
pub fn unless_ended<T>(outcome: Outcome<T>) -> Result<T, ApiError> {
    match outcome {
        Outcome::CredentialEnded => Err(ApiError::Unauthorized(AuthFailure::InvalidToken)),
        Outcome::Done(value) => Ok(value),
    }
}

/// The body of a successful signup or signin.
#[derive(Debug, Serialize)]
struct SignedIn<'a> {
    user: &'a User,
    token: &'a str,
}

/// The answer to a successful signup (201) or signin (200): the user and its new token.
pub fn signed_in(status: StatusCode, user: &User, issued: &IssuedToken) -> Response<Body> {
    http::json(
        status,
        &SignedIn {
            user,
            token: &issued.token,
        },
    )
}
