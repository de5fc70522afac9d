//! The logs of a signup, signins (good, bad and throttled), a session check, a refused
//! request for somebody else's tasks and sign-outs, captured in the Lambda (JSON) format:
//! one JSON object per line, each request logged with its function and route, one audit
//! event per security-relevant outcome, and no email, password, hash, token or secret
//! anywhere; then every other flow that handles a secret (the verification, reset and
//! change-of-email links, device tokens, the operator's proxy secret, a password change and
//! an account's deletion), and none of those secrets in any line either. (One test: the
//! log is captured once per process. Better Auth's credentials are looked for in the logs
//! of tests/better_auth.rs, which runs the real Better Auth.)

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use dev_server::fixtures::CapturedLog;
use helpers::{NEW_PASSWORD, PASSWORD, SECRET, TestApp, session_of};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// What the operator's proxy sends to be trusted with its client's address.
const PROXY_SECRET: &str = "the-operator-proxy-secret-0123456789";
/// The client's address, as that proxy names it.
const PROXIED_ADDRESS: &str = "203.0.113.9";

#[tokio::test]
async fn logs_are_json_lines_with_audit_events_and_never_hold_credentials() {
    let captured = CapturedLog::start();

    let app = TestApp::spawn_with(&[
        ("THROTTLE_SIGNIN_EMAIL", "1"),
        ("TRUSTED_PROXY_SECRET", PROXY_SECRET),
    ])
    .await;
    let ada = app.signup("ada@example.com").await;
    let (status, body) = app.signin_with("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let second_token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.signin_with("ada@example.com", "wrong-password-123")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.signin_with("ada@example.com", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.get_session(&ada.token).await.0, StatusCode::OK);
    let grace = app.signup("grace@example.com").await;
    let request = app.with_token(Method::GET, &grace.tasks_path(), &ada.token);
    assert_eq!(app.send(request).await.0, StatusCode::FORBIDDEN);
    let request = app
        .request(Method::POST, "/api/auth/signout")
        .bearer_auth(&second_token);
    assert_eq!(app.send(request).await.0, StatusCode::OK);
    let request = app
        .request(Method::POST, "/api/auth/signout?scope=global")
        .bearer_auth(&grace.token);
    assert_eq!(app.send(request).await.0, StatusCode::OK);
    let hash: String = app
        .db
        .query_one(
            "SELECT password_hash FROM users WHERE email = 'ada@example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    let log = captured.text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))
        })
        .collect();
    let handled: Vec<_> = lines
        .iter()
        .filter(|line| line["message"] == "request handled")
        .collect();
    assert_eq!(handled.len(), 9, "{log}");
    assert_eq!(handled[0]["span"]["function"], "signup");
    assert_eq!(handled[0]["span"]["route"], "/api/auth/signup");
    assert_eq!(handled[0]["status"], 201);

    let source = app.state.digests.audit_source("127.0.0.1");
    let audit: Vec<(String, String, String)> = lines
        .iter()
        .filter(|line| line["target"] == "audit")
        .map(|line| {
            assert_eq!(
                line["source"],
                source.as_str(),
                "the address's keyed digest: {line}"
            );
            assert!(
                line["span"]["function"].is_string(),
                "inside the request: {line}"
            );
            let text = |key: &str| line[key].as_str().unwrap_or("-").to_owned();
            (
                text("event"),
                text("user_id"),
                line["span"]["function"].to_string(),
            )
        })
        .collect();
    let (ada_id, grace_id) = (ada.user_id.as_str(), grace.user_id.as_str());
    let expected = [
        ("signed_up", ada_id, "signup"),
        ("signin_succeeded", ada_id, "signin"),
        ("signin_failed", ada_id, "signin"),
        ("throttled", "-", "signin"),
        ("signed_up", grace_id, "signup"),
        ("access_denied", ada_id, "tasks-list"),
        ("signed_out", ada_id, "signout"),
        ("signed_out_everywhere", grace_id, "signout"),
    ]
    .map(|(event, user, function)| (event.to_owned(), user.to_owned(), format!("\"{function}\"")));
    assert_eq!(audit, expected, "{log}");

    let hash_body = hash.rsplit('$').next().unwrap();
    for (what, secret) in [
        ("email", "ada@example.com"),
        ("address", "127.0.0.1"),
        ("password", PASSWORD),
        ("wrong password", "wrong-password-123"),
        ("hash", hash_body),
        ("token", ada.token.as_str()),
        ("token signature", ada.token.rsplit('.').next().unwrap()),
        ("second token", second_token.as_str()),
        ("signing secret", SECRET),
    ] {
        assert!(!log.contains(secret), "the log holds the {what}");
    }

    let secrets = every_other_flow_that_handles_a_secret(&app).await;
    let log = captured.text();
    let handled: std::collections::BTreeSet<String> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == "request handled")
        .filter_map(|line| line["span"]["function"].as_str().map(str::to_owned))
        .collect();
    for function in [
        "verify-email",
        "forgot-password",
        "reset-password",
        "change-email",
        "change-password",
        "user-delete",
    ] {
        assert!(handled.contains(function), "{function} was logged: {log}");
    }
    let proxied = app.state.digests.audit_source(PROXIED_ADDRESS);
    assert!(
        log.contains(proxied.as_str()),
        "the proxy was trusted with its client's address: {log}"
    );
    for (what, secret) in secrets {
        assert!(!secret.is_empty(), "the {what} is known");
        assert!(!log.contains(&secret), "the log holds the {what}");
    }

    request_ids_name_every_line_of_their_request(&app, &captured).await;
}

/// Every request gets an id, the client's own when well-formed, echoed in `x-request-id`
/// and carried by every line logged for it, its audit events included; requests no
/// function serves (404, 405) are logged too.
async fn request_ids_name_every_line_of_their_request(app: &TestApp, captured: &CapturedLog) {
    let lines_of = |request_id: &str| -> Vec<serde_json::Value> {
        captured
            .text()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["span"]["request_id"] == request_id)
            .collect()
    };
    let echoed = |headers: &reqwest::header::HeaderMap| {
        headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .expect("an x-request-id on every answer")
            .to_owned()
    };
    // A failed signin: its own line and its audit event, both under the client's id.
    let request = app
        .request(Method::POST, "/api/auth/signin")
        .header("x-request-id", "trace-0123.abc:9")
        .json(&json!({ "email": "nobody@example.com", "password": "a wrong one" }));
    let (status, headers, _) = app.send_with_headers(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(echoed(&headers), "trace-0123.abc:9");
    let lines = lines_of("trace-0123.abc:9");
    let messages: Vec<_> = lines
        .iter()
        .map(|line| {
            (
                line["target"].as_str(),
                line["message"].as_str(),
                line["event"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        messages,
        [
            (Some("audit"), Some("audit"), Some("signin_failed")),
            (Some("shared::http"), Some("request handled"), None)
        ],
        "{lines:?}"
    );
    // A malformed id (a space, a slash or a semicolon, too long) is replaced by a new one.
    for malformed in ["two words", "a/b;c", &"x".repeat(129)] {
        let request = app
            .request(Method::GET, "/api/health")
            .header("x-request-id", malformed);
        let (status, headers, _) = app.send_with_headers(request).await;
        assert_eq!(status, StatusCode::OK);
        let given = echoed(&headers);
        assert_ne!(given, malformed);
        assert!(shared::uuid::Uuid::parse_str(&given).is_ok(), "{given}");
        assert_eq!(lines_of(&given).len(), 1, "its one line");
    }
    // What no function serves is named and logged as well.
    for (method, path, status) in [
        (Method::GET, "/api/nowhere", StatusCode::NOT_FOUND),
        (
            Method::DELETE,
            "/api/health",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let (got, headers, _) = app
            .send_with_headers(app.request(method.clone(), path))
            .await;
        assert_eq!(got, status);
        let lines = lines_of(&echoed(&headers));
        assert_eq!(lines.len(), 1, "{method} {path}: {lines:?}");
        assert_eq!(lines[0]["message"], "request handled");
        assert_eq!(lines[0]["status"], status.as_u16());
        assert_eq!(lines[0]["span"]["route"], path);
    }
}

/// Carol's account, through every flow that handles a secret; what a log must never hold.
async fn every_other_flow_that_handles_a_secret(app: &TestApp) -> Vec<(&'static str, String)> {
    const CAROL: &str = "carol@example.com";
    const CAROLINE: &str = "caroline@example.com";
    const THIRD_PASSWORD: &str = "a third passphrase for carol";
    let ok = |(status, body): (StatusCode, serde_json::Value)| {
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };

    let (status, body) = app.signup_with("Carol", CAROL, PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let device = body["device_token"]
        .as_str()
        .expect("a device token")
        .to_owned();
    let verification = app
        .verification_tokens_mailed_to(CAROL)
        .pop()
        .expect("a link");
    let verify = async |token: &str| {
        let body = json!({ "token": token });
        app.post_json("/api/auth/verify-email", &body).await
    };
    ok(verify(&verification).await);

    // A known device, in the body and in the cookie.
    let body = json!({ "email": CAROL, "password": PASSWORD, "device_token": device });
    let request = app
        .request(Method::POST, "/api/auth/signin")
        .header("cookie", format!("todo_device={device}"))
        .json(&body);
    let signed_in = session_of(&ok(app.send(request).await));

    // Through the operator's proxy, which names the client.
    let body = json!({ "email": CAROL, "password": "a wrong password for carol" });
    let request = app
        .request(Method::POST, "/api/auth/signin")
        .header("x-proxy-secret", PROXY_SECRET)
        .header("x-client-ip", PROXIED_ADDRESS)
        .json(&body);
    assert_eq!(app.send(request).await.0, StatusCode::BAD_REQUEST);

    ok(app.forgot_password(CAROL).await);
    let reset = app
        .reset_tokens_mailed_to(CAROL)
        .pop()
        .expect("a reset link");
    ok(app.reset_password(&reset, NEW_PASSWORD).await);
    let (status, body) = app.signin_with(CAROL, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let carol = session_of(&body);

    let body = json!({ "new_email": CAROLINE, "password": NEW_PASSWORD });
    let request = app
        .with_token(Method::POST, "/api/auth/change-email", &carol.token)
        .json(&body);
    ok(app.send(request).await);
    let change = app
        .verification_tokens_mailed_to(CAROLINE)
        .pop()
        .expect("a link");
    ok(verify(&change).await);

    let body = json!({ "current_password": NEW_PASSWORD, "new_password": THIRD_PASSWORD });
    let request = app
        .with_token(Method::POST, "/api/auth/change-password", &carol.token)
        .json(&body);
    ok(app.send(request).await);
    let request = app
        .with_token(Method::DELETE, "/api/auth/user", &carol.token)
        .json(&json!({ "password": THIRD_PASSWORD }));
    ok(app.send(request).await);

    vec![
        ("verification token", verification),
        ("device token", device),
        ("reset token", reset),
        ("change-of-email token", change),
        ("proxy secret", PROXY_SECRET.to_owned()),
        ("proxied address", PROXIED_ADDRESS.to_owned()),
        ("email", CAROL.to_owned()),
        ("new email", CAROLINE.to_owned()),
        ("reset password", NEW_PASSWORD.to_owned()),
        ("changed password", THIRD_PASSWORD.to_owned()),
        ("token of the device signed in", signed_in.token),
        ("token after the reset", carol.token),
    ]
}
