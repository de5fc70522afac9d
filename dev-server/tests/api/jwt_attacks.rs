//! JWT attacks against the real server and database: every forged, tampered, mis-scoped,
//! expired or dead (signed out, deleted, expired in the database) token gets the contract's
//! 401 on every route of the table that reads a credential, each with its sample request
//! (signout: its unconditional 200), and every table is left exactly as it was. Positive
//! controls first prove that the same requests do answer, and write, with a good token,
//! that tokens forged by this file's own encoder are accepted when they are right, and that
//! the listener the key-URL headers point at would notice a connection, so no case can pass
//! vacuously.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::MAX_TOKEN_BYTES;

use crate::helpers::{PASSWORD, SECRET, Session, TestApp, error, session_of};
use crate::samples::{
    Account, Call, Credential, MANY_ACCOUNTS, every_route_as, every_route_on_its_own_account,
};

const INVALID: &str = "Invalid or malformed token";
const EXPIRED: &str = "Token expired, please log in again";
const MISSING: &str = "Authentication required";

/// Every call an attacker's token is sent to: the sample of every route of the table that
/// reads a credential, its `{user_id}` the one the token claims, and signout's global scope.
fn targets(victim: &Account, user: &str) -> Vec<Call> {
    let mut calls: Vec<Call> = every_route_as(victim, user)
        .into_iter()
        .filter(|call| call.credential != Credential::Ignored)
        .collect();
    let signout = calls
        .iter()
        .find(|call| call.route.function == "signout")
        .expect("the signout route")
        .clone();
    calls.push(Call {
        path: format!("{}?scope=global", signout.path),
        ..signout
    });
    calls
}

/// `call` with these `Authorization` headers, and no other credential.
fn attack(app: &TestApp, call: &Call, auth: &[HeaderValue]) -> Request {
    let mut builder = call.request(app);
    for value in auth {
        builder = builder.header(AUTHORIZATION, value.clone());
    }
    Request {
        describe: call.describe(),
        builder,
    }
}

/// What a refused token gets: signout answers 200 whatever the token (and revokes
/// nothing); every other route answers 401 with the contract message.
fn refusal(call: &Call, message: &str) -> (StatusCode, Value) {
    match call.credential {
        Credential::Optional => (
            StatusCode::OK,
            json!({ "message": "Signed out successfully" }),
        ),
        Credential::Required | Credential::Ignored => (StatusCode::UNAUTHORIZED, error(message)),
    }
}

struct Request {
    describe: String,
    builder: reqwest::RequestBuilder,
}

/// A response, read without panicking so one bad answer does not hide the others.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: Value,
}

async fn send(request: Request) -> Answer {
    let response = request
        .builder
        .send()
        .await
        .unwrap_or_else(|err| panic!("{}: {err}", request.describe));
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        content_type,
        body,
    }
}

/// Everything a forged token could have changed: the counts, the target task, and every row
/// of every table as JSON.
#[derive(Debug, PartialEq, Eq)]
struct DbState {
    users: i64,
    sessions: i64,
    tasks: i64,
    target_task: Option<String>,
    rows: Vec<String>,
}

async fn db_state(app: &TestApp, task: i64) -> DbState {
    let row = app
        .db
        .query_one(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM sessions),
                    (SELECT count(*) FROM tasks),
                    (SELECT row_to_json(t)::text FROM tasks t WHERE id = $1)",
            &[&task],
        )
        .await
        .expect("database snapshot");
    DbState {
        users: row.get(0),
        sessions: row.get(1),
        tasks: row.get(2),
        target_task: row.get(3),
        rows: app.snapshot_every_table().await,
    }
}

/// Unpadded base64url, written out so that tokens can carry bytes no JWT library would emit.
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, byte)| n | u32::from(*byte) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// `header.payload` from raw JSON text (raw, so duplicate keys and non-JSON can be sent).
fn unsigned(header: &str, payload: &str) -> String {
    format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()))
}

/// `input.signature` with an HMAC of `input` under `key`.
fn hmac_signed(input: &str, key: &[u8], algorithm: Algorithm) -> String {
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &EncodingKey::from_secret(key), algorithm)
            .expect("HMAC");
    format!("{input}.{signature}")
}

/// A token with the real secret's HS256 signature over whatever header and payload.
fn signed(header: &Value, claims: &Value) -> String {
    hmac_signed(
        &unsigned(&header.to_string(), &claims.to_string()),
        SECRET.as_bytes(),
        Algorithm::HS256,
    )
}

fn hs256_header() -> Value {
    json!({ "alg": "HS256", "typ": "JWT" })
}

/// The real secret's HS256 signature, only the claims changed by `edit`.
fn signed_claims(claims: &Value, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut claims = claims.clone();
    edit(claims.as_object_mut().expect("claims object"));
    signed(&hs256_header(), &claims)
}

fn claims_of(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .expect("a well-formed token")
        .claims
}

fn parts(token: &str) -> (&str, &str, &str) {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => (header, payload, signature),
        _ => panic!("not a three-part token: {token}"),
    }
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).expect("header value")
}

fn bearer(token: &str) -> Vec<HeaderValue> {
    vec![header_value(&format!("Bearer {token}"))]
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(120) {
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
        None => text.to_owned(),
    }
}

struct Case {
    name: String,
    auth: Vec<HeaderValue>,
    /// The `{user_id}` of the task routes: the user the token claims to act for.
    user: String,
    message: &'static str,
    /// Skips the signout routes, for a correctly signed token whose session row has only
    /// expired: signing out may then delete that dead row, which is no attack.
    protected_only: bool,
}

struct Cases {
    victim: String,
    all: Vec<Case>,
}

impl Cases {
    fn add(&mut self, name: &str, auth: Vec<HeaderValue>, message: &'static str) {
        self.all.push(Case {
            name: name.to_owned(),
            auth,
            user: self.victim.clone(),
            message,
            protected_only: false,
        });
    }

    /// A `Bearer` token claiming to act for the victim, refused as malformed.
    fn token(&mut self, name: &str, token: &str) {
        self.add(name, bearer(token), INVALID);
    }
}

/// A TCP listener that counts connections: the key-URL headers point at it, and a server
/// that followed one would show up here.
async fn connection_counter() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((_stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (address, connections)
}

async fn signin(app: &TestApp, email: &str) -> Session {
    let (status, body) = app.signin_with(email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    session_of(&body)
}

async fn signout(app: &TestApp, token: &str, query: &str) {
    let request = app
        .request(Method::POST, &format!("/api/auth/signout{query}"))
        .bearer_auth(token);
    assert_eq!(app.send(request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn forged_tampered_and_dead_tokens_are_refused_and_write_nothing() {
    let app = TestApp::spawn_with(MANY_ACCOUNTS).await;
    let victim = Account::new(&app, "ada").await;
    let ada = &victim.session;
    let bob = app.signup("bob@example.com").await;
    let task_id = victim.task_id;
    let claims = claims_of(&ada.token);
    let (listener, connections) = connection_counter().await;

    // The encoder above writes what jsonwebtoken writes.
    let issued_header = serde_json::to_vec(&Header::new(Algorithm::HS256)).expect("header");
    assert_eq!(b64(&issued_header), parts(&ada.token).0);

    // An attacker's own EC key, and its public half as a JWK to embed in headers.
    let attacker_pkcs8 = rcgen::KeyPair::generate().expect("EC key").serialize_der();
    let attacker_key = EncodingKey::from_ec_der(&attacker_pkcs8);
    let attacker_jwk = Jwk::from_encoding_key(&attacker_key, Algorithm::ES256).expect("JWK");
    let key_url_header = |alg: Algorithm| {
        let mut header = Header::new(alg);
        header.kid = Some(format!("http://{listener}/kid"));
        header.jku = Some(format!("http://{listener}/jwks.json"));
        header.x5u = Some(format!("http://{listener}/cert.pem"));
        header.jwk = Some(attacker_jwk.clone());
        header
    };

    // The largest correctly signed token within the cap, and the smallest one over it.
    let padded = |len: usize| {
        signed_claims(&claims, |c| {
            c.insert("padding".into(), json!("x".repeat(len)));
        })
    };
    let (mut fits, mut over) = (0, MAX_TOKEN_BYTES);
    while over - fits > 1 {
        let middle = (fits + over) / 2;
        if padded(middle).len() <= MAX_TOKEN_BYTES {
            fits = middle;
        } else {
            over = middle;
        }
    }
    let (at_limit, oversized) = (padded(fits), padded(over));
    assert!(at_limit.len() > MAX_TOKEN_BYTES - 4 && oversized.len() > MAX_TOKEN_BYTES);

    // ---- Positive controls: the same requests succeed, and write, with a good token. ----
    let controls = [
        ("the token signup issued", ada.token.clone()),
        (
            "its claims re-signed by this file's encoder",
            signed(&hs256_header(), &claims),
        ),
        (
            "HS256 with the real secret and kid/jku/x5u/jwk pointing at the listener",
            jsonwebtoken::encode(
                &key_url_header(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(SECRET.as_bytes()),
            )
            .expect("encode"),
        ),
        (
            "a correctly signed token of the largest size allowed",
            at_limit,
        ),
    ];
    let reads: Vec<Call> = targets(&victim, &ada.user_id)
        .into_iter()
        .filter(|call| !call.is_unsafe())
        .collect();
    assert!(!reads.is_empty(), "routes a token can be sent to again");
    for (name, token) in &controls {
        for call in &reads {
            let answer = send(attack(&app, call, &bearer(token))).await;
            assert_eq!(
                answer.status,
                call.success,
                "control [{name}] {}: {answer:?}",
                call.describe()
            );
        }
    }
    // Every target answers, and each that changes something writes, with a good token: on
    // an account of its own, since a sample may end what another needs.
    for (account, call) in every_route_on_its_own_account(&app, "control").await {
        if call.credential == Credential::Ignored {
            continue;
        }
        let before = db_state(&app, account.task_id).await;
        let answer = send(attack(&app, &call, &bearer(&account.session.token))).await;
        assert_eq!(
            answer.status,
            call.success,
            "control {}: {answer:?}",
            call.describe()
        );
        if call.is_unsafe() {
            assert_ne!(
                db_state(&app, account.task_id).await,
                before,
                "control {} wrote nothing: the snapshot is blind",
                call.describe()
            );
        }
    }

    // ---- Tokens that were good once (each proven good before it is ended). ----
    let revoked = signin(&app, "ada@example.com").await;
    assert_eq!(app.get_session(&revoked.token).await.0, StatusCode::OK);
    signout(&app, &revoked.token, "").await;
    let eve = app.signup("eve@example.com").await;
    assert_eq!(app.get_session(&eve.token).await.0, StatusCode::OK);
    let eve_phone = signin(&app, "eve@example.com").await;
    signout(&app, &eve_phone.token, "?scope=global").await;
    let carol = app.signup("carol@example.com").await;
    assert_eq!(app.get_session(&carol.token).await.0, StatusCode::OK);
    let carol_id: uuid::Uuid = carol.user_id.parse().expect("uuid");
    app.db
        .execute("DELETE FROM users WHERE id = $1", &[&carol_id])
        .await
        .expect("delete carol");
    let carol_sessions: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM sessions WHERE user_id = $1",
            &[&carol_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(carol_sessions, 0, "sessions cascade with their user");
    let lapsed = signin(&app, "ada@example.com").await;
    assert_eq!(app.get_session(&lapsed.token).await.0, StatusCode::OK);
    let lapsed_id: uuid::Uuid = claims_of(&lapsed.token)["jti"]
        .as_str()
        .and_then(|jti| jti.parse().ok())
        .expect("jti");
    app.db
        .execute(
            "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1",
            &[&lapsed_id],
        )
        .await
        .expect("expire session");

    // ---- The attacks. ----
    let mut cases = Cases {
        victim: ada.user_id.clone(),
        all: Vec::new(),
    };
    let (ada_header, ada_payload, ada_signature) = parts(&ada.token);
    let (_, bob_payload, bob_signature) = parts(&bob.token);
    let ada_input = format!("{ada_header}.{ada_payload}");
    let claims_json = claims.to_string();
    let garbage_signature = b64(&[0x5a; 32]);

    // The Authorization header itself.
    cases.add("no Authorization header", vec![], MISSING);
    cases.add(
        "empty Authorization header",
        vec![header_value("")],
        MISSING,
    );
    cases.add(
        "Basic scheme with the right password",
        vec![header_value(&format!(
            "Basic {}",
            b64(format!("ada@example.com:{PASSWORD}").as_bytes())
        ))],
        INVALID,
    );
    cases.add(
        "Token scheme with a valid token",
        vec![header_value(&format!("Token {}", ada.token))],
        INVALID,
    );
    cases.add(
        "a valid token with no scheme",
        vec![header_value(&ada.token)],
        INVALID,
    );
    cases.add(
        "Bearer with no token",
        vec![header_value("Bearer")],
        INVALID,
    );
    cases.add(
        "Bearer and a space, no token",
        vec![header_value("Bearer ")],
        INVALID,
    );
    cases.add(
        "Bearer with two tokens",
        vec![header_value(&format!("Bearer {} {}", ada.token, bob.token))],
        INVALID,
    );
    cases.add(
        "two Bearer credentials joined by a comma",
        vec![header_value(&format!(
            "Bearer {}, Bearer {}",
            ada.token, bob.token
        ))],
        INVALID,
    );
    cases.add(
        "two Authorization headers, the forged one first",
        vec![
            header_value(&format!("Bearer {ada_input}.")),
            header_value(&format!("Bearer {}", ada.token)),
        ],
        INVALID,
    );
    cases.add(
        "non-ASCII bytes in the header",
        vec![HeaderValue::from_bytes(b"Bearer \xe9\xff.\xfe").expect("obs-text header")],
        INVALID,
    );

    // alg none, in every spelling, with and without a signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let input = unsigned(
            &json!({ "alg": alg, "typ": "JWT" }).to_string(),
            &claims_json,
        );
        cases.token(&format!("alg {alg}, empty signature"), &format!("{input}."));
        cases.token(
            &format!("alg {alg}, garbage signature"),
            &format!("{input}.{garbage_signature}"),
        );
    }

    // Other algorithms, and algorithm confusion.
    let with_alg = |alg: &str| {
        unsigned(
            &json!({ "alg": alg, "typ": "JWT" }).to_string(),
            &claims_json,
        )
    };
    for (name, alg, algorithm) in [
        ("HS384 with the real secret", "HS384", Algorithm::HS384),
        ("HS512 with the real secret", "HS512", Algorithm::HS512),
        (
            "RS256 header, HMAC-SHA256 with the secret",
            "RS256",
            Algorithm::HS256,
        ),
        (
            "PS256 header, HMAC-SHA256 with the secret",
            "PS256",
            Algorithm::HS256,
        ),
        (
            "ES256 header, HMAC-SHA256 with the secret",
            "ES256",
            Algorithm::HS256,
        ),
        (
            "EdDSA header, HMAC-SHA256 with the secret",
            "EdDSA",
            Algorithm::HS256,
        ),
        (
            "lowercase hs256, HMAC-SHA256 with the secret",
            "hs256",
            Algorithm::HS256,
        ),
    ] {
        cases.token(
            name,
            &hmac_signed(&with_alg(alg), SECRET.as_bytes(), algorithm),
        );
    }
    cases.token(
        "RS256 header, random 256-byte signature",
        &format!("{}.{}", with_alg("RS256"), b64(&[0xa7; 256])),
    );
    cases.token(
        "ES256 header, random 64-byte signature",
        &format!("{}.{}", with_alg("ES256"), b64(&[0x3c; 64])),
    );
    cases.token(
        "ES256 signed with the attacker's own key",
        &jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &attacker_key)
            .expect("ES256"),
    );
    cases.token(
        "no alg in the header, HMAC-SHA256 with the secret",
        &hmac_signed(
            &unsigned(r#"{"typ":"JWT"}"#, &claims_json),
            SECRET.as_bytes(),
            Algorithm::HS256,
        ),
    );
    cases.token(
        "duplicate alg (HS256 then none), HMAC-SHA256 with the secret",
        &hmac_signed(
            &unsigned(r#"{"alg":"HS256","alg":"none","typ":"JWT"}"#, &claims_json),
            SECRET.as_bytes(),
            Algorithm::HS256,
        ),
    );

    // Signatures.
    cases.token("null signature (header.payload.)", &format!("{ada_input}."));
    cases.token("stripped signature (header.payload)", &ada_input);
    cases.token(
        "another user's valid signature spliced on",
        &format!("{ada_input}.{bob_signature}"),
    );
    let mut flipped = ada_signature.to_owned();
    let first = if flipped.starts_with('A') { "B" } else { "A" };
    flipped.replace_range(..1, first);
    cases.token(
        "signature with its first character changed",
        &format!("{ada_input}.{flipped}"),
    );
    cases.token(
        "signature truncated by one character",
        &format!("{ada_input}.{}", &ada_signature[..ada_signature.len() - 1]),
    );
    cases.token(
        "HS256 with a guessed weak secret",
        &hmac_signed(&ada_input, b"secret", Algorithm::HS256),
    );

    // Tampering, the original signature kept.
    let reordered = br#"{"alg":"HS256","typ":"JWT"}"#;
    assert_ne!(b64(reordered), ada_header);
    cases.token(
        "tampered header (same fields, reordered)",
        &format!("{}.{ada_payload}.{ada_signature}", b64(reordered)),
    );
    cases.token(
        "tampered header (kid added)",
        &format!(
            "{}.{ada_payload}.{ada_signature}",
            b64(br#"{"typ":"JWT","alg":"HS256","kid":"1"}"#)
        ),
    );
    let mut as_ada = claims_of(&bob.token);
    as_ada["sub"] = json!(ada.user_id);
    as_ada["user_id"] = json!(ada.user_id);
    cases.token(
        "another user's token with sub and user_id changed to the victim",
        &format!(
            "{ada_header}.{}.{bob_signature}",
            b64(as_ada.to_string().as_bytes())
        ),
    );
    let mut longer = claims.clone();
    longer["exp"] = json!(claims["exp"].as_i64().expect("exp") + 3600);
    cases.token(
        "payload with exp extended",
        &format!(
            "{ada_header}.{}.{ada_signature}",
            b64(longer.to_string().as_bytes())
        ),
    );
    cases.token(
        "another user's payload under the victim's signature",
        &format!("{ada_header}.{bob_payload}.{ada_signature}"),
    );

    // Not a JWS at all.
    cases.token("garbage a.b.c", "a.b.c");
    cases.token("only dots", "..");
    cases.token("four segments", &format!("{}.{ada_signature}", ada.token));
    cases.token(
        "JWE-shaped, five segments",
        &format!(
            "{}.{}.{}.{}.{}",
            b64(br#"{"alg":"dir","enc":"A256GCM"}"#),
            "",
            b64(&[1; 12]),
            ada_payload,
            b64(&[2; 16])
        ),
    );
    cases.token(
        "payload not JSON, signed with the secret",
        &hmac_signed(
            &unsigned(&hs256_header().to_string(), "not json"),
            SECRET.as_bytes(),
            Algorithm::HS256,
        ),
    );
    cases.token(
        "payload a JSON array, signed with the secret",
        &signed(&hs256_header(), &json!([claims])),
    );
    cases.token(
        "header not JSON, signed with the secret",
        &hmac_signed(
            &unsigned("HS256", &claims_json),
            SECRET.as_bytes(),
            Algorithm::HS256,
        ),
    );

    // Claims, each under the real secret's signature: only the claim is wrong.
    cases.add(
        "exp in the past",
        bearer(&signed_claims(&claims, |c| {
            c.insert("exp".into(), json!(now() - 60));
        })),
        EXPIRED,
    );
    let mut expired = claims.clone();
    expired["exp"] = json!(now() - 60);
    cases.token(
        "exp in the past under a spliced signature",
        &format!(
            "{ada_header}.{}.{ada_signature}",
            b64(expired.to_string().as_bytes())
        ),
    );
    cases.token(
        "nbf in the future",
        &signed_claims(&claims, |c| {
            c.insert("nbf".into(), json!(now() + 3600));
        }),
    );
    cases.token(
        "missing exp",
        &signed_claims(&claims, |c| {
            c.remove("exp");
        }),
    );
    cases.token(
        "exp as a string",
        &signed_claims(&claims, |c| {
            let exp = c["exp"].to_string();
            c.insert("exp".into(), json!(exp));
        }),
    );
    cases.token(
        "missing sub",
        &signed_claims(&claims, |c| {
            c.remove("sub");
        }),
    );
    for (name, sub) in [
        ("sub a number", json!(12345)),
        ("sub an object", json!({ "id": ada.user_id })),
        ("sub null", Value::Null),
        ("sub an array", json!([ada.user_id])),
        ("sub empty", json!("")),
        ("sub not a UUID", json!("admin")),
    ] {
        cases.token(
            name,
            &signed_claims(&claims, |c| {
                c.insert("sub".into(), sub);
            }),
        );
    }
    cases.token(
        "missing user_id",
        &signed_claims(&claims, |c| {
            c.remove("user_id");
        }),
    );
    cases.token(
        "user_id another user than sub",
        &signed_claims(&claims, |c| {
            c.insert("user_id".into(), json!(bob.user_id));
        }),
    );
    cases.token(
        "missing jti",
        &signed_claims(&claims, |c| {
            c.remove("jti");
        }),
    );
    cases.token(
        "jti of a session never issued",
        &signed_claims(&claims, |c| {
            c.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
        }),
    );
    cases.token(
        "jti of another user's live session",
        &signed_claims(&claims, |c| {
            c.insert("jti".into(), claims_of(&bob.token)["jti"].clone());
        }),
    );

    // Tokens that were good once.
    cases.token("a session signed out", &revoked.token);
    cases.all.push(Case {
        name: "a session ended by a global signout".into(),
        auth: bearer(&eve.token),
        user: eve.user_id.clone(),
        message: INVALID,
        protected_only: false,
    });
    cases.all.push(Case {
        name: "the token of a deleted user".into(),
        auth: bearer(&carol.token),
        user: carol.user_id.clone(),
        message: INVALID,
        protected_only: false,
    });
    cases.all.push(Case {
        name: "a session expired in the database, its token not yet".into(),
        auth: bearer(&lapsed.token),
        user: ada.user_id.clone(),
        message: INVALID,
        protected_only: true,
    });

    // Headers naming a key or where to fetch one: only the HS256 secret may decide.
    let es256_with = |edit: &dyn Fn(&mut Header)| {
        let mut header = Header::new(Algorithm::ES256);
        edit(&mut header);
        jsonwebtoken::encode(&header, &claims, &attacker_key).expect("ES256")
    };
    cases.token(
        "ES256 with the attacker's key embedded as jwk",
        &es256_with(&|h: &mut Header| h.jwk = Some(attacker_jwk.clone())),
    );
    cases.token(
        "ES256 with jku at the listener",
        &es256_with(&|h: &mut Header| h.jku = Some(format!("http://{listener}/jwks.json"))),
    );
    cases.token(
        "ES256 with x5u at the listener",
        &es256_with(&|h: &mut Header| h.x5u = Some(format!("http://{listener}/cert.pem"))),
    );
    cases.token(
        "ES256 with kid a URL at the listener",
        &es256_with(&|h: &mut Header| h.kid = Some(format!("http://{listener}/key"))),
    );
    cases.token(
        "ES256 with kid, jku, x5u and jwk all set",
        &jsonwebtoken::encode(&key_url_header(Algorithm::ES256), &claims, &attacker_key)
            .expect("ES256"),
    );
    let attacker_secret = b"attacker-chosen-secret-of-32-bytes!!";
    let mut header = Header::new(Algorithm::HS256);
    header.jwk = Some(
        Jwk::from_encoding_key(&EncodingKey::from_secret(attacker_secret), Algorithm::HS256)
            .expect("oct JWK"),
    );
    header.jku = Some(format!("http://{listener}/jwks.json"));
    cases.token(
        "HS256 under the attacker's secret, embedded as an oct jwk",
        &jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(attacker_secret))
            .expect("HS256"),
    );
    cases.token(
        "kid path traversal to /dev/null, HS256 with an empty key",
        &hmac_signed(
            &unsigned(
                &json!({ "alg": "HS256", "typ": "JWT", "kid": "../../../../../../dev/null" })
                    .to_string(),
                &claims_json,
            ),
            b"",
            Algorithm::HS256,
        ),
    );
    cases.token(
        "kid SQL injection, HS256 with the injected key",
        &hmac_signed(
            &unsigned(
                &json!({ "alg": "HS256", "typ": "JWT", "kid": "x' UNION SELECT 'k' -- " })
                    .to_string(),
                &claims_json,
            ),
            b"k",
            Algorithm::HS256,
        ),
    );

    cases.token("a correctly signed token over 8 KiB", &oversized);

    let mut tried = 0;
    let mut rejected = 0;
    let mut cases_rejected = 0;
    let mut failures = Vec::new();
    // The database as every refusal must leave it (taken again only after a failure, so
    // that each failure names the request that wrote).
    let mut expected = db_state(&app, task_id).await;
    for case in &cases.all {
        let mut all_refused = true;
        for call in targets(&victim, &case.user) {
            if case.protected_only && call.credential == Credential::Optional {
                continue;
            }
            tried += 1;
            let request = attack(&app, &call, &case.auth);
            let describe = request.describe.clone();
            let answer = send(request).await;
            let after = db_state(&app, task_id).await;

            let mut problems = Vec::new();
            let (status, body) = refusal(&call, case.message);
            if (answer.status, &answer.body) != (status, &body) {
                problems.push(format!(
                    "answered {} {} instead of {status} {body}",
                    answer.status, answer.body
                ));
            }
            if answer.content_type.as_deref() != Some("application/json") {
                problems.push(format!("content-type {:?}", answer.content_type));
            }
            if after != expected {
                problems.push(format!(
                    "the database changed:\n  before {expected:?}\n  after  {after:?}"
                ));
                expected = after;
            }
            if problems.is_empty() {
                rejected += 1;
            } else {
                all_refused = false;
                let auth: Vec<String> = case
                    .auth
                    .iter()
                    .map(|v| shorten(&String::from_utf8_lossy(v.as_bytes())))
                    .collect();
                failures.push(format!(
                    "[{}] {describe} with Authorization {auth:?}: {}",
                    case.name,
                    problems.join("; ")
                ));
            }
        }
        if all_refused {
            cases_rejected += 1;
        }
    }

    let total = cases.all.len();
    eprintln!(
        "{cases_rejected} attack cases rejected / {total} tried \
         ({rejected} of {tried} requests over {} routes refused with the database unchanged)",
        targets(&victim, &ada.user_id).len()
    );
    assert!(
        failures.is_empty(),
        "{} attack requests were not refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(rejected, tried, "attack requests refused / tried");
    assert_eq!(cases_rejected, total, "attack cases rejected / tried");

    // ---- After the attacks: the listener saw nothing, and would have. ----
    let seen = connections.load(Ordering::SeqCst);
    tokio::net::TcpStream::connect(&listener)
        .await
        .expect("probe the listener");
    let mut waited = 0;
    while connections.load(Ordering::SeqCst) == seen && waited < 50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        seen + 1,
        "the listener counts connections"
    );
    assert_eq!(
        seen, 0,
        "the server connected to a URL named in a token header"
    );

    // The victim's token still works, and the destructive routes do write with it.
    assert_eq!(app.get_session(&ada.token).await.0, StatusCode::OK);
    let request = app.with_token(Method::DELETE, &ada.task_path(task_id), &ada.token);
    assert_eq!(app.send(request).await.0, StatusCode::OK, "final delete");
    assert_eq!(db_state(&app, task_id).await.target_task, None);
    signout(&app, &ada.token, "?scope=global").await;
    let ada_id: uuid::Uuid = ada.user_id.parse().expect("uuid");
    let ada_sessions: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM sessions WHERE user_id = $1",
            &[&ada_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(
        ada_sessions, 0,
        "the final global signout revoked every session"
    );
}
