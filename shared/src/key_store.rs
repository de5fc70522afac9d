//! Better Auth interop at run time: the public keys of the app's Better Auth server,
//! read once per cold start from its `jwks` table (or `BETTER_AUTH_JWKS_URL`) and read
//! again when a token names an unknown key, at most once a minute, so that a new key is
//! picked up on its first use and a stream of forged `kid`s costs one read a minute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::SecretString;
use tokio::sync::{Mutex, RwLock};

use crate::auth::AuthFailure;
use crate::auth::better_auth::{BetterAuthClaims, BetterAuthVerifier, JwtRefusal, KeySet};
use crate::config::BetterAuthSettings;
use crate::db::Db;

/// Shortest time between two reads of the keys.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// Largest JWKS document read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

pub struct KeyStore {
    pub settings: BetterAuthSettings,
    /// The issuer as the SQL of Better Auth credentials records it.
    pub issuer: Arc<str>,
    verifier: BetterAuthVerifier,
    keys: RwLock<Arc<KeySet>>,
    /// When the keys were last read; held while reading, so reads never overlap.
    last_read: Mutex<Option<Instant>>,
}

impl KeyStore {
    pub fn new(settings: BetterAuthSettings, secret: &SecretString) -> Self {
        Self {
            issuer: Arc::from(settings.issuer.as_str()),
            verifier: BetterAuthVerifier::new(&settings.issuer, &settings.audience, secret),
            settings,
            keys: RwLock::default(),
            last_read: Mutex::new(None),
        }
    }

    pub fn verifier(&self) -> &BetterAuthVerifier {
        &self.verifier
    }

    /// Reads the keys now (a cold start); a failure is logged, not fatal: the next token
    /// with an unknown key tries again.
    pub async fn read_keys_logged(&self, db: &Db) {
        let mut last_read = self.last_read.lock().await;
        if let Err(err) = self.read_keys(db).await {
            tracing::error!(error = ?err, "reading Better Auth's keys failed");
        }
        *last_read = Some(Instant::now());
    }

    /// A verified JWT, reading the keys once more if it names an unknown one and the last
    /// read is more than [`RELOAD_INTERVAL`] ago (or never happened).
    pub async fn verify_jwt(&self, db: &Db, token: &str) -> Result<BetterAuthClaims, AuthFailure> {
        let keys = self.keys.read().await.clone();
        match self.verifier.verify_jwt(token, &keys) {
            Err(JwtRefusal::UnknownKey) => {}
            Err(JwtRefusal::Refused(failure)) => return Err(failure),
            Ok(claims) => return Ok(claims),
        }
        {
            let mut last_read = self.last_read.lock().await;
            let due = last_read.is_none_or(|at| at.elapsed() >= RELOAD_INTERVAL);
            // Another request may have read them while this one waited for the lock.
            let read_meanwhile = !Arc::ptr_eq(&keys, &*self.keys.read().await);
            if due && !read_meanwhile {
                if let Err(err) = self.read_keys(db).await {
                    tracing::error!(error = ?err, "reading Better Auth's keys failed");
                }
                *last_read = Some(Instant::now());
            }
        }
        let keys = self.keys.read().await.clone();
        self.verifier
            .verify_jwt(token, &keys)
            .map_err(|refusal| match refusal {
                JwtRefusal::UnknownKey => AuthFailure::InvalidToken,
                JwtRefusal::Refused(failure) => failure,
            })
    }

    async fn read_keys(&self, db: &Db) -> anyhow::Result<()> {
        let (keys, skipped) = match &self.settings.jwks_url {
            None => KeySet::new(
                crate::db::jwks::published_keys(db)
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
    let tls = crate::db::tls::web_client_config()?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let uri: hyper::Uri = url.parse().context("BETTER_AUTH_JWKS_URL")?;
    let response = tokio::time::timeout(Duration::from_secs(5), client.get(uri))
        .await
        .context("BETTER_AUTH_JWKS_URL: no answer within 5 s")?
        .context("BETTER_AUTH_JWKS_URL")?;
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
