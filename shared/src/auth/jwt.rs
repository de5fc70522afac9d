//! HS256 tokens exactly as the contract says: claims, lifetime, and a verification pinned
//! to one algorithm that requires `exp` and a subject.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AuthFailure, MAX_TOKEN_BYTES};

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
    /// The account's email when the token was issued (an account's email never changes).
    pub email: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
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
    pub fn new(secret: &SecretString, lifetime: Duration) -> Self {
        let secret = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // `sub` is required too, but checked after the lifetime (see PresentedClaims).
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
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
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
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
        let claims =
            jsonwebtoken::decode::<PresentedClaims>(token, &self.decoding, &self.validation)
                .map_err(|err| match err.kind() {
                    ErrorKind::ExpiredSignature => AuthFailure::ExpiredToken,
                    _ => AuthFailure::InvalidToken,
                })?
                .claims;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(
            &SecretString::from("k".repeat(32)),
            Duration::from_secs(604_800),
        )
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
        let other = TokenKeys::new(&SecretString::from("o".repeat(32)), Duration::from_secs(60));
        assert_eq!(other.verify(&issued.token), Err(AuthFailure::InvalidToken));
        let claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(&issued.token)
            .unwrap()
            .claims;
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret("k".repeat(32).as_bytes()),
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
        let secret = EncodingKey::from_secret("k".repeat(32).as_bytes());
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
        let other = EncodingKey::from_secret("o".repeat(32).as_bytes());
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
}
