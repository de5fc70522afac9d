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

/// A token whose signature, algorithm and lifetime checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub expires_at: OffsetDateTime,
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
        validation.set_required_spec_claims(&["exp", "sub"]);
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
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => AuthFailure::ExpiredToken,
                _ => AuthFailure::InvalidToken,
            })?;
        let claims = data.claims;
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| AuthFailure::InvalidToken)?;
        let session_id = Uuid::parse_str(&claims.jti).map_err(|_| AuthFailure::InvalidToken)?;
        if claims.user_id != claims.sub {
            return Err(AuthFailure::InvalidToken);
        }
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp)
            .map_err(|_| AuthFailure::InvalidToken)?;
        Ok(VerifiedToken {
            user_id,
            session_id,
            expires_at,
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
}
