//! What a function builds once per cold start and every request borrows. [`HttpState`] is
//! what every HTTP function needs (the CORS policy and the database pool, whose connections
//! prepare the function's statements); [`AppState`] adds what authenticating functions need
//! (config, token keys, digest keys) and derefs to it.

use std::fmt::Display;
use std::ops::Deref;

use crate::auth::TokenKeys;
use crate::auth::digest::DigestKeys;
use crate::auth::password::Passwords;
use crate::better_auth::BetterAuth;
use crate::config::{Config, HttpConfig};
use crate::db::Db;
use crate::db::credentials::{CallerKind, accepted_kinds};
use crate::db::statements::Plan;
use crate::http::Cors;
use crate::mail::Mailbox;

/// A function's statements, given the kinds of credential it accepts: each function crate
/// has one, `plan`, which its connections prepare.
pub type PlanOf = fn(&[CallerKind]) -> Plan;

pub struct HttpState {
    pub cors: Cors,
    pub db: Db,
}

impl HttpState {
    pub fn new(config: &HttpConfig, plan: Plan) -> anyhow::Result<Self> {
        Ok(Self {
            cors: Cors::new(config.allowed_origins.clone()),
            db: Db::connect_lazy(&config.database, plan)?,
        })
    }

    /// The cold start of a function that authenticates nobody (`health`): the database and
    /// CORS variables only, so it needs no signing secret and no permission to read one.
    pub async fn cold_start(plan: PlanOf) -> anyhow::Result<Self> {
        let env = crate::secrets::resolve(|name| std::env::var(name).ok()).await?;
        let state = Self::new(&HttpConfig::from_lookup(&env)?, plan(&[]))?;
        state.db.warm_up_logged().await;
        Ok(state)
    }
}

pub struct AppState {
    pub http: HttpState,
    pub config: Config,
    pub tokens: TokenKeys,
    pub digests: DigestKeys,
    pub passwords: Passwords,
    /// The app's Better Auth server, when `BETTER_AUTH_URL` is set.
    pub better_auth: Option<BetterAuth>,
    /// How password-reset mail goes out: set by the forgot-password function (Amazon SES)
    /// and the local server (files); `None` elsewhere.
    pub mailbox: Option<Mailbox>,
}

impl AppState {
    /// The state of a function whose statements `plan` gives, for the kinds of credential
    /// `config` accepts.
    pub fn new(config: Config, plan: impl FnOnce(&[CallerKind]) -> Plan) -> anyhow::Result<Self> {
        Ok(Self {
            http: HttpState::new(&config.http, plan(&accepted_kinds(&config)))?,
            tokens: TokenKeys::new(&config.auth_secret, config.token_lifetime),
            digests: DigestKeys::new(&config.auth_secret),
            passwords: Passwords::default(),
            better_auth: config
                .better_auth
                .clone()
                .map(|settings| BetterAuth::new(settings, &config.auth_secret)),
            mailbox: None,
            config,
        })
    }

    /// A Lambda cold start: configuration from the environment, then the first database
    /// connection, all before the runtime asks for the first event. A database that is down
    /// now is logged, not fatal: requests retry the connection and answer 503 meanwhile.
    pub async fn cold_start(plan: PlanOf) -> anyhow::Result<Self> {
        let state = Self::new(Config::load().await?, plan)?;
        state.db.warm_up_logged().await;
        if let Some(better_auth) = &state.better_auth {
            better_auth.read_keys_logged(&state.db).await;
        }
        Ok(state)
    }
}

impl Deref for AppState {
    type Target = HttpState;

    fn deref(&self) -> &HttpState {
        &self.http
    }
}

impl AsRef<HttpState> for AppState {
    fn as_ref(&self) -> &HttpState {
        &self.http
    }
}

impl AsRef<AppState> for AppState {
    fn as_ref(&self) -> &AppState {
        self
    }
}

/// The cold start of a function that needs only the database (migrate, cleanup):
/// `DATABASE_URL`, or the value of `DATABASE_URL_SECRET_ARN`, and the pool settings; its
/// connections prepare `plan`.
pub async fn database_from_env(plan: Plan) -> anyhow::Result<Db> {
    let env = crate::secrets::resolve(|name| std::env::var(name).ok()).await?;
    let settings = crate::config::DatabaseSettings::from_lookup(&env)?;
    Db::connect_lazy(&settings, plan)
}

/// Ends a cold start that cannot go on: one line (a log line, JSON in Lambda) naming what
/// to fix, no backtrace, exit status 1. Every function's `main` passes its state through.
pub fn or_exit<T, E: Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => {
            tracing::error!("start-up failed: {err:#}");
            std::process::exit(1);
        }
    }
}
