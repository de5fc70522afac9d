//! HS256 tokens exactly as the contract says: claims, lifetime, and a verification pinned
//! to one algorithm that requires `exp` and a subject.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AuthFailure, MAX_TOKEN_BYTES};
use crate::config::SigningSecrets;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The claims of a presented token, each optional: a correctly signed token whose `exp` has
/// passed is "expired" whatever else it lacks, so the signature and lifetime are judged
/// before the shape.
#[derive(Debug, Deserialize)]
struct PresentedClaims {
    sub: Option<String>,
    user_id: Option<String>,
    jti: Option<String>,
    email: Option<String>,
    exp: i64,
}

/// A token whose signature, algorithm and lifetime checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub expires_at: OffsetDateTime,
    /// The account's email when the token was issued.
    pub email: String,
}

/// The keys of every listed secret: the newest signs (its version, if any, in the header's
/// `kid`); each verifies the tokens it signed.
pub struct TokenKeys {
    signing: (Header, EncodingKey),
    verifying: Vec<(Option<String>, DecodingKey)>,
    validation: Validation,
    lifetime: Duration,
}

/// A freshly issued token and the instant it (and its session) expire.
pub struct IssuedToken {
    pub token: String,
    pub session_id: Uuid,
    pub expires_at: OffsetDateTime,
}

impl TokenKeys {
    pub fn new(secrets: &SigningSecrets, lifetime: Duration) -> Self {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = secrets.current_version().map(str::to_owned);
        let signing = (
            header,
            EncodingKey::from_secret(secrets.current().expose_secret().as_bytes()),
        );
        let verifying = secrets
            .all()
            .map(|(version, secret)| {
                let key = DecodingKey::from_secret(secret.expose_secret().as_bytes());
                (version.clone(), key)
            })
            .collect();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // `sub` is required too, but checked after the lifetime (see PresentedClaims).
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Self {
            signing,
            verifying,
            validation,
            lifetime,
        }
    }

    pub fn issue(&self, user_id: Uuid, email: &str, name: &str) -> anyhow::Result<IssuedToken> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let lifetime = i64::try_from(self.lifetime.as_secs())?;
        let session_id = Uuid::new_v4();
        let claims = Claims {
            sub: user_id.to_string(),
            user_id: user_id.to_string(),
            email: email.to_owned(),
            name: name.to_owned(),
            iat: now,
            exp: now + lifetime,
            jti: session_id.to_string(),
        };
        let token = jsonwebtoken::encode(&self.signing.0, &claims, &self.signing.1)?;
        Ok(IssuedToken {
            token,
            session_id,
            expires_at: OffsetDateTime::from_unix_timestamp(claims.exp)?,
        })
    }

    pub fn verify(&self, token: &str) -> Result<VerifiedToken, AuthFailure> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthFailure::InvalidToken);
        }
        let claims = self.checked_claims(token)?;
        let (Some(sub), Some(user_id), Some(jti), Some(email)) =
            (claims.sub, claims.user_id, claims.jti, claims.email)
        else {
            return Err(AuthFailure::InvalidToken);
        };
        if user_id != sub {
            return Err(AuthFailure::InvalidToken);
        }
        let user_id = Uuid::parse_str(&sub).map_err(|_| AuthFailure::InvalidToken)?;
        let session_id = Uuid::parse_str(&jti).map_err(|_| AuthFailure::InvalidToken)?;
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp)
            .map_err(|_| AuthFailure::InvalidToken)?;
        Ok(VerifiedToken {
            user_id,
            session_id,
            expires_at,
            email,
        })
    }

    /// The claims of a token signed by the secret its `kid` names, or, when its `kid` names
    /// no listed version (a token from before the list, or from a plain secret), by any
    /// listed secret: a dropped secret's tokens verify under none.
    fn checked_claims(&self, token: &str) -> Result<PresentedClaims, AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::InvalidToken)?;
        let decode = |key: &DecodingKey| {
            jsonwebtoken::decode::<PresentedClaims>(token, key, &self.validation)
                .map(|data| data.claims)
                .map_err(|err| match err.kind() {
                    ErrorKind::ExpiredSignature => AuthFailure::ExpiredToken,
                    _ => AuthFailure::InvalidToken,
                })
        };
        let named = header.kid.as_deref().and_then(|kid| {
            self.verifying
                .iter()
                .find(|(version, _)| version.as_deref() == Some(kid))
        });
        match named {
            Some((_, key)) => decode(key),
            None => self
                .verifying
                .iter()
                .map(|(_, key)| decode(key))
                .find(|outcome| !matches!(outcome, Err(AuthFailure::InvalidToken)))
                .unwrap_or(Err(AuthFailure::InvalidToken)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "jwt-unit-test-secret-0123456789-abcdef";
    const OTHER: &str = "another-unit-test-secret-9876543210-fedcba";

    fn keys_of(secrets: &str) -> TokenKeys {
        let secrets = SigningSecrets::parse_one(secrets).unwrap();
        TokenKeys::new(&secrets, Duration::from_secs(604_800))
    }

    fn keys() -> TokenKeys {
        keys_of(SECRET)
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_contract_claims() {
        let keys = keys();
        let user = Uuid::new_v4();
        let issued = keys.issue(user, "ada@example.com", "Ada").unwrap();
        let verified = keys.verify(&issued.token).unwrap();
        assert_eq!(verified.user_id, user);
        assert_eq!(verified.session_id, issued.session_id);
        let claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(&issued.token)
            .unwrap()
            .claims;
        assert_eq!(claims.exp - claims.iat, 604_800);
        assert_eq!(claims.sub, user.to_string());
        assert_eq!(claims.user_id, user.to_string());
    }

    #[test]
    fn other_secrets_and_algorithms_are_refused() {
        let issued = keys().issue(Uuid::new_v4(), "a@b.co", "A").unwrap();
        let other = keys_of(OTHER);
        assert_eq!(other.verify(&issued.token), Err(AuthFailure::InvalidToken));
        let claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(&issued.token)
            .unwrap()
            .claims;
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(keys().verify(&hs512), Err(AuthFailure::InvalidToken));
        assert_eq!(
            keys().verify(&"a".repeat(MAX_TOKEN_BYTES + 1)),
            Err(AuthFailure::InvalidToken)
        );
    }

    #[test]
    fn a_correctly_signed_token_past_its_exp_is_expired_whatever_it_lacks() {
        let secret = EncodingKey::from_secret(SECRET.as_bytes());
        let sign = |claims: serde_json::Value| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &secret).unwrap()
        };
        let past = OffsetDateTime::now_utc().unix_timestamp() - 60;
        for claims in [
            serde_json::json!({ "exp": past }),
            serde_json::json!({ "exp": past, "sub": Uuid::new_v4().to_string() }),
            serde_json::json!({ "exp": past, "sub": "not-a-uuid", "jti": "x" }),
        ] {
            assert_eq!(
                keys().verify(&sign(claims.clone())),
                Err(AuthFailure::ExpiredToken),
                "{claims}"
            );
        }
        let future = past + 3600;
        assert_eq!(
            keys().verify(&sign(serde_json::json!({ "exp": future }))),
            Err(AuthFailure::InvalidToken),
            "a live token without a subject is malformed"
        );
        let other = EncodingKey::from_secret(OTHER.as_bytes());
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({ "exp": past }),
            &other,
        )
        .unwrap();
        assert_eq!(
            keys().verify(&forged),
            Err(AuthFailure::InvalidToken),
            "badly signed"
        );
    }

    #[test]
    fn rotation_signs_with_the_newest_and_verifies_by_version() {
        let user = Uuid::new_v4();
        let before = keys().issue(user, "a@b.co", "A").unwrap();
        let old_list = keys_of(&format!("1:{SECRET}"));
        let versioned_old = old_list.issue(user, "a@b.co", "A").unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&versioned_old.token)
                .unwrap()
                .kid
                .as_deref(),
            Some("1")
        );
        assert_eq!(
            jsonwebtoken::decode_header(&before.token).unwrap().kid,
            None
        );

        let rotated = keys_of(&format!("2:{OTHER},1:{SECRET}"));
        let new = rotated.issue(user, "a@b.co", "A").unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new.token)
                .unwrap()
                .kid
                .as_deref(),
            Some("2")
        );
        for token in [&before.token, &versioned_old.token, &new.token] {
            assert_eq!(rotated.verify(token).unwrap().user_id, user);
        }

        let dropped = keys_of(&format!("2:{OTHER}"));
        assert_eq!(dropped.verify(&new.token).unwrap().user_id, user);
        for token in [&before.token, &versioned_old.token] {
            assert_eq!(dropped.verify(token), Err(AuthFailure::InvalidToken));
        }
        // A kid names one secret: the same signature under another version is refused.
        let swapped = keys_of(&format!("1:{OTHER},2:{SECRET}"));
        assert_eq!(swapped.verify(&new.token), Err(AuthFailure::InvalidToken));
    }
}
