//! What a function builds once per cold start and every request borrows, by what the
//! function does: [`HttpState`] for every HTTP function (the CORS policy and the database
//! pool), [`AppState`] for the ones that authenticate or count attempts (configuration,
//! token and digest keys, Better Auth's keys), and [`MailState`] for the ones that send
//! mail. Each holds the one before and derefs to it, and a handler asks for the least it
//! needs; [`crate::lambda`] builds each from the environment.

use std::ops::Deref;

use crate::auth::TokenKeys;
use crate::auth::digest::DigestKeys;
use crate::auth::password::Passwords;
use crate::config::{Config, HttpConfig};
use crate::cors::Cors;
use crate::db::Db;
use crate::db::credentials::{CredentialKind, accepted_kinds};
use crate::db::statements::Plan;
use crate::function::{FunctionState, Setting};
use crate::key_store::KeyStore;
use crate::mail::Mailbox;

pub struct HttpState {
    pub cors: Cors,
    pub db: Db,
}

impl HttpState {
    /// The state of a function whose connections prepare `plan`.
    pub fn new(config: &HttpConfig, plan: Plan) -> anyhow::Result<Self> {
        Ok(Self {
            cors: Cors::new(config.allowed_origins.clone()),
            db: Db::connect_lazy(&config.database, plan)?,
        })
    }
}

pub struct AppState {
    pub http: HttpState,
    pub config: Config,
    pub tokens: TokenKeys,
    pub digests: DigestKeys,
    pub passwords: Passwords,
    /// The keys of the app's Better Auth server, when `BETTER_AUTH_URL` is set.
    pub better_auth: Option<KeyStore>,
}

impl AppState {
    /// The state of a function whose statements `plan` gives for the kinds of credential
    /// `config` accepts.
    pub fn new(
        config: Config,
        plan: impl FnOnce(&[CredentialKind]) -> Plan,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http: HttpState::new(&config.http, plan(&accepted_kinds(&config)))?,
            tokens: TokenKeys::new(&config.secrets, config.token_lifetime),
            digests: DigestKeys::new(config.secrets.current()),
            passwords: Passwords::default(),
            better_auth: config
                .better_auth
                .clone()
                .map(|settings| KeyStore::new(settings, &config.secrets)),
            config,
        })
    }
}

/// The state of a function that sends mail: its mailbox (Amazon SES in Lambda, a folder of
/// files in the local server).
pub struct MailState {
    pub app: AppState,
    pub mailbox: Mailbox,
}

impl FunctionState for HttpState {
    const SETTINGS: &'static [Setting] = &[];
}

/// The signing secret is also the root of the throttle and audit digest keys.
/// Its throttle and audit lines see the client through a trusted proxy.
impl FunctionState for AppState {
    const SETTINGS: &'static [Setting] = &[Setting::Signing, Setting::TrustedProxy];
}

impl FunctionState for MailState {
    const SETTINGS: &'static [Setting] = &[Setting::Signing, Setting::TrustedProxy, Setting::Mail];
}

impl Deref for AppState {
    type Target = HttpState;

    fn deref(&self) -> &HttpState {
        &self.http
    }
}

impl Deref for MailState {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.app
    }
}

// What the local server, which serves every function from the richest state, hands each
// handler: the part its function builds.
impl AsRef<HttpState> for HttpState {
    fn as_ref(&self) -> &HttpState {
        self
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

impl AsRef<HttpState> for MailState {
    fn as_ref(&self) -> &HttpState {
        &self.app.http
    }
}

impl AsRef<AppState> for MailState {
    fn as_ref(&self) -> &AppState {
        &self.app
    }
}

impl AsRef<MailState> for MailState {
    fn as_ref(&self) -> &MailState {
        self
    }
}
