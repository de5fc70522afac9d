//! The protocol of a request, decided by the access its function declares. Each access is
//! a type ([`Public`], [`OptionalCaller`], [`AnyCredential`], [`PathOwner`], [`OwnAccount`])
//! whose [`Protocol`] turns the raw request into what the route receives: the request
//! itself, or an [`Authenticated`] request of that kind, which alone runs the route's
//! protected statements ([`Authenticated::run`]) and judges their credential check (401 for
//! an ended credential, 403 for another user's path). The declaration macro names the
//! access once, for both the plan and the route, so a route cannot receive another kind
//! than its function declares. Declared and written for our own accounts, it compiles:
//!
//! ```no_run
//! use shared::access::{Authenticated, OwnAccount};
//! use shared::{ApiError, AppState};
//!
//! shared::declare_function!(AppState, Access::OwnAccount(Vec::new), []);
//!
//! async fn route(
//!     _state: &AppState,
//!     _request: Authenticated<'_, OwnAccount>,
//! ) -> Result<lambda_http::Response<lambda_http::Body>, ApiError> {
//!     unimplemented!()
//! }
//! ```
//!
//! and written for another kind, or for the raw request, it does not:
//!
//! ```compile_fail,E0308
//! use shared::access::{AnyCredential, Authenticated};
//! use shared::function::Access;
//! use shared::{ApiError, AppState};
//!
//! // Declared for our own accounts, written for any credential: does not compile.
//! shared::declare_function!(AppState, Access::OwnAccount(Vec::new), []);
//!
//! async fn route(
//!     _state: &AppState,
//!     _request: Authenticated<'_, AnyCredential>,
//! ) -> Result<lambda_http::Response<lambda_http::Body>, ApiError> {
//!     unimplemented!()
//! }
//! ```

use std::marker::PhantomData;

use futures_util::future::BoxFuture;
use lambda_http::Request;

use super::cookies::presented_devices;
use super::identify::{Caller, authenticate, caller_if_any};
use crate::AppState;
use crate::audit::{self, AuditEvent};
use crate::auth::AuthFailure;
use crate::auth::better_auth::BetterAuthClaims;
use crate::db::credentials::{self, Checked, Credential, Protected};
use crate::db::sessions::{self, SessionUser};
use crate::db::throttle::{self, PasswordAttempt, Settlement, Throttled};
use crate::db::users;
use crate::error::{ACCESS_DENIED, ApiError, MANAGED_BY_BETTER_AUTH};
use crate::http;
use crate::secrecy::SecretString;
use time::OffsetDateTime;

/// The declared access `K`'s protocol on `req`, then `route` with what it gives: what the
/// declaration macro ([`crate::declare_function!`]) serves.
pub async fn respond<'s, S, K, F, Fut>(
    state: &'s S,
    req: Request,
    route: F,
) -> Result<lambda_http::Response<lambda_http::Body>, ApiError>
where
    K: Protocol<S>,
    F: FnOnce(&'s S, K::Request<'s>) -> Fut,
    Fut: std::future::Future<Output = Result<lambda_http::Response<lambda_http::Body>, ApiError>>,
{
    let request = K::begin(state, req).await?;
    route(state, request).await
}

/// How a function's request becomes what its route receives, for a function of state `S`.
pub trait Protocol<S> {
    /// What the route receives.
    type Request<'s>
    where
        S: 's;

    /// Authenticates `req` as this access requires: the route's input, or the refusal.
    fn begin<'s>(state: &'s S, req: Request) -> BoxFuture<'s, Result<Self::Request<'s>, ApiError>>;
}

/// Anyone: the route receives the request itself.
pub struct Public;

/// Anyone, with the caller when a valid credential comes along (signout): the route
/// receives a [`MaybeSignedIn`] request.
pub struct OptionalCaller;

/// Any credential the deployment accepts (ours or Better Auth's).
pub struct AnyCredential;

/// Any credential, acting on its own per-user path (`/api/{user_id}/…`): another user's
/// path is 403 before anything is read or written.
pub struct PathOwner;

/// One of the API's own accounts: a Better Auth caller is 403, Better Auth manages it.
pub struct OwnAccount;

impl<S: Send + Sync> Protocol<S> for Public {
    type Request<'s>
        = Request
    where
        S: 's;

    fn begin<'s>(_: &'s S, req: Request) -> BoxFuture<'s, Result<Request, ApiError>> {
        Box::pin(std::future::ready(Ok(req)))
    }
}

impl<S: AsRef<AppState> + Sync> Protocol<S> for OptionalCaller {
    type Request<'s>
        = MaybeSignedIn<'s>
    where
        S: 's;

    fn begin<'s>(state: &'s S, req: Request) -> BoxFuture<'s, Result<MaybeSignedIn<'s>, ApiError>> {
        Box::pin(async move {
            let state = state.as_ref();
            let caller = caller_if_any(state, &req).await?;
            Ok(MaybeSignedIn { state, req, caller })
        })
    }
}

/// The kinds of [`Authenticated`] request, each admitting a caller its own way.
pub trait Admission: Sized + Send + 'static {
    /// What the kind checks of an authenticated caller before the route runs.
    fn admit<'s>(
        request: Authenticated<'s, Self>,
    ) -> BoxFuture<'s, Result<Authenticated<'s, Self>, ApiError>>;
}

impl Admission for AnyCredential {
    fn admit<'s>(
        request: Authenticated<'s, Self>,
    ) -> BoxFuture<'s, Result<Authenticated<'s, Self>, ApiError>> {
        Box::pin(std::future::ready(Ok(request)))
    }
}

impl Admission for OwnAccount {
    fn admit<'s>(
        request: Authenticated<'s, Self>,
    ) -> BoxFuture<'s, Result<Authenticated<'s, Self>, ApiError>> {
        Box::pin(async move {
            if request.caller.is_better_auth() {
                request.audit(AuditEvent::AccessDenied);
                return Err(ApiError::Forbidden(MANAGED_BY_BETTER_AUTH));
            }
            Ok(request)
        })
    }
}

/// Decided without reading or writing anything the route serves. A caller whose id only
/// the database knows (a Better Auth session token) takes the path's user into its
/// credential, and the route's statement decides.
impl Admission for PathOwner {
    fn admit<'s>(
        mut request: Authenticated<'s, Self>,
    ) -> BoxFuture<'s, Result<Authenticated<'s, Self>, ApiError>> {
        Box::pin(async move {
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
        })
    }
}

impl<S: AsRef<AppState> + Sync, K: Admission> Protocol<S> for K {
    type Request<'s>
        = Authenticated<'s, K>
    where
        S: 's;

    fn begin<'s>(
        state: &'s S,
        req: Request,
    ) -> BoxFuture<'s, Result<Authenticated<'s, K>, ApiError>> {
        Box::pin(async move {
            let state = state.as_ref();
            let caller = authenticate(state, &req).await?;
            K::admit(Authenticated {
                state,
                req,
                caller,
                kind: PhantomData,
            })
            .await
        })
    }
}

/// A request whose caller is authenticated and admitted as `K`. It owns the request, so
/// what the request carries (body, path, query) is read only through
/// [`Authenticated::input`], which answers a refusal of it only once the credential is
/// known to be live: an ended credential gets 401 everywhere, however else the request is
/// wrong. Its protected statements run only through [`Authenticated::run`].
pub struct Authenticated<'s, K> {
    state: &'s AppState,
    req: Request,
    caller: Caller,
    kind: PhantomData<fn() -> K>,
}

impl<'s, K> Authenticated<'s, K> {
    /// Runs a protected statement for this caller: what it did; 401 when it found the
    /// credential ended, 403 when the credential may not act on the path.
    pub async fn run<T>(&self, statement: Protected<'_, T>) -> Result<T, ApiError> {
        let checked = statement
            .run(&self.state.db, &self.caller.credential)
            .await?;
        self.checked(checked)
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

    /// The id the client knows the caller by, when the credential names it.
    pub fn public_id(&self) -> Option<&str> {
        self.caller.public_id.as_deref()
    }

    /// The address the request came from (see [`http::client_ip`]).
    pub fn client_ip(&self) -> Option<std::net::IpAddr> {
        http::client_ip(&self.req, self.state.config.trusted_proxy_secret.as_ref())
    }

    /// The answer to an attempt a throttle rule refused.
    pub fn throttled(&self, throttled: Throttled) -> ApiError {
        refuse_throttled(self.state, &self.req, self.public_id(), throttled)
    }

    /// Logs `event` for this request and its caller.
    pub fn audit(&self, event: AuditEvent) {
        audit::record(self.state, &self.req, event, self.public_id());
    }

    /// `refusal`, or 401 when the caller's credential has ended (and 403 when it may not
    /// act on the path).
    async fn refuse(&self, refusal: ApiError) -> ApiError {
        match credentials::check(&self.state.db, &self.caller.credential).await {
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
    fn checked<T>(&self, checked: Checked<T>) -> Result<T, ApiError> {
        match checked {
            Checked::CredentialEnded => Err(ApiError::Unauthorized(AuthFailure::InvalidToken)),
            Checked::NotPathOwner => {
                self.audit(AuditEvent::AccessDenied);
                Err(ApiError::Forbidden(ACCESS_DENIED))
            }
            Checked::Done(value) => Ok(value),
        }
    }
}

impl Authenticated<'_, AnyCredential> {
    /// The caller's user and when its credential expires, if the credential is live: the
    /// check and the read in one statement.
    pub async fn live_user(&self) -> Result<Option<(SessionUser, OffsetDateTime)>, ApiError> {
        Ok(sessions::live_user(
            &self.state.db,
            &self.caller.credential,
            self.caller.jwt_expires_at(),
        )
        .await?)
    }

    /// What a Better Auth JWT says of its user and lifetime.
    pub fn better_auth_claims(&self) -> Option<&BetterAuthClaims> {
        self.caller.better_auth_claims.as_ref()
    }
}

impl Authenticated<'_, OwnAccount> {
    /// The caller's account: one of ours, so its id is a uuid.
    pub fn account_id(&self) -> Result<uuid::Uuid, ApiError> {
        match &self.caller.credential {
            Credential::Session { user_id, .. } => Ok(*user_id),
            _ => Err(ApiError::Forbidden(MANAGED_BY_BETTER_AUTH)),
        }
    }

    /// Checks that `password` is the caller's, throttled like a signin (the same counters)
    /// and timed like one (one argon2id verification, right password or wrong): a refused
    /// attempt is 429 and verifies nothing; a wrong password is 400 `wrong` and counts like
    /// a failed signin, judged by a known device the request presents (`device_in_body`,
    /// or a device cookie) or else by the email's rules; a wrong one that fills the
    /// device's own counter voids the device at once.
    pub async fn confirm_password(
        &self,
        password: String,
        wrong: &'static str,
        device_in_body: Option<String>,
    ) -> Result<Confirmed, ApiError> {
        let state = self.state;
        let email = self
            .caller
            .account_email
            .as_deref()
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
        let devices = presented_devices(&self.req, device_in_body);
        let attempt = PasswordAttempt::new(
            &state.config.throttle,
            &state.digests,
            email,
            self.client_ip(),
            &devices,
        );
        let on_file = self
            .run(users::password_check(&attempt))
            .await?
            .map_err(|throttled| self.throttled(throttled))?
            // The account went between the token and now.
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
        let matches = state
            .passwords
            .verify(SecretString::from(password), Some(on_file.hash))
            .await?;
        if !matches {
            throttle::void_if_spent(&state.db, on_file.known_device.as_ref()).await?;
            self.audit(AuditEvent::PasswordCheckFailed);
            return Err(ApiError::validation(wrong));
        }
        Ok(Confirmed {
            settlement: attempt.settlement(on_file.known_device.as_ref()),
            known_device: on_file.known_device.map(|device| device.digest),
        })
    }
}

/// A confirmed password: what the statement that then does the work settles, and the
/// known device of the account the request was judged by, if any (the caller's own).
#[must_use = "a confirmed password is settled by the statement that does the work"]
pub struct Confirmed {
    pub settlement: Settlement,
    pub known_device: Option<Vec<u8>>,
}

impl Confirmed {
    /// The digests of the caller's own devices, which a password change keeps.
    pub fn caller_devices(&self) -> Vec<Vec<u8>> {
        self.known_device.iter().cloned().collect()
    }
}

/// A request that anyone may make, with its caller when a valid credential came along
/// (signout). A cross-site request that only the cookie authenticates was refused.
pub struct MaybeSignedIn<'s> {
    state: &'s AppState,
    req: Request,
    caller: Option<Caller>,
}

impl MaybeSignedIn<'_> {
    pub fn request(&self) -> &Request {
        &self.req
    }

    /// Ends the caller's session, or with `everywhere` signs the caller's account out
    /// everywhere (every session, and what else that event voids, but the devices among
    /// `own_devices`, the device tokens the request presents); audited. Nothing without a
    /// caller, nor for Better Auth's sessions, which are Better Auth's to end.
    pub async fn sign_out(&self, everywhere: bool, own_devices: &[String]) -> Result<(), ApiError> {
        let Some(caller) = &self.caller else {
            return Ok(());
        };
        let event = if everywhere {
            let devices: Vec<Vec<u8>> = own_devices
                .iter()
                .map(|token| self.state.digests.device_digest(token))
                .collect();
            sessions::revoke_all(&self.state.db, &caller.credential, &devices).await?;
            AuditEvent::SignedOutEverywhere
        } else {
            sessions::revoke(&self.state.db, &caller.credential).await?;
            AuditEvent::SignedOut
        };
        audit::record(self.state, &self.req, event, caller.public_id.as_deref());
        Ok(())
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
