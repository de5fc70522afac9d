//! Better Auth interop against the real thing: the fixture app in `tests/better-auth`
//! (better-auth 1.7 with its `jwt` and `bearer` plugins, on `pg`), started by each test on
//! the same database as the API under test. Users sign up through Better Auth's own HTTP
//! API; their JWTs (`GET /api/auth/token`) and session tokens (`set-auth-token`) then drive
//! every task route, every way such a credential can be wrong is refused, and none of
//! them is ever logged.
//!
//! Needs Node.js and the fixture installed: `npm ci --prefix dev-server/tests/better-auth`,
//! then `cargo test -p dev-server --test better_auth -- --ignored` (CI does).

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::sync::OnceLock;
use std::time::Duration;

use dev_server::fixtures::CapturedLog;

use dev_server::fixtures::better_auth::{self, BA_PASSWORD, BetterAuthServer, BetterAuthUser};
use helpers::{SECRET, Session, TestApp, complete_path, error, task_path, tasks_path};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A Better Auth user as seen through one credential: a [`Session`] for the test helpers.
fn as_session(user: &BetterAuthUser, credential: &str) -> Session {
    Session {
        user_id: user.id.clone(),
        token: credential.to_owned(),
    }
}

/// The API on a fresh database with `BETTER_AUTH_URL` pointing at a Better Auth server
/// started on the same database, with `env` for the fixture and `overrides` for the API.
async fn api_and_better_auth(
    env: &[(&str, &str)],
    overrides: &[(&str, &str)],
) -> (TestApp, BetterAuthServer) {
    // Better Auth first, on the port the system picks for it: its address is the API's
    // BETTER_AUTH_URL.
    let database_url = helpers::fresh_database_on(&helpers::admin_url()).await;
    let better_auth = BetterAuthServer::start(&database_url, SECRET, None, env).await;
    let mut vars = vec![("BETTER_AUTH_URL", better_auth.address.as_str())];
    vars.extend(better_auth::api_schema().map(|schema| ("BETTER_AUTH_SCHEMA", schema)));
    vars.extend_from_slice(overrides);
    let app = TestApp::on_database(database_url, &vars).await;
    read_keys_as_a_cold_start_does(&app).await;
    (app, better_auth)
}

/// What a function's cold start does once Better Auth has its keys: read them.
async fn read_keys_as_a_cold_start_does(app: &TestApp) {
    let better_auth = app
        .state
        .better_auth
        .as_ref()
        .expect("BETTER_AUTH_URL is set");
    better_auth.cold_start_logged(&app.state.db).await;
}

/// The process's log, captured from the first test that reads it on (a subscriber is
/// installed once per process, so every test that reads the log shares this one).
fn captured_log() -> &'static CapturedLog {
    static LOG: OnceLock<CapturedLog> = OnceLock::new();
    LOG.get_or_init(CapturedLog::start)
}

fn unauthorized(message: &str) -> (StatusCode, Value) {
    (StatusCode::UNAUTHORIZED, error(message))
}

/// Drives every task route with `who`'s credential, checking statuses, the owner id in
/// every task, and one database round trip per request.
async fn drive_every_task_route(app: &TestApp, who: &Session, label: &str) {
    let round_trip = |before: u64| {
        let after = app.state.db.round_trips();
        assert_eq!(after - before, 1, "{label}: one round trip");
    };
    let before = app.state.db.round_trips();
    let task = app
        .create_task(who, &format!("From {label}"), Some("by Better Auth"))
        .await;
    round_trip(before);
    assert_eq!(task["user_id"], who.user_id.as_str(), "{label}");
    let id = task["id"].clone();
    let requests = [
        (Method::GET, tasks_path(&who.user_id), None, StatusCode::OK),
        (
            Method::GET,
            task_path(&who.user_id, &id),
            None,
            StatusCode::OK,
        ),
        (
            Method::PUT,
            task_path(&who.user_id, &id),
            Some(json!({ "title": "Replaced", "description": null })),
            StatusCode::OK,
        ),
        (
            Method::PATCH,
            task_path(&who.user_id, &id),
            Some(json!({ "description": "patched" })),
            StatusCode::OK,
        ),
        (
            Method::PATCH,
            complete_path(&who.user_id, &id),
            None,
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            task_path(&who.user_id, &id),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            task_path(&who.user_id, &id),
            None,
            StatusCode::NOT_FOUND,
        ),
    ];
    for (method, path, body, expected) in requests {
        let mut request = app.with_token(method.clone(), &path, &who.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let before = app.state.db.round_trips();
        let (status, answer) = app.send(request).await;
        round_trip(before);
        assert_eq!(status, expected, "{label}: {method} {path}: {answer}");
        if status == StatusCode::OK && method != Method::DELETE {
            let owners: Vec<&Value> = match answer.as_array() {
                Some(tasks) => tasks.iter().map(|task| &task["user_id"]).collect(),
                None => vec![&answer["user_id"]],
            };
            assert!(!owners.is_empty(), "{label}: {method} {path}: no task");
            assert!(
                owners.iter().all(|owner| **owner == json!(who.user_id)),
                "{label}: {answer}"
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn better_auth_jwts_and_session_tokens_drive_every_task_route() {
    let (app, better_auth) = api_and_better_auth(&[], &[]).await;
    let ada = better_auth.sign_up("Ada Lovelace", "ada@example.com").await;
    let encoded = ada.encoded_session_token();
    for (label, credential) in [
        ("JWT", ada.jwt.as_str()),
        ("signed session token", ada.session_token.as_str()),
        ("percent-encoded session token", encoded.as_str()),
        ("bare session token", ada.bare_session_token()),
    ] {
        drive_every_task_route(&app, &as_session(&ada, credential), label).await;
        let (status, body) = app.get_session(credential).await;
        assert_eq!(status, StatusCode::OK, "{label}: {body}");
        assert_eq!(
            body["user"],
            json!({ "id": ada.id, "email": ada.email, "name": ada.name, "email_verified": false }),
            "{label}"
        );
        assert!(
            body["expires_at"]
                .as_str()
                .is_some_and(|at| at.ends_with('Z')),
            "{body}"
        );
    }

    // One owner for both kinds of credential, recorded by issuer and subject, never by email.
    let both = app
        .create_task(&as_session(&ada, &ada.jwt), "Seen by both", None)
        .await;
    let listed = app
        .list_tasks(&as_session(&ada, &ada.session_token), "")
        .await
        .1;
    assert_eq!(listed, json!([both]));
    let identities = app
        .db
        .query("SELECT issuer, subject FROM identities", &[])
        .await
        .expect("identities");
    let recorded: Vec<(String, String)> = identities
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(recorded, [(better_auth.address.clone(), ada.id.clone())]);
    let emails: i64 = app
        .db
        .query_one("SELECT count(email) FROM users", &[])
        .await
        .expect("users")
        .get(0);
    assert_eq!(emails, 0, "a Better Auth user's row holds no email of ours");

    // Our own accounts and tokens work beside Better Auth's, even with the same email.
    let ours = app.signup("ada@example.com").await;
    drive_every_task_route(&app, &ours, "our HS256 token").await;
    assert_eq!(
        app.list_tasks(&ours, "").await.1,
        json!([]),
        "separate accounts"
    );
    better_auth.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn every_jwt_algorithm_of_the_plugin_verifies_with_its_own_key() {
    for algorithm in ["ES256", "RS256", "PS256"] {
        let (app, better_auth) = api_and_better_auth(&[("JWT_ALG", algorithm)], &[]).await;
        let ada = better_auth.sign_up("Ada", "ada@example.com").await;
        let header: Value = jsonwebtoken::decode_header(&ada.jwt)
            .map(|header| json!({ "alg": format!("{:?}", header.alg) }))
            .expect("header");
        assert_eq!(header["alg"], algorithm);
        drive_every_task_route(&app, &as_session(&ada, &ada.jwt), algorithm).await;
        better_auth.stop().await;
    }
}

/// `token` with one character of its part `part` (0 header, 1 payload, 2 signature) changed.
fn tampered(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let target = &mut parts[part];
    let middle = target.len() / 2;
    let replacement = if &target[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    target.replace_range(middle..=middle, replacement);
    parts.join(".")
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn forged_foreign_ended_and_misused_better_auth_credentials_are_refused() {
    let (app, better_auth) = api_and_better_auth(&[], &[]).await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;
    let grace = better_auth.sign_up("Grace", "grace@example.com").await;
    let ada_task = app
        .create_task(&as_session(&ada, &ada.jwt), "Ada's", None)
        .await;
    let before = app.snapshot_every_table().await;
    let invalid = unauthorized("Invalid or malformed token");

    // A payload naming somebody else, with Ada's signature.
    let claims = ada.jwt.split('.').nth(1).expect("payload");
    let payload: Value = serde_json::from_slice(&base64_url_decode(claims)).expect("claims");
    let mut forged_claims = payload.clone();
    forged_claims["sub"] = json!(grace.id);
    let mut parts: Vec<String> = ada.jwt.split('.').map(str::to_owned).collect();
    parts[1] = base64_url_encode(forged_claims.to_string().as_bytes());
    let forged = parts.join(".");
    let signed = &ada.session_token;
    let (token, signature) = signed.split_once('.').expect("signed session token");
    let mut wrong_signature = signature.to_owned();
    let flip = if wrong_signature.starts_with('A') {
        "B"
    } else {
        "A"
    };
    wrong_signature.replace_range(0..1, flip);
    let other_token = format!("{}.{signature}", "Z".repeat(token.len()));
    for (label, credential) in [
        ("tampered payload", forged),
        ("JWT signature changed", tampered(&ada.jwt, 2)),
        ("JWT header changed", tampered(&ada.jwt, 0)),
        (
            "session token signature changed",
            format!("{token}.{wrong_signature}"),
        ),
        ("another token under Ada's signature", other_token),
        ("unknown session token", "A".repeat(32)),
    ] {
        for (method, path) in [
            (Method::GET, "/api/auth/session".to_owned()),
            (Method::GET, tasks_path(&ada.id)),
            (Method::DELETE, task_path(&ada.id, &ada_task["id"])),
        ] {
            let answer = app
                .send(app.with_token(method.clone(), &path, &credential))
                .await;
            assert_eq!(answer, invalid, "{label}: {method} {path}");
        }
    }

    // Somebody else's path: 403 for both kinds, decided before anything is written.
    for credential in [&ada.jwt, &ada.session_token] {
        for (method, path, body) in [
            (Method::GET, tasks_path(&grace.id), None),
            (
                Method::POST,
                tasks_path(&grace.id),
                Some(json!({ "title": "intrusion" })),
            ),
            (
                Method::POST,
                tasks_path(&grace.id),
                Some(json!({ "title": "" })),
            ),
            (Method::DELETE, task_path(&grace.id, &ada_task["id"]), None),
            (Method::DELETE, task_path(&grace.id, "not-a-number"), None),
        ] {
            let mut request = app.with_token(method.clone(), &path, credential);
            if let Some(body) = body {
                request = request.json(&body);
            }
            assert_eq!(
                app.send(request).await,
                (
                    StatusCode::FORBIDDEN,
                    error("Access denied to this resource")
                ),
                "{method} {path}"
            );
        }
    }
    assert_eq!(
        app.snapshot_every_table().await,
        before,
        "nothing was written"
    );

    // A session signed out on Better Auth ends at once; its JWT lives to its `exp`.
    better_auth.sign_out(&grace.session_token).await;
    for credential in [grace.session_token.as_str(), grace.bare_session_token()] {
        assert_eq!(app.get_session(credential).await, invalid);
        let request = app
            .with_token(Method::POST, &tasks_path(&grace.id), credential)
            .json(&json!({ "title": "after sign-out" }));
        assert_eq!(app.send(request).await, invalid);
    }
    assert_eq!(app.get_session(&grace.jwt).await.0, StatusCode::OK);
    better_auth.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn a_jwt_of_another_better_auth_instance_or_past_its_exp_is_refused() {
    let (app, better_auth) = api_and_better_auth(&[], &[]).await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;
    assert_eq!(app.get_session(&ada.jwt).await.0, StatusCode::OK);
    let issuer = better_auth.address.clone();

    // Another Better Auth with the same URL (so the same issuer and audience) but its own
    // database, hence its own keys. A server that never read the keys reads them for it,
    // once, and still refuses it.
    let other_database =
        helpers::fresh_database_on(&helpers::private_cluster().cluster.url("postgres")).await;
    let impostor =
        BetterAuthServer::start(&other_database, SECRET, Some(&better_auth.address), &[]).await;
    let eve = impostor.sign_up("Eve", "eve@example.com").await;
    let fresh = app
        .attach(&[("BETTER_AUTH_URL", better_auth.address.as_str())])
        .await;
    let reads = fresh.state.db.round_trips();
    assert_eq!(
        fresh.get_session(&eve.jwt).await,
        unauthorized("Invalid or malformed token")
    );
    assert_eq!(
        fresh.state.db.round_trips() - reads,
        1,
        "one read of the keys"
    );
    let reads = fresh.state.db.round_trips();
    assert_eq!(
        fresh.get_session(&eve.jwt).await,
        unauthorized("Invalid or malformed token")
    );
    assert_eq!(
        fresh.state.db.round_trips(),
        reads,
        "not again within the minute"
    );
    impostor.stop().await;

    // The same Better Auth (its database, keys and issuer) issuing JWTs whose `exp` is a
    // minute before their `iat`: correctly signed, and past their expiry.
    better_auth.stop().await;
    let expiring = BetterAuthServer::start(
        &app.database_url,
        SECRET,
        Some(&issuer),
        &[("JWT_EXPIRATION", "-1m")],
    )
    .await;
    let grace = expiring.sign_up("Grace", "grace@example.com").await;
    assert_eq!(
        app.get_session(&grace.jwt).await,
        unauthorized("Token expired, please log in again")
    );
    assert_eq!(
        app.get_session(&grace.session_token).await.0,
        StatusCode::OK,
        "its session token, from the same sign-up, is live"
    );
    expiring.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn session_cache_jwts_are_not_credentials() {
    let (app, better_auth) = api_and_better_auth(&[("COOKIE_CACHE", "jwt")], &[]).await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/auth/sign-in/email", better_auth.address))
        .json(&json!({ "email": "ada@example.com", "password": BA_PASSWORD }))
        .send()
        .await
        .expect("sign-in");
    let cache = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| cookie.strip_prefix("better-auth.session_data="))
        .map(|cookie| cookie.split(';').next().unwrap_or_default().to_owned())
        .expect("a session-cache cookie");
    let header = jsonwebtoken::decode_header(&cache).expect("a JWT");
    assert_eq!(header.typ.as_deref(), Some("better-auth.session-cache+jwt"));
    assert_eq!(
        app.get_session(&cache).await,
        unauthorized("Invalid or malformed token")
    );
    assert_eq!(
        app.send(app.with_token(Method::GET, &tasks_path(&ada.id), &cache))
            .await,
        unauthorized("Invalid or malformed token")
    );
    assert_eq!(
        app.get_session(&ada.jwt).await.0,
        StatusCode::OK,
        "the same keys' JWT is fine"
    );
    better_auth.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn keys_from_a_jwks_url_serve_a_better_auth_on_another_database() {
    // Better Auth on a database of its own; the API on another, reading its JWKS document.
    let auth_database =
        helpers::fresh_database_on(&helpers::private_cluster().cluster.url("postgres")).await;
    let better_auth = BetterAuthServer::start(&auth_database, SECRET, None, &[]).await;
    let base_url = better_auth.address.clone();
    let jwks = format!("{base_url}/api/auth/jwks");
    let app = TestApp::spawn_with(&[
        ("BETTER_AUTH_URL", base_url.as_str()),
        ("BETTER_AUTH_JWKS_URL", jwks.as_str()),
    ])
    .await;
    let ada = better_auth.sign_up("Ada Lovelace", "ada@example.com").await;
    read_keys_as_a_cold_start_does(&app).await;
    drive_every_task_route(&app, &as_session(&ada, &ada.jwt), "JWT, keys from the URL").await;
    let (status, body) = app.get_session(&ada.jwt).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["user"],
        json!({ "id": ada.id, "email": ada.email, "name": ada.name, "email_verified": false }),
        "from the JWT's claims"
    );
    // Its session rows are in another database: its session tokens cannot be checked here.
    assert_eq!(
        app.get_session(&ada.session_token).await,
        unauthorized("Invalid or malformed token")
    );
    better_auth.stop().await;
}

/// A key Better Auth adds later is picked up on its first use, once the last read of the
/// keys is a minute old.
#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn a_new_better_auth_key_is_picked_up_on_its_first_use() {
    let (app, better_auth) = api_and_better_auth(&[], &[]).await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;
    assert_eq!(app.get_session(&ada.jwt).await.0, StatusCode::OK);
    let base_url = better_auth.address.clone();
    better_auth.stop().await;
    // Restarted with another algorithm (the same issuer), the fixture adds a key of it and
    // signs with it.
    let rotated = BetterAuthServer::start(
        &app.database_url,
        SECRET,
        Some(&base_url),
        &[("JWT_ALG", "ES256")],
    )
    .await;
    let session = rotated.sign_up("Grace", "grace@example.com").await;
    assert_ne!(
        jsonwebtoken::decode_header(&session.jwt)
            .expect("header")
            .kid,
        jsonwebtoken::decode_header(&ada.jwt).expect("header").kid
    );
    // A minute on: the last read of the keys made older, as time would.
    let keys = app.state.better_auth.as_ref().expect("BETTER_AUTH_URL");
    keys.age_keys(shared::key_store::RELOAD_INTERVAL + Duration::from_secs(1))
        .await;
    let reads = app.state.db.round_trips();
    assert_eq!(app.get_session(&session.jwt).await.0, StatusCode::OK);
    assert_eq!(
        app.state.db.round_trips() - reads,
        2,
        "one read of the keys, one statement"
    );
    assert_eq!(
        app.get_session(&ada.jwt).await.0,
        StatusCode::OK,
        "the old key still works"
    );
    rotated.stop().await;
}

fn base64_url_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url")
}

fn base64_url_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn account_routes_leave_better_auth_accounts_to_better_auth() {
    let (app, better_auth) = api_and_better_auth(&[], &[]).await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;
    let before = app.snapshot_every_table().await;
    let managed = (
        StatusCode::FORBIDDEN,
        error("This account is managed by Better Auth"),
    );
    for credential in [&ada.jwt, &ada.session_token] {
        for (method, path, body) in [
            (
                Method::POST,
                "/api/auth/change-password",
                Some(
                    json!({ "current_password": BA_PASSWORD, "new_password": "a new passphrase" }),
                ),
            ),
            (
                Method::PATCH,
                "/api/auth/user",
                Some(json!({ "name": "Eve" })),
            ),
            (
                Method::DELETE,
                "/api/auth/user",
                Some(json!({ "password": BA_PASSWORD })),
            ),
            (Method::GET, "/api/auth/sessions", None),
            (
                Method::DELETE,
                "/api/auth/sessions/6f1c0a5e-3b7d-4c1e-9a2b-1d2e3f4a5b6c",
                None,
            ),
        ] {
            let mut request = app.with_token(method.clone(), path, credential);
            if let Some(body) = body {
                request = request.json(&body);
            }
            assert_eq!(app.send(request).await, managed, "{method} {path}");
        }
    }
    assert_eq!(app.snapshot_every_table().await, before, "nothing changed");
    assert_eq!(app.get_session(&ada.jwt).await.0, StatusCode::OK);
    better_auth.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn a_better_auth_schema_naming_what_is_not_there_is_one_log_line_and_503s_never_a_crash() {
    let captured = captured_log();
    // The fixture's own schema, with its session table and the user's email misnamed.
    let mut wrong: Value =
        serde_json::from_str(better_auth::api_schema().unwrap_or("{}")).expect("JSON");
    wrong["session"]["modelName"] = json!("no_such_sessions");
    wrong["user"]["fields"]["email"] = json!("no_such_email");
    let user_table = match better_auth::schema_variant() {
        Some(_) => "public.users",
        None => "public.user",
    };
    let wrong = wrong.to_string();
    let (app, better_auth) = api_and_better_auth(&[], &[("BETTER_AUTH_SCHEMA", &wrong)]).await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;

    let lines: Vec<String> = captured
        .text()
        .lines()
        .filter(|line| line.contains("BETTER_AUTH_SCHEMA"))
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line: Value = serde_json::from_str(&lines[0]).expect("a JSON line");
    assert_eq!(line["level"], "ERROR");
    let message = line["message"].as_str().expect("message");
    assert!(
        message.contains("table public.no_such_sessions")
            && message.contains(&format!("column no_such_email of {user_table}")),
        "{message}"
    );

    // What needs the missing table or column answers 503; the rest works.
    let unavailable = (
        StatusCode::SERVICE_UNAVAILABLE,
        error("Service temporarily unavailable, please try again"),
    );
    assert_eq!(app.get_session(&ada.session_token).await, unavailable);
    let request = app.with_token(Method::GET, &tasks_path(&ada.id), &ada.session_token);
    assert_eq!(app.send(request).await, unavailable);
    assert_eq!(
        app.get_session(&ada.jwt).await,
        unavailable,
        "reads the email"
    );
    let request = app.with_token(Method::GET, &tasks_path(&ada.id), &ada.jwt);
    assert_eq!(app.send(request).await, (StatusCode::OK, json!([])));
    better_auth.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn with_require_signature_a_bare_session_token_is_refused() {
    let (app, better_auth) =
        api_and_better_auth(&[], &[("BETTER_AUTH_REQUIRE_SIGNATURE", "true")]).await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;
    assert_eq!(
        app.get_session(ada.bare_session_token()).await,
        unauthorized("Invalid or malformed token")
    );
    assert_eq!(app.get_session(&ada.session_token).await.0, StatusCode::OK);
    assert_eq!(
        app.get_session(&ada.encoded_session_token()).await.0,
        StatusCode::OK
    );
    better_auth.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn a_key_removed_from_jwks_stops_verifying_once_the_keys_are_five_minutes_old() {
    let (app, better_auth) = api_and_better_auth(&[], &[]).await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;
    assert_eq!(app.get_session(&ada.jwt).await.0, StatusCode::OK);
    let jwks = match better_auth::schema_variant() {
        Some(_) => "public.auth_jwks",
        None => "public.jwks",
    };
    app.db
        .execute(&format!("DELETE FROM {jwks}"), &[])
        .await
        .expect("the key removed");
    let keys = app.state.better_auth.as_ref().expect("BETTER_AUTH_URL");
    // Four minutes on, the keys read at the cold start still verify it.
    keys.age_keys(Duration::from_secs(4 * 60)).await;
    assert_eq!(app.get_session(&ada.jwt).await.0, StatusCode::OK);
    // Five: they are read again, and the removed key is gone.
    keys.age_keys(Duration::from_secs(60)).await;
    assert_eq!(
        app.get_session(&ada.jwt).await,
        unauthorized("Invalid or malformed token")
    );
    better_auth.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn a_session_token_better_auth_signed_with_a_listed_older_secret_is_accepted() {
    // The API rotated to a new secret; Better Auth still signs with the old one, as it
    // does until its own rotation rolls out (and its cookies keep the old signature).
    const NEW_SECRET: &str = "the-next-secret-9876543210-zyxwvutsrqpo";
    let rotated = format!("2:{NEW_SECRET},1:{SECRET}");
    let (app, better_auth) = api_and_better_auth(
        &[],
        &[
            ("BETTER_AUTH_SECRETS", &rotated),
            ("BETTER_AUTH_REQUIRE_SIGNATURE", "true"),
        ],
    )
    .await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;
    let (status, body) = app.get_session(&ada.session_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(
        body["user"]["email_verified"], false,
        "Better Auth's own column"
    );

    let only_new = format!("2:{NEW_SECRET}");
    let mut vars = vec![
        ("BETTER_AUTH_URL", better_auth.address.as_str()),
        ("BETTER_AUTH_SECRETS", only_new.as_str()),
        ("BETTER_AUTH_REQUIRE_SIGNATURE", "true"),
    ];
    vars.extend(better_auth::api_schema().map(|schema| ("BETTER_AUTH_SCHEMA", schema)));
    let dropped = app.attach(&vars).await;
    assert_eq!(
        dropped.get_session(&ada.session_token).await,
        unauthorized("Invalid or malformed token")
    );
    better_auth.stop().await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm ci in dev-server/tests/better-auth; CI runs it with --ignored"]
async fn better_auth_credentials_are_never_logged() {
    let captured = captured_log();
    let (app, better_auth) = api_and_better_auth(&[], &[]).await;
    let ada = better_auth.sign_up("Ada", "ada@example.com").await;
    let handled_lines = |log: &str| {
        log.lines()
            .filter(|line| line.contains("\"request handled\""))
            .count()
    };
    let handled_before = handled_lines(&captured.text());
    let encoded = ada.encoded_session_token();
    let credentials = [
        ("JWT", ada.jwt.as_str()),
        ("session token", ada.session_token.as_str()),
        ("bare session token", ada.bare_session_token()),
        ("percent-encoded session token", encoded.as_str()),
    ];
    for (what, credential) in credentials {
        assert_eq!(
            app.get_session(credential).await.0,
            StatusCode::OK,
            "{what}"
        );
        let request = app
            .with_token(Method::POST, &tasks_path(&ada.id), credential)
            .json(&json!({ "title": format!("with the {what}") }));
        assert_eq!(app.send(request).await.0, StatusCode::CREATED, "{what}");
    }
    // Refused ones too: the session ended on Better Auth, and a JWT tampered with.
    better_auth.sign_out(&ada.session_token).await;
    let tampered = format!("{}x", ada.jwt);
    for credential in [ada.session_token.as_str(), tampered.as_str()] {
        assert_eq!(
            app.get_session(credential).await,
            unauthorized("Invalid or malformed token")
        );
    }
    better_auth.stop().await;

    // The capture is live: the ten requests above are among the lines handled since.
    let log = captured.text();
    let handled = handled_lines(&log) - handled_before;
    assert!(
        handled >= 10,
        "the requests were logged: {handled} lines\n{log}"
    );
    let signature = ada.jwt.rsplit('.').next().expect("a signature");
    for (what, secret) in credentials.into_iter().chain([
        ("JWT signature", signature),
        ("tampered JWT", tampered.as_str()),
    ]) {
        assert!(!log.contains(secret), "the log holds the {what}");
    }
}
