//! The credentials of the app's own Better Auth server, checked without the database: its
//! JWTs (the `jwt` plugin: EdDSA, ES256, RS256 or PS256, by a key of its `jwks` table or
//! JWKS document), and the signature of its session tokens (the `bearer` plugin). Whether
//! a session token is still live is the route's statement's business.

use std::collections::HashMap;

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::hmac;
use secrecy::ExposeSecret;
use serde::Deserialize;
use time::OffsetDateTime;

use super::{AuthFailure, MAX_TOKEN_BYTES};
use crate::config::SigningSecrets;

/// The `typ` of the JWTs Better Auth signs for its own session cookie cache: never a
/// credential for this API.
pub const SESSION_CACHE_TYP: &str = "better-auth.session-cache+jwt";

/// The algorithms Better Auth's jwt plugin signs with that are accepted here.
const ALGORITHMS: [(&str, Algorithm); 4] = [
    ("EdDSA", Algorithm::EdDSA),
    ("ES256", Algorithm::ES256),
    ("RS256", Algorithm::RS256),
    ("PS256", Algorithm::PS256),
];

fn algorithm(name: &str) -> Option<Algorithm> {
    ALGORITHMS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, algorithm)| *algorithm)
}

/// Better Auth's public keys by `kid`, each with the one algorithm it may verify.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

/// A key as Better Auth stores or publishes it.
#[derive(Debug, Deserialize)]
pub struct PublishedKey {
    pub kid: String,
    /// The algorithm it signs with; Better Auth's `jwks.alg` column, or the JWK's `alg`.
    pub alg: Option<String>,
    /// The public JWK (Better Auth's `jwks."publicKey"`, which names no `kid` or `alg`).
    pub jwk: serde_json::Value,
}

impl KeySet {
    /// The usable keys among `published`, and why each other one was left out.
    pub fn new(published: impl IntoIterator<Item = PublishedKey>) -> (Self, Vec<String>) {
        let mut set = Self::default();
        let mut skipped = Vec::new();
        for key in published {
            match usable(&key) {
                Ok(usable) => {
                    set.keys.insert(key.kid, usable);
                }
                Err(reason) => skipped.push(format!("key {}: {reason}", key.kid)),
            }
        }
        (set, skipped)
    }

    /// The keys of a JWKS document (`{"keys": [...]}`, as Better Auth serves it at
    /// `/api/auth/jwks`).
    pub fn from_document(document: &[u8]) -> Result<(Self, Vec<String>), String> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document = serde_json::from_slice(document)
            .map_err(|err| format!("not a JWKS document: {err}"))?;
        let published = document.keys.into_iter().filter_map(|jwk| {
            let kid = jwk.get("kid")?.as_str()?.to_owned();
            let alg = jwk
                .get("alg")
                .and_then(|alg| alg.as_str())
                .map(str::to_owned);
            Some(PublishedKey { kid, alg, jwk })
        });
        Ok(Self::new(published))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The algorithm and decoding key of `key`: its stated algorithm, or the only one its
/// curve allows (RSA keys must say which they are for: RS256 and PS256 share a shape).
fn usable(key: &PublishedKey) -> Result<(Algorithm, DecodingKey), String> {
    let field = |name: &str| key.jwk.get(name).and_then(|value| value.as_str());
    let implied = match (field("kty"), field("crv")) {
        (Some("OKP"), Some("Ed25519")) => Some("EdDSA"),
        (Some("EC"), Some("P-256")) => Some("ES256"),
        (Some("RSA"), _) => None,
        (kty, crv) => return Err(format!("unsupported key type {kty:?}/{crv:?}")),
    };
    let name = key
        .alg
        .as_deref()
        .or(implied)
        .ok_or("an RSA key that does not say its algorithm")?;
    let algorithm = algorithm(name).ok_or_else(|| format!("unsupported algorithm {name}"))?;
    if let Some(implied) = implied.filter(|implied| *implied != name) {
        return Err(format!("a {implied} key labelled {name}"));
    }
    let jwk: Jwk =
        serde_json::from_value(key.jwk.clone()).map_err(|err| format!("bad JWK: {err}"))?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|err| format!("bad JWK: {err}"))?;
    Ok((algorithm, decoding))
}

/// What a verified Better Auth JWT says of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetterAuthClaims {
    /// Better Auth's user id.
    pub subject: String,
    pub expires_at: OffsetDateTime,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The user's `emailVerified`, which the jwt plugin's default payload carries.
    pub email_verified: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct PresentedClaims {
    sub: Option<String>,
    exp: i64,
    email: Option<String>,
    name: Option<String>,
    #[serde(rename = "emailVerified")]
    email_verified: Option<bool>,
}

/// Why a Better Auth JWT was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtRefusal {
    /// Its `kid` names no key of the set: worth a reload of the keys, once in a while.
    UnknownKey,
    Refused(AuthFailure),
}

/// Checks Better Auth's credentials against the issuer, audience and secrets the API was
/// configured with.
pub struct BetterAuthVerifier {
    issuer: String,
    audience: String,
    /// One key per listed secret: a session token signed before a rotation still verifies
    /// (Better Auth itself checks only its current secret).
    session_signatures: Vec<hmac::Key>,
}

impl BetterAuthVerifier {
    pub fn new(issuer: &str, audience: &str, secrets: &SigningSecrets) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            session_signatures: secrets
                .all()
                .map(|(_, secret)| {
                    hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes())
                })
                .collect(),
        }
    }

    /// A JWT of the jwt plugin: its key's own algorithm, `iss` and `aud` as configured,
    /// `exp` and `sub` present; a session-cache JWT is refused whatever it says.
    pub fn verify_jwt(&self, token: &str, keys: &KeySet) -> Result<BetterAuthClaims, JwtRefusal> {
        let invalid = JwtRefusal::Refused(AuthFailure::InvalidToken);
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid)?;
        if header.typ.as_deref() == Some(SESSION_CACHE_TYP) {
            return Err(invalid);
        }
        let kid = header.kid.ok_or(invalid)?;
        let (algorithm, key) = keys.keys.get(&kid).ok_or(JwtRefusal::UnknownKey)?;
        if header.alg != *algorithm {
            return Err(invalid);
        }
        let mut validation = Validation::new(*algorithm);
        validation.algorithms = vec![*algorithm];
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        // All four must be there (`sub` is also checked not empty, below).
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<PresentedClaims>(token, key, &validation)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => JwtRefusal::Refused(AuthFailure::ExpiredToken),
                _ => invalid,
            })?
            .claims;
        let subject = claims.sub.filter(|sub| !sub.is_empty()).ok_or(invalid)?;
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp).map_err(|_| invalid)?;
        Ok(BetterAuthClaims {
            subject,
            expires_at,
            email: claims.email,
            name: claims.name,
            email_verified: claims.email_verified,
        })
    }

    /// The session token in what the bearer plugin hands out: `<token>.<signature>`,
    /// percent-encoded or not, where the signature (base64 HMAC-SHA256 of the token under
    /// one of the listed secrets) is checked; or the bare token, which Better Auth accepts too
    /// unless `require_signature` (its `requireSignature`).
    pub fn session_token(
        &self,
        presented: &str,
        require_signature: bool,
    ) -> Result<String, AuthFailure> {
        let decoded = percent_decode(presented).ok_or(AuthFailure::InvalidToken)?;
        let (token, signature) = match decoded.split_once('.') {
            Some((token, signature)) => (token, Some(signature)),
            None => (decoded.as_str(), None),
        };
        let well_formed = !token.is_empty()
            && token.len() <= 255
            && token
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !well_formed {
            return Err(AuthFailure::InvalidToken);
        }
        match signature {
            Some(signature) => {
                let signature = decode_base64(signature).ok_or(AuthFailure::InvalidToken)?;
                let signed_by_a_listed_secret = self
                    .session_signatures
                    .iter()
                    .any(|key| hmac::verify(key, token.as_bytes(), &signature).is_ok());
                if !signed_by_a_listed_secret {
                    return Err(AuthFailure::InvalidToken);
                }
            }
            None if require_signature => return Err(AuthFailure::InvalidToken),
            None => {}
        }
        Ok(token.to_owned())
    }
}

/// Whether `token` has a JWT's shape (three dot-separated parts) rather than a session
/// token's, and if so, the algorithm its header names.
pub fn jwt_algorithm(token: &str) -> Option<Result<Algorithm, AuthFailure>> {
    (token.split('.').count() == 3).then(|| {
        jsonwebtoken::decode_header(token)
            .map(|header| header.alg)
            .map_err(|_| AuthFailure::InvalidToken)
    })
}

/// `%XX` escapes decoded (the bearer plugin's header is sometimes URL-encoded); `None`
/// for a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = text.bytes();
    let mut out = Vec::with_capacity(text.len());
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(byte);
        }
    }
    String::from_utf8(out).ok()
}

/// Standard or URL-safe base64, padded or not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let normalised: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(normalised)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "better-auth-test-secret-0123456789-ABCDEF";

    const OLDER: &str = "better-auth-older-secret-9876543210-fedcba";

    fn verifier_of(secrets: &str) -> BetterAuthVerifier {
        BetterAuthVerifier::new(
            "https://app.example.com",
            "https://app.example.com",
            &SigningSecrets::parse_one(secrets).unwrap(),
        )
    }

    fn verifier() -> BetterAuthVerifier {
        verifier_of(SECRET)
    }

    fn sign(token: &str) -> String {
        sign_with(SECRET, token)
    }

    fn sign_with(secret: &str, token: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, token.as_bytes()))
    }

    #[test]
    fn session_tokens_signed_by_any_listed_secret() {
        let token = "lIR1Xo54R0QBlzqTevf3k0tpxviF3Kvm";
        let by_older = format!("{token}.{}", sign_with(OLDER, token));
        let rotated = verifier_of(&format!("2:{SECRET},1:{OLDER}"));
        assert_eq!(rotated.session_token(&by_older, true).as_deref(), Ok(token));
        assert_eq!(
            verifier().session_token(&by_older, true),
            Err(AuthFailure::InvalidToken),
            "a secret no longer listed"
        );
    }

    #[test]
    fn session_tokens_signed_encoded_or_bare() {
        let token = "lIR1Xo54R0QBlzqTevf3k0tpxviF3Kvm";
        let signed = format!("{token}.{}", sign(token));
        assert_eq!(signed.len(), 32 + 1 + 44);
        let encoded = signed
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        for presented in [token.to_owned(), signed.clone(), encoded] {
            assert_eq!(
                verifier().session_token(&presented, false).as_deref(),
                Ok(token),
                "{presented}"
            );
        }
        let mut tampered = signed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            verifier().session_token(&tampered, false),
            Err(AuthFailure::InvalidToken)
        );
        let other = format!("{}.{}", "x".repeat(32), sign(token));
        assert_eq!(
            verifier().session_token(&other, false),
            Err(AuthFailure::InvalidToken)
        );
        assert_eq!(
            verifier().session_token(token, true),
            Err(AuthFailure::InvalidToken),
            "bare, where a signature is required"
        );
        assert_eq!(
            verifier().session_token(&signed, true).as_deref(),
            Ok(token)
        );
        for bad in ["", "a b", "%zz", "tok'en", "a.b.c"] {
            assert_eq!(
                verifier().session_token(bad, false),
                Err(AuthFailure::InvalidToken),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_keep_their_own_algorithm_and_rsa_keys_must_name_it() {
        let ed = serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": "kDZ7V2K5Rmuy0wqNbkVZkwYHlvhKw7m0wBGm8lmEaUE" });
        let rsa = serde_json::json!({ "kty": "RSA", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB" });
        let (keys, skipped) = KeySet::new([
            PublishedKey {
                kid: "ed".into(),
                alg: None,
                jwk: ed.clone(),
            },
            PublishedKey {
                kid: "ed-labelled".into(),
                alg: Some("EdDSA".into()),
                jwk: ed.clone(),
            },
            PublishedKey {
                kid: "ed-as-es256".into(),
                alg: Some("ES256".into()),
                jwk: ed,
            },
            PublishedKey {
                kid: "rsa".into(),
                alg: Some("PS256".into()),
                jwk: rsa.clone(),
            },
            PublishedKey {
                kid: "rsa-unlabelled".into(),
                alg: None,
                jwk: rsa,
            },
        ]);
        assert_eq!(keys.len(), 3, "{skipped:?}");
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(matches!(keys.keys.get("rsa"), Some((Algorithm::PS256, _))));
    }

    /// A key pair of the jwt plugin's default kind (Ed25519) as a published key, and what
    /// signs with it.
    fn ed25519_key() -> (KeySet, jsonwebtoken::EncodingKey) {
        use ring::signature::KeyPair as _;
        let pkcs8 =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .unwrap();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key());
        let (keys, skipped) = KeySet::new([PublishedKey {
            kid: "k1".into(),
            alg: Some("EdDSA".into()),
            jwk: serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": x }),
        }]);
        assert!(skipped.is_empty(), "{skipped:?}");
        (keys, jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref()))
    }

    #[test]
    fn iss_aud_exp_and_sub_must_all_be_there() {
        let (keys, signing) = ed25519_key();
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let exp = OffsetDateTime::now_utc().unix_timestamp() + 600;
        let all = serde_json::json!({
            "iss": "https://app.example.com", "aud": "https://app.example.com",
            "exp": exp, "sub": "user-1",
        });
        let sign =
            |claims: &serde_json::Value| jsonwebtoken::encode(&header, claims, &signing).unwrap();
        let claims = verifier().verify_jwt(&sign(&all), &keys).unwrap();
        assert_eq!(claims.subject, "user-1");
        for missing in ["iss", "aud", "exp", "sub"] {
            let mut claims = all.clone();
            claims.as_object_mut().unwrap().remove(missing);
            assert_eq!(
                verifier().verify_jwt(&sign(&claims), &keys).unwrap_err(),
                JwtRefusal::Refused(AuthFailure::InvalidToken),
                "without {missing}"
            );
        }
        for (claim, value) in [
            ("iss", "https://evil.example.com"),
            ("aud", "another"),
            ("sub", ""),
        ] {
            let mut claims = all.clone();
            claims[claim] = serde_json::json!(value);
            assert_eq!(
                verifier().verify_jwt(&sign(&claims), &keys).unwrap_err(),
                JwtRefusal::Refused(AuthFailure::InvalidToken),
                "{claim}: {value}"
            );
        }
    }

    #[test]
    fn shapes_tell_jwts_from_session_tokens() {
        assert!(jwt_algorithm("abc.def").is_none());
        assert!(jwt_algorithm("abcdef").is_none());
        assert_eq!(jwt_algorithm("a.b.c"), Some(Err(AuthFailure::InvalidToken)));
        let hs256 = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.x";
        assert_eq!(jwt_algorithm(hs256), Some(Ok(Algorithm::HS256)));
    }
}
