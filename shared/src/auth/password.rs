//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane), run off
//! the async threads. Unknown users are checked against a dummy hash so timing tells nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|err| anyhow::anyhow!("argon2 params: {err}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The hash, at the production parameters, of a password nobody uses: verified when the
/// email is unknown, so both paths cost one argon2id run. A constant, so no request (and no
/// cold start) pays to compute it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bnJK3Hy1Ctg5tzpoS1ZJPg$B2T7IWNnpVv4CQ5T6d+mW1ZKmRyQkTmr7b0zhRZdmA4";

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `password`.
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()?
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("hashing a password: {err}"))
    })
    .await
    .context("password hashing task")?
}

/// Whether `password` matches `stored`; with no stored hash (unknown email) the dummy hash
/// is verified instead and the answer is always false.
pub async fn verify(password: SecretString, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&phc)
            .map_err(|err| anyhow::anyhow!("stored hash unreadable: {err}"))?;
        let matches = hasher()?
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .context("password verification task")?
}

/// The argon2id work of one process, counted: how a test or benchmark shows that a refused
/// request cost no hash. Handlers hash and verify through it.
#[derive(Debug, Default)]
pub struct Passwords {
    runs: AtomicU64,
}

impl Passwords {
    /// [`hash`], counted.
    pub async fn hash(&self, password: SecretString) -> anyhow::Result<String> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        hash(password).await
    }

    /// [`verify`], counted (the dummy hash of an unknown email counts too).
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> anyhow::Result<bool> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        verify(password, stored).await
    }

    /// argon2id runs (hashes and verifications) so far.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let phc = hash(SecretString::from("correct horse")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify(SecretString::from("correct horse"), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(SecretString::from("correct horsf"), Some(phc))
                .await
                .unwrap()
        );
        assert!(
            !verify(SecretString::from("no user has this password"), None)
                .await
                .unwrap()
        );
        assert!(DUMMY_HASH.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }
}
