//! What a function crate declares about itself, in one `FUNCTION` constant: its name, who
//! may call it (which decides the statements its connections prepare, credential checks
//! included), the configuration it reads beyond the database (which decides its block of
//! `template.yaml`), and its handler. Its `main` hands it to [`crate::lambda::run`], the
//! local server dispatches to it, and `cargo xtask wiring` writes its deployment from it.

use futures_util::future::BoxFuture;
use lambda_http::{Body, Request, Response};

use crate::db::credentials::CredentialKind;
use crate::db::statements::{Plan, Statement};

/// A function's handler, its future boxed so that one event loop serves every function.
pub type Handler<S> =
    for<'a> fn(&'a S, Request) -> BoxFuture<'a, Result<Response<Body>, lambda_http::Error>>;

/// A function: what its crate declares, and the handler its state `S` serves. Declared
/// with [`crate::declare_function!`].
pub struct Function<S: FunctionState> {
    /// Its crate's name, which is also its binary's.
    pub name: &'static str,
    pub access: Access,
    /// What it reads beyond what its access and its state read (setting or clearing the
    /// session cookie, issuing tokens).
    pub settings: &'static [Setting],
    pub handler: Handler<S>,
}

/// The state a function's cold start builds, and the settings building it reads.
pub trait FunctionState: Sync + 'static {
    const SETTINGS: &'static [Setting];
}

impl<S: FunctionState> Function<S> {
    /// What it declares, apart from its handler (whose type depends on its state).
    pub fn declaration(&self) -> Declaration {
        let mut settings: Vec<Setting> = self
            .access
            .settings()
            .iter()
            .chain(S::SETTINGS)
            .chain(self.settings)
            .copied()
            .collect();
        settings.sort();
        settings.dedup();
        Declaration {
            name: self.name,
            access: self.access,
            settings,
        }
    }
}

/// A function's declaration without its handler: what the local server's plan and the
/// deployment's wiring are made from.
#[derive(Clone)]
pub struct Declaration {
    pub name: &'static str,
    pub access: Access,
    /// Every setting it reads: its access's, its state's and its own.
    pub settings: Vec<Setting>,
}

/// Declares the crate's `FUNCTION` (see [`Function`]):
/// `declare_function!(State, Access::Kind(statements), [extra settings])`, or with a fourth
/// argument, the route. It is named after the crate, and its handler is the route (by
/// default the crate's `route`), an `async fn(&State, R) -> Result<Response<Body>,
/// ApiError>` served by [`crate::http::serve`], where `R` is what the declared access's
/// [`crate::access::Protocol`] makes of the request (`Access::OwnAccount` gives an
/// `Authenticated<'_, OwnAccount>`, `Access::Public` the request itself): the one name
/// decides the function's plan and how its request is authenticated.
#[macro_export]
macro_rules! declare_function {
    ($state:ty, Access::$access:ident($statements:expr), [$($setting:ident),* $(,)?] $(,)?) => {
        $crate::declare_function!($state, Access::$access($statements), [$($setting),*], route);
    };
    ($state:ty, Access::$access:ident($statements:expr), [$($setting:ident),* $(,)?], $route:expr $(,)?) => {
        pub static FUNCTION: $crate::function::Function<$state> = $crate::function::Function {
            name: env!("CARGO_PKG_NAME"),
            access: $crate::function::Access::$access($statements),
            settings: &[$($crate::function::Setting::$setting),*],
            handler: |state, req| {
                ::std::boxed::Box::pin($crate::http::serve(
                    &state.cors,
                    env!("CARGO_PKG_NAME"),
                    req,
                    |req| $crate::access::respond::<_, $crate::access::$access, _, _>(
                        state, req, $route,
                    ),
                ))
            },
        };
    };
}

/// Who may call a function, and so which statements its connections prepare and how its
/// request is authenticated (the protocol of [`crate::access`] of the same name).
#[derive(Clone, Copy)]
pub enum Access {
    /// Anyone: its statements do not depend on a credential.
    Public(fn() -> Vec<Statement>),
    /// Anyone, with the caller when a valid credential comes along (signout): its
    /// statements are for our own sessions.
    OptionalCaller(fn() -> Vec<Statement>),
    /// One of the API's own accounts (the account routes; a Better Auth caller is
    /// refused before any statement): its statements and the check of our sessions.
    OwnAccount(fn() -> Vec<Statement>),
    /// Any credential the deployment accepts: for each kind, its statements and the kind's
    /// check (what a refusal decided before the statement runs to tell 401 from the rest).
    AnyCredential(fn(&CredentialKind) -> Vec<Statement>),
    /// Any credential on its own per-user path (`/api/{user_id}/…`), planned as
    /// [`Access::AnyCredential`].
    PathOwner(fn(&CredentialKind) -> Vec<Statement>),
}

impl Access {
    /// What a function of this access reads: one that knows its caller verifies our tokens
    /// (`BETTER_AUTH_SECRET`, `JWT_EXPIRES_IN`), and a protected one Better Auth's.
    pub fn settings(&self) -> &'static [Setting] {
        match self {
            Access::Public(_) => &[],
            Access::OptionalCaller(_) => &[Setting::Signing, Setting::TokenLifetime],
            Access::OwnAccount(_) | Access::AnyCredential(_) | Access::PathOwner(_) => &[
                Setting::Signing,
                Setting::TokenLifetime,
                Setting::BetterAuth,
            ],
        }
    }

    /// Whether the function's request needs a credential.
    pub fn is_protected(&self) -> bool {
        !matches!(self, Access::Public(_) | Access::OptionalCaller(_))
    }

    /// What a connection of this function prepares, given the kinds of credential
    /// accepted: a protected function's credential checks are part of it by construction.
    pub fn plan(&self, kinds: &[CredentialKind]) -> Plan {
        match self {
            Access::Public(statements) | Access::OptionalCaller(statements) => {
                Plan::new().with(statements())
            }
            Access::OwnAccount(statements) => Plan::new()
                .with(statements())
                .with([CredentialKind::Session.check_statement()]),
            Access::AnyCredential(statements) | Access::PathOwner(statements) => {
                Plan::new().with(kinds.iter().flat_map(|kind| {
                    let mut all = statements(kind);
                    all.push(kind.check_statement());
                    all
                }))
            }
        }
    }
}

impl Setting {
    /// The variables it gives a function.
    pub fn variables(self) -> &'static [&'static str] {
        use crate::config::vars::*;
        match self {
            Setting::Signing => &[
                BETTER_AUTH_SECRET,
                BETTER_AUTH_SECRETS,
                BETTER_AUTH_SECRET_ARN,
            ],
            Setting::TokenLifetime => &[JWT_EXPIRES_IN],
            Setting::Cookies => &[COOKIE_SAMESITE],
            Setting::BetterAuth => &[
                BETTER_AUTH_URL,
                BETTER_AUTH_JWKS_URL,
                BETTER_AUTH_ISSUER,
                BETTER_AUTH_AUDIENCE,
                BETTER_AUTH_SCHEMA,
                BETTER_AUTH_REQUIRE_SIGNATURE,
            ],
            Setting::Mail => &[
                EMAIL_FROM,
                APP_URL,
                RESET_TOKEN_TTL,
                EMAIL_VERIFICATION,
                VERIFY_TOKEN_TTL,
            ],
            Setting::TrustedProxy => &[TRUSTED_PROXY_SECRET],
        }
    }
}

/// A group of variables a function reads (beyond the database and CORS ones every HTTP
/// function reads): each puts its variables, and the permissions they need, in the
/// function's block of `template.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setting {
    /// `BETTER_AUTH_SECRET` or `BETTER_AUTH_SECRETS` (or the ARN, and the permission to read
    /// it): verifying or issuing tokens, and the keys of throttle and audit digests.
    Signing,
    /// `JWT_EXPIRES_IN`: issuing or verifying our tokens.
    TokenLifetime,
    /// `COOKIE_SAMESITE`: setting or clearing the session cookie.
    Cookies,
    /// `BETTER_AUTH_URL` and the variables that go with it: accepting Better Auth's
    /// credentials.
    BetterAuth,
    /// `EMAIL_FROM`, `APP_URL`, the links' lifetimes and `EMAIL_VERIFICATION`, and
    /// `ses:SendEmail` as the sender:
    /// sending mail.
    Mail,
    /// `TRUSTED_PROXY_SECRET`: the client's address through the operator's own proxy, for
    /// throttling and audit lines.
    TrustedProxy,
}
