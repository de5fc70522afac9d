//! Better Auth interop at run time: the public keys of the app's Better Auth server, read
//! once per cold start from its `jwks` table (or `BETTER_AUTH_JWKS_URL`); read again when a
//! token names an unknown key, at most once a minute, so that a new key is picked up on
//! its first use and a stream of forged `kid`s costs one read a minute; and read again
//! when a token arrives and they are more than [`KEYS_MAX_AGE`] old, so that a key removed
//! from `jwks` stops verifying within that time. At the cold start it also checks that the
//! tables and columns `BETTER_AUTH_SCHEMA` names exist, and says in one line what does not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{Mutex, RwLock};

use crate::auth::AuthFailure;
use crate::auth::better_auth::{BetterAuthClaims, BetterAuthVerifier, JwtRefusal, KeySet};
use crate::config::{BetterAuthSettings, SigningSecrets};
use crate::db::credentials::BetterAuthServer;
use crate::db::{Db, better_auth_tables};

/// Shortest time between two reads of the keys for an unknown `kid`.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// Longest the keys are used without reading them again, while tokens arrive.
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// Largest JWKS document read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

pub struct KeyStore {
    pub settings: BetterAuthSettings,
    /// The server as statements see it (its issuer, its tables).
    pub server: Arc<BetterAuthServer>,
    verifier: BetterAuthVerifier,
    keys: RwLock<Arc<KeySet>>,
    /// When the keys were last read; held while reading, so reads never overlap.
    last_read: Mutex<Option<Instant>>,
}

impl KeyStore {
    pub fn new(settings: BetterAuthSettings, secrets: &SigningSecrets) -> Self {
        Self {
            server: Arc::new(BetterAuthServer::of(&settings)),
            verifier: BetterAuthVerifier::new(&settings.issuer, &settings.audience, secrets),
            settings,
            keys: RwLock::default(),
            last_read: Mutex::new(None),
        }
    }

    pub fn verifier(&self) -> &BetterAuthVerifier {
        &self.verifier
    }

    /// A cold start's reads: whether Better Auth's tables are where `BETTER_AUTH_SCHEMA`
    /// says (what is not, in one line naming the variable), then the keys. Failures are
    /// logged, not fatal: requests that need what is missing answer 503, and the next
    /// token with an unknown key tries the keys again.
    pub async fn cold_start_logged(&self, db: &Db) {
        if self.settings.jwks_url.is_none() {
            let schema = &self.settings.schema;
            match better_auth_tables::missing(db, &schema.models()).await {
                Ok(missing) if missing.is_empty() => {}
                Ok(missing) => tracing::error!(
                    "BETTER_AUTH_SCHEMA: no {} in the database: the requests that need them \
                     answer 503 until it names the app's Better Auth tables",
                    missing.join(", no ")
                ),
                Err(err) => tracing::error!(error = ?err, "checking Better Auth's tables failed"),
            }
        }
        let mut last_read = self.last_read.lock().await;
        self.read_keys_logged(db).await;
        *last_read = Some(Instant::now());
    }

    /// A verified JWT. The keys are read again first if they are older than
    /// [`KEYS_MAX_AGE`], and once more if the token names an unknown one and the last read
    /// is more than [`RELOAD_INTERVAL`] ago (or never happened).
    pub async fn verify_jwt(&self, db: &Db, token: &str) -> Result<BetterAuthClaims, AuthFailure> {
        self.read_if(db, |read| read.elapsed() >= KEYS_MAX_AGE)
            .await;
        let keys = self.keys.read().await.clone();
        match self.verifier.verify_jwt(token, &keys) {
            Err(JwtRefusal::UnknownKey) => {}
            Err(JwtRefusal::Refused(failure)) => return Err(failure),
            Ok(claims) => return Ok(claims),
        }
        if Arc::ptr_eq(&keys, &*self.keys.read().await) {
            self.read_if(db, |read| read.elapsed() >= RELOAD_INTERVAL)
                .await;
        }
        let keys = self.keys.read().await.clone();
        self.verifier
            .verify_jwt(token, &keys)
            .map_err(|refusal| match refusal {
                JwtRefusal::UnknownKey => AuthFailure::InvalidToken,
                JwtRefusal::Refused(failure) => failure,
            })
    }

    /// Reads the keys when they were never read or `due` says their last read is old
    /// enough; a request that waited for another's read finds it done and reads nothing.
    async fn read_if(&self, db: &Db, due: impl Fn(&Instant) -> bool) {
        let mut last_read = self.last_read.lock().await;
        if last_read.as_ref().is_none_or(due) {
            self.read_keys_logged(db).await;
            *last_read = Some(Instant::now());
        }
    }

    async fn read_keys_logged(&self, db: &Db) {
        if let Err(err) = self.read_keys(db).await {
            tracing::error!(error = ?err, "reading Better Auth's keys failed");
        }
    }

    /// Makes the keys' last read `by` older: what a test makes of time passing.
    pub async fn age_keys(&self, by: Duration) {
        if let Some(read) = self.last_read.lock().await.as_mut() {
            *read = read.checked_sub(by).unwrap_or(*read);
        }
    }

    async fn read_keys(&self, db: &Db) -> anyhow::Result<()> {
        let (keys, skipped) = match &self.settings.jwks_url {
            None => KeySet::new(
                better_auth_tables::published_keys(db, &self.settings.schema)
                    .await
                    .context("reading Better Auth's jwks table")?,
            ),
            Some(url) => KeySet::from_document(&fetch(url).await?)
                .map_err(|reason| anyhow::anyhow!("BETTER_AUTH_JWKS_URL: {reason}"))?,
        };
        for reason in skipped {
            tracing::warn!("Better Auth {reason}: left out");
        }
        tracing::info!(keys = keys.len(), "Better Auth's keys read");
        *self.keys.write().await = Arc::new(keys);
        Ok(())
    }
}

/// GET `url` (http or https, over the rustls/ring stack the database uses), within 5 s.
async fn fetch(url: &str) -> anyhow::Result<Vec<u8>> {
    let tls = crate::tls::web_client_config()?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let uri: hyper::Uri = url
        .parse()
        .context(crate::config::vars::BETTER_AUTH_JWKS_URL)?;
    let response = tokio::time::timeout(Duration::from_secs(5), client.get(uri))
        .await
        .context("BETTER_AUTH_JWKS_URL: no answer within 5 s")?
        .context(crate::config::vars::BETTER_AUTH_JWKS_URL)?;
    anyhow::ensure!(
        response.status().is_success(),
        "BETTER_AUTH_JWKS_URL answered {}",
        response.status()
    );
    let body = http_body_util::Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
        .collect()
        .await
        .map_err(|err| anyhow::anyhow!("BETTER_AUTH_JWKS_URL: {err}"))?;
    Ok(body.to_bytes().to_vec())
}
