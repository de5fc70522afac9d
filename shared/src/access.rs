//! Who is calling. The one place that turns a request into a [`Caller`] (our HS256 token,
//! from the `Authorization` header or else the `todo_session` cookie), refuses cross-site
//! requests that only the cookie authenticates, applies the path-owner rule (403), and lets
//! a refusal decided before the route's statement through only once the credential is
//! known to be live, so an ended credential gets 401 everywhere. It also sets and clears
//! the cookie.
//!
//! Credentials are verified here without the database ([`crate::auth`] is pure); whether
//! one is still live is decided by the route's own statement, through the predicate its
//! [`Credential`] carries ([`crate::db::credentials`]).

use ::http::header::{COOKIE, HeaderValue, ORIGIN, SET_COOKIE};
use ::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::auth::{AuthFailure, IssuedToken, VerifiedToken, bearer_token};
use crate::db::credentials::{self, Credential, Outcome};
use crate::db::users::User;
use crate::error::{ACCESS_DENIED, ApiError, CROSS_SITE_REFUSED};
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

/// The session cookie of a browser app: the token itself, out of reach of page scripts.
pub const SESSION_COOKIE: &str = "todo_session";

/// Where the request's credential was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presented {
    Header,
    /// The browser sent it by itself, whichever page made the request: CSRF applies.
    Cookie,
}

/// The credential a request presents: the `Authorization` header wins; without one, the
/// session cookie.
fn presented_credential(req: &Request) -> Result<Option<(&str, Presented)>, AuthFailure> {
    if let Some(token) = bearer_token(req)? {
        return Ok(Some((token, Presented::Header)));
    }
    Ok(cookie(req, SESSION_COOKIE).map(|token| (token, Presented::Cookie)))
}

/// The value of cookie `name`, from every `Cookie` header of `req`.
fn cookie<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
}

/// The caller of a protected request: 401 without a credential or with a bad one; 403
/// when only the cookie authenticates an unsafe request whose `Origin` is not allowed
/// (a page on another site made the browser send it), before anything is read or written.
pub fn authenticate(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    let (token, presented) = presented_credential(req)
        .map_err(ApiError::Unauthorized)?
        .ok_or(ApiError::Unauthorized(AuthFailure::MissingToken))?;
    let caller = state
        .tokens
        .verify(token)
        .map(Caller::from)
        .map_err(ApiError::Unauthorized)?;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if presented == Presented::Cookie && !safe && !state.cors.allows(req.headers().get(ORIGIN)) {
        let user_id = caller.user_id.to_string();
        audit::record(state, req, AuditEvent::CrossSiteRefused, Some(&user_id));
        return Err(ApiError::Forbidden(CROSS_SITE_REFUSED));
    }
    Ok(caller)
}

/// The caller, if the request carries a valid credential (`None` for a bad one); for
/// routes that answer anonymous requests too (signout). A cross-site request that only
/// the cookie authenticates is still refused.
pub fn caller_if_any(state: &AppState, req: &Request) -> Result<Option<Caller>, ApiError> {
    match authenticate(state, req) {
        Ok(caller) => Ok(Some(caller)),
        Err(ApiError::Unauthorized(_)) => Ok(None),
        Err(refusal) => Err(refusal),
    }
}

/// The caller of a per-user route (`/api/{user_id}/…`): authenticated, and the path's user.
/// Otherwise 403, decided without reading or writing anything the route serves.
pub async fn path_owner(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    let caller = authenticate(state, req)?;
    let path_user = http::path_param(req, "user_id").and_then(|user| Uuid::parse_str(&user).ok());
    if path_user != Some(caller.user_id) {
        let refusal = refuse(state, &caller, ApiError::Forbidden(ACCESS_DENIED)).await;
        if matches!(refusal, ApiError::Forbidden(_)) {
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

/// The answer to a successful signup (201) or signin (200): the user and its new token,
/// in the body for bearer clients and in the session cookie for browsers.
pub fn signed_in(
    state: &AppState,
    status: StatusCode,
    user: &User,
    issued: &IssuedToken,
) -> Response<Body> {
    let mut response = http::json(
        status,
        &SignedIn {
            user,
            token: &issued.token,
        },
    );
    let max_age = state.config.token_lifetime.as_secs();
    set_session_cookie(state, &mut response, &issued.token, max_age);
    response
}

/// Makes `response` clear the session cookie (same attributes, `Max-Age=0`).
pub fn clear_session_cookie(state: &AppState, response: &mut Response<Body>) {
    set_session_cookie(state, response, "", 0);
}

fn set_session_cookie(state: &AppState, response: &mut Response<Body>, value: &str, max_age: u64) {
    let settings = state.config.cookies;
    let secure = if settings.secure { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; HttpOnly{secure}; SameSite={}; Path=/api; Max-Age={max_age}",
        settings.same_site.as_str()
    );
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) => {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        // A token is base64url and dots: it always fits in a header.
        Err(err) => tracing::error!(error = %err, "session cookie not set"),
    }
}
