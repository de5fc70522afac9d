//! Keyed digests of what identifies a person (an email, a source address, a device token):
//! HMAC-SHA256 under keys derived from `BETTER_AUTH_SECRET` with HKDF. Throttle counters
//! are keyed by them, audit lines carry them and known devices are stored as them, so none
//! holds an address or a token, and a copy of the tables or the logs cannot be reversed
//! by hashing every IPv4 address without the secret. Also the random tokens the API hands
//! out (device tokens, mailed links).

use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::{hkdf, hmac};
use secrecy::{ExposeSecret, SecretString};

/// Separates these keys from any other use of the same secret.
const SALT: &[u8] = b"todo-api keyed digests v1";

/// The two digest keys of a cold start; each use has its own, so a throttle key never
/// equals the digest an audit line shows.
pub struct DigestKeys {
    throttle: hmac::Key,
    audit: hmac::Key,
    device: hmac::Key,
}

impl DigestKeys {
    pub fn new(secret: &SecretString) -> Self {
        let prk =
            hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(secret.expose_secret().as_bytes());
        let key = |info: &'static [u8]| {
            // Expanding to one HMAC-SHA256 key length cannot fail; the fallback is unreachable
            // but keeps this infallible without a panic path.
            prk.expand(&[info], hmac::HMAC_SHA256)
                .map(hmac::Key::from)
                .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, info))
        };
        Self {
            throttle: key(b"throttle counter keys"),
            audit: key(b"audit source addresses"),
            device: key(b"known device tokens"),
        }
    }

    /// The key of a throttle counter for `parts` (e.g. an email and an address), which are
    /// joined unambiguously: no two different lists give the same input.
    pub fn throttle_key(&self, parts: &[&str]) -> Vec<u8> {
        let mut context = hmac::Context::with_key(&self.throttle);
        for part in parts {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        context.sign().as_ref().to_vec()
    }

    /// What `devices.token_digest` holds for a device token.
    pub fn device_digest(&self, token: &str) -> Vec<u8> {
        hmac::sign(&self.device, token.as_bytes()).as_ref().to_vec()
    }

    /// What an audit line says of a source address: the first 16 bytes of its keyed
    /// digest, as hex. The same address gives the same value, so events can be correlated.
    pub fn audit_source(&self, address: &str) -> String {
        hmac::sign(&self.audit, address.as_bytes())
            .as_ref()
            .iter()
            .take(16)
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// 32 random bytes, base64url without padding: a device token, or a mailed link's token.
pub fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness for a token"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> DigestKeys {
        DigestKeys::new(&SecretString::from(secret.to_owned()))
    }

    #[test]
    fn digests_are_keyed_stable_and_separate_per_use() {
        let a = keys("0123456789abcdef0123456789abcdef");
        let b = keys("fedcba9876543210fedcba9876543210");
        let key = a.throttle_key(&["203.0.113.7"]);
        assert_eq!(key.len(), 32);
        assert_eq!(key, a.throttle_key(&["203.0.113.7"]));
        assert_ne!(key, b.throttle_key(&["203.0.113.7"]), "another secret");
        assert_ne!(
            key,
            ring::digest::digest(&ring::digest::SHA256, b"203.0.113.7").as_ref()
        );
        assert_ne!(
            a.throttle_key(&["ab", "c"]),
            a.throttle_key(&["a", "bc"]),
            "parts are joined unambiguously"
        );
        let source = a.audit_source("203.0.113.7");
        assert_eq!(source.len(), 32);
        assert!(
            !key.starts_with(&hex_bytes(&source)),
            "audit and throttle keys differ"
        );
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_default())
            .collect()
    }
}
