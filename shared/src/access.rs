//! Who is calling, and the protocol of a protected request. The one place that turns a
//! request into a [`Caller`], refuses cross-site requests that only the cookie
//! authenticates, and applies the path-owner rule (403). An [`Authenticated`] request owns
//! its request, so its input is read only through a step that lets a refusal through once
//! the credential is known to be live: an ended credential gets 401 everywhere. It also
//! answers throttled attempts, and sets and clears the session cookie.
//!
//! A credential comes from the `Authorization` header or else the `todo_session` cookie,
//! and is one of: our HS256 token; with `BETTER_AUTH_URL` set, a JWT of the app's Better
//! Auth server or one of its session tokens. Each is verified here without the database
//! ([`crate::auth`] is pure; Better Auth's keys are read only on a cold start or an unknown
//! `kid`); whether it is still live is decided by the route's own statement, through the
//! predicate its [`Credential`] carries ([`crate::db::credentials`]).

use ::http::header::{COOKIE, HeaderValue, ORIGIN, SET_COOKIE};
use ::http::{Method, StatusCode};
use futures_util::future::BoxFuture;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::{self, AuditEvent};
use crate::auth::better_auth::{BetterAuthClaims, jwt_algorithm};
use crate::auth::{AuthFailure, IssuedToken, VerifiedToken, bearer_token};
use crate::db::credentials::{self, Checked, Credential};
use crate::db::throttle::{MAX_PRESENTED_DEVICES, Throttled};
use crate::db::users::{DEVICE_LIFETIME_SECS, User};
use crate::error::{ACCESS_DENIED, ApiError, CROSS_SITE_REFUSED, MANAGED_BY_BETTER_AUTH};
use crate::{AppState, http};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The id the client knows the caller by (the `{user_id}` of its paths, the `user_id`
    /// of its tasks), when the credential names it: always, but for a Better Auth session
    /// token, whose user only its row in the database names.
    pub public_id: Option<String>,
    pub credential: Credential,
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

/// The session cookie of a browser app: the token itself, out of reach of page scripts.
pub const SESSION_COOKIE: &str = "todo_session";

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

/// The first value of cookie `name`, from every `Cookie` header of `req`.
fn cookie<'r>(req: &'r Request, name: &'r str) -> Option<&'r str> {
    cookies(req, name).next()
}

/// Every non-empty value of cookie `name`, from every `Cookie` header of `req`, in order.
fn cookies<'r>(req: &'r Request, name: &'r str) -> impl Iterator<Item = &'r str> {
    req.headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
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
pub async fn authenticate(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
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
pub async fn caller_if_any(state: &AppState, req: &Request) -> Result<Option<Caller>, ApiError> {
    match authenticate(state, req).await {
        Ok(caller) => Ok(Some(caller)),
        Err(ApiError::Unauthorized(_)) => Ok(None),
        Err(refusal) => Err(refusal),
    }
}

/// A protected request once its caller is authenticated. It owns the request, so what the
/// request carries (body, path, query) is read only through [`Authenticated::input`],
/// which answers a refusal of it only once the credential is known to be live: an ended
/// credential gets 401 everywhere, however else the request is wrong.
pub struct Authenticated<'s> {
    state: &'s AppState,
    req: Request,
    caller: Caller,
}

impl<'s> Authenticated<'s> {
    /// A request with any accepted credential: 401 without one or with a bad one.
    pub async fn any(state: &'s AppState, req: Request) -> Result<Self, ApiError> {
        let caller = authenticate(state, &req).await?;
        Ok(Self { state, req, caller })
    }

    /// A request to an account route (change-password, user, sessions): one of our own
    /// accounts. A Better Auth caller gets 403: Better Auth manages its accounts.
    pub async fn own_account(state: &'s AppState, req: Request) -> Result<Self, ApiError> {
        let request = Self::any(state, req).await?;
        if request.caller.is_better_auth() {
            request.audit(AuditEvent::AccessDenied);
            return Err(ApiError::Forbidden(MANAGED_BY_BETTER_AUTH));
        }
        Ok(request)
    }

    /// A request to a per-user route (`/api/{user_id}/…`) by the path's user. Otherwise 403,
    /// decided without reading or writing anything the route serves. A caller whose id
    /// only the database knows (a Better Auth session token) takes the path's user into
    /// its credential, and the route's statement decides.
    pub async fn path_owner(state: &'s AppState, req: Request) -> Result<Self, ApiError> {
        let mut request = Self::any(state, req).await?;
        let path_user = http::path_param(&request.req, "user_id").unwrap_or_default();
        let owns_path = match (&request.caller.public_id, &mut request.caller.credential) {
            (Some(public_id), _) => *public_id == path_user,
            (None, Credential::BetterAuthSession { path_owner, .. }) => {
                *path_owner = Some(path_user);
                true
            }
            (None, _) => false,
        };
        if !owns_path {
            return Err(request.refuse(ApiError::Forbidden(ACCESS_DENIED)).await);
        }
        Ok(request)
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn state(&self) -> &'s AppState {
        self.state
    }

    pub fn credential(&self) -> &Credential {
        &self.caller.credential
    }

    /// The device tokens the request presents (see [`presented_devices`]).
    pub fn presented_devices(&self, in_body: Option<String>) -> Vec<String> {
        presented_devices(&self.req, in_body)
    }

    /// The address the request came from (see [`http::client_ip`]).
    pub fn client_ip(&self) -> Option<std::net::IpAddr> {
        http::client_ip(&self.req, self.state.config.trusted_proxy_secret.as_ref())
    }

    /// What `read` makes of the request's body, path or query; its refusal (a bad body,
    /// a bad id) is answered only after the credential is checked, and is 401 instead
    /// when the credential has ended. Only that error path pays the check's round trip.
    pub async fn input<T>(
        &self,
        read: impl FnOnce(&Request) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match read(&self.req) {
            Ok(value) => Ok(value),
            Err(refusal) => Err(self.refuse(refusal).await),
        }
    }

    /// `refusal`, or 401 when the caller's credential has ended (and 403 when it may not
    /// act on the path).
    async fn refuse(&self, refusal: ApiError) -> ApiError {
        match credentials::check(&self.state.db, self.credential()).await {
            Ok(checked) => match self.checked(checked) {
                Ok(()) => {
                    if matches!(refusal, ApiError::Forbidden(ACCESS_DENIED)) {
                        self.audit(AuditEvent::AccessDenied);
                    }
                    refusal
                }
                Err(err) => err,
            },
            Err(err) => err.into(),
        }
    }

    /// What a protected statement did; 401 when it found the credential ended, 403 when
    /// the credential may not act on the path.
    pub fn checked<T>(&self, checked: Checked<T>) -> Result<T, ApiError> {
        match checked {
            Checked::CredentialEnded => Err(ApiError::Unauthorized(AuthFailure::InvalidToken)),
            Checked::NotPathOwner => {
                self.audit(AuditEvent::AccessDenied);
                Err(ApiError::Forbidden(ACCESS_DENIED))
            }
            Checked::Done(value) => Ok(value),
        }
    }

    /// The answer to an attempt a throttle rule refused.
    pub fn throttled(&self, throttled: Throttled) -> ApiError {
        refuse_throttled(
            self.state,
            &self.req,
            self.caller.public_id.as_deref(),
            throttled,
        )
    }

    /// Logs `event` for this request and its caller.
    pub fn audit(&self, event: AuditEvent) {
        audit::record(
            self.state,
            &self.req,
            event,
            self.caller.public_id.as_deref(),
        );
    }
}

/// The one answer to an attempt a throttle rule refused, whichever route judged it: 429
/// with `Retry-After`, and its audit line.
pub fn refuse_throttled(
    state: &AppState,
    req: &Request,
    user_id: Option<&str>,
    throttled: Throttled,
) -> ApiError {
    audit::record(state, req, AuditEvent::Throttled, user_id);
    ApiError::TooManyRequests {
        retry_after_secs: throttled.retry_after_secs,
    }
}

/// The known-device cookie of a browser app: its device token, sent to the auth routes
/// only, out of reach of page scripts.
pub const DEVICE_COOKIE: &str = "todo_device";

/// The device tokens a request presents: `device_token` of its body (`in_body`), then
/// every device cookie it carries (a sibling subdomain can plant one in front of the
/// owner's), each once, at most [`MAX_PRESENTED_DEVICES`]. Which of them is a known
/// device of the account is the statement's business.
pub fn presented_devices(req: &Request, in_body: Option<String>) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let presented = in_body
        .into_iter()
        .filter(|token| !token.is_empty())
        .chain(cookies(req, DEVICE_COOKIE).map(str::to_owned));
    for token in presented {
        if tokens.len() == MAX_PRESENTED_DEVICES {
            break;
        }
        if !tokens.contains(&token) {
            tokens.push(token);
        }
    }
    tokens
}

/// The body of a successful signup or signin.
#[derive(Debug, Serialize)]
struct SignedIn<'a> {
    user: &'a User,
    token: &'a str,
    device_token: &'a str,
}

/// The answer to a successful signup (201) or signin (200): the user, its new token and
/// its device token, in the body for bearer clients and in cookies for browsers.
pub fn signed_in(
    state: &AppState,
    status: StatusCode,
    user: &User,
    issued: &IssuedToken,
    device_token: &str,
) -> Response<Body> {
    let mut response = http::json(
        status,
        &SignedIn {
            user,
            token: &issued.token,
            device_token,
        },
    );
    let max_age = state.config.token_lifetime.as_secs();
    set_session_cookie(state, &mut response, &issued.token, max_age);
    let secure = if state.config.cookies.secure {
        "; Secure"
    } else {
        ""
    };
    set_cookie(
        &mut response,
        &format!(
            "{DEVICE_COOKIE}={device_token}; HttpOnly{secure}; SameSite=Lax; Path=/api/auth; \
             Max-Age={DEVICE_LIFETIME_SECS}"
        ),
    );
    response
}

/// Makes `response` clear the session cookie (same attributes, `Max-Age=0`).
pub fn clear_session_cookie(state: &AppState, response: &mut Response<Body>) {
    set_session_cookie(state, response, "", 0);
}

fn set_session_cookie(state: &AppState, response: &mut Response<Body>, value: &str, max_age: u64) {
    let settings = state.config.cookies;
    let secure = if settings.secure { "; Secure" } else { "" };
    set_cookie(
        response,
        &format!(
            "{SESSION_COOKIE}={value}; HttpOnly{secure}; SameSite={}; Path=/api; Max-Age={max_age}",
            settings.same_site.as_str()
        ),
    );
}

fn set_cookie(response: &mut Response<Body>, cookie: &str) {
    match HeaderValue::from_str(cookie) {
        Ok(cookie) => {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        // Tokens are base64url and dots: they always fit in a header.
        Err(err) => tracing::error!(error = %err, "cookie not set"),
    }
}
