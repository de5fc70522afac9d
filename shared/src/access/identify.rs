//! Who is calling: the one place that turns a request into a [`Caller`], and refuses
//! cross-site requests that only the cookie authenticates.
//!
//! A credential comes from the `Authorization` header or else the `todo_session` cookie,
//! and is one of: our HS256 token; with `BETTER_AUTH_URL` set, a JWT of the app's Better
//! Auth server or one of its session tokens. Each is verified here without the database
//! ([`crate::auth`] is pure; Better Auth's keys are read only on a cold start or an unknown
//! `kid`); whether it is still live is decided by the route's own statement, through the
//! predicate its [`Credential`] carries ([`crate::db::credentials`]).

use ::http::Method;
use ::http::header::ORIGIN;
use futures_util::future::BoxFuture;
use lambda_http::Request;
use time::OffsetDateTime;

use super::cookies::{SESSION_COOKIE, cookie};
use crate::AppState;
use crate::audit::{self, AuditEvent};
use crate::auth::better_auth::{BetterAuthClaims, jwt_algorithm};
use crate::auth::{AuthFailure, VerifiedToken, bearer_token};
use crate::db::credentials::Credential;
use crate::error::{ApiError, CROSS_SITE_REFUSED};

/// An authenticated caller. Its credential never leaves the access layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The id the client knows the caller by (the `{user_id}` of its paths, the `user_id`
    /// of its tasks), when the credential names it: always, but for a Better Auth session
    /// token, whose user only its row in the database names.
    pub public_id: Option<String>,
    pub(crate) credential: Credential,
    /// What a Better Auth JWT says of its user and lifetime.
    pub better_auth_claims: Option<BetterAuthClaims>,
    /// The email of one of our accounts, as its token says.
    pub account_email: Option<String>,
}

impl From<VerifiedToken> for Caller {
    fn from(token: VerifiedToken) -> Self {
        Self {
            public_id: Some(token.user_id.to_string()),
            credential: Credential::Session {
                session_id: token.session_id,
                user_id: token.user_id,
            },
            better_auth_claims: None,
            account_email: Some(token.email),
        }
    }
}

impl Caller {
    /// Whether this is one of the app's Better Auth users rather than an account of ours.
    pub fn is_better_auth(&self) -> bool {
        !matches!(self.credential, Credential::Session { .. })
    }

    /// When a Better Auth JWT expires.
    pub fn jwt_expires_at(&self) -> Option<OffsetDateTime> {
        self.better_auth_claims
            .as_ref()
            .map(|claims| claims.expires_at)
    }
}

/// Where the request's credential was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CredentialSource {
    Header,
    /// The browser sent it by itself, whichever page made the request: CSRF applies.
    Cookie,
}

/// The credential a request presents: the `Authorization` header wins; without one, the
/// session cookie.
fn presented_credential(req: &Request) -> Result<Option<(&str, CredentialSource)>, AuthFailure> {
    if let Some(token) = bearer_token(req)? {
        return Ok(Some((token, CredentialSource::Header)));
    }
    Ok(cookie(req, SESSION_COOKIE).map(|token| (token, CredentialSource::Cookie)))
}

/// The caller a verified `token` stands for: our own HS256 token, or what the app's
/// Better Auth server issued (a JWT by its algorithm, anything else as a session token).
// Boxed (see `Db::query`): verifying a Better Auth credential reaches its key fetch and
// parsing, compiled once here.
fn identify<'a>(state: &'a AppState, token: &'a str) -> BoxFuture<'a, Result<Caller, AuthFailure>> {
    Box::pin(identify_inline(state, token))
}

async fn identify_inline(state: &AppState, token: &str) -> Result<Caller, AuthFailure> {
    let Some(better_auth) = &state.better_auth else {
        return state.tokens.verify(token).map(Caller::from);
    };
    match jwt_algorithm(token) {
        Some(Ok(jsonwebtoken::Algorithm::HS256)) => state.tokens.verify(token).map(Caller::from),
        Some(Ok(_)) => {
            let claims = better_auth.verify_jwt(&state.db, token).await?;
            Ok(Caller {
                public_id: Some(claims.subject.clone()),
                credential: Credential::BetterAuthJwt {
                    server: better_auth.server.clone(),
                    subject: claims.subject.clone(),
                },
                better_auth_claims: Some(claims),
                account_email: None,
            })
        }
        Some(Err(failure)) => Err(failure),
        None if better_auth.settings.accepts_session_tokens() => Ok(Caller {
            public_id: None,
            credential: Credential::BetterAuthSession {
                server: better_auth.server.clone(),
                token: better_auth
                    .verifier()
                    .session_token(token, better_auth.settings.require_signature)?,
                path_owner: None,
            },
            better_auth_claims: None,
            account_email: None,
        }),
        None => Err(AuthFailure::InvalidToken),
    }
}

/// The caller of a protected request: 401 without a credential or with a bad one; 403
/// when only the cookie authenticates an unsafe request whose `Origin` is not allowed
/// (a page on another site made the browser send it), before anything is read or written.
pub(super) async fn authenticate(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    let (token, presented) = presented_credential(req)
        .map_err(ApiError::Unauthorized)?
        .ok_or(ApiError::Unauthorized(AuthFailure::MissingToken))?;
    let caller = identify(state, token)
        .await
        .map_err(ApiError::Unauthorized)?;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if presented == CredentialSource::Cookie
        && !safe
        && !state.cors.allows(req.headers().get(ORIGIN))
    {
        audit::record(
            state,
            req,
            AuditEvent::CrossSiteRefused,
            caller.public_id.as_deref(),
        );
        return Err(ApiError::Forbidden(CROSS_SITE_REFUSED));
    }
    Ok(caller)
}

/// The caller, if the request carries a valid credential (`None` for a bad one); for
/// routes that answer anonymous requests too (signout). A cross-site request that only
/// the cookie authenticates is still refused.
pub(super) async fn caller_if_any(
    state: &AppState,
    req: &Request,
) -> Result<Option<Caller>, ApiError> {
    match authenticate(state, req).await {
        Ok(caller) => Ok(Some(caller)),
        Err(ApiError::Unauthorized(_)) => Ok(None),
        Err(refusal) => Err(refusal),
    }
}
