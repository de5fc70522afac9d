//! The logs of a signup, signins (good, bad and throttled), a session check, a refused
//! request for somebody else's tasks and sign-outs, captured in the Lambda (JSON) format:
//! one JSON object per line, each request logged with its function and route, one audit
//! event per security-relevant outcome, and no email, password, hash, token or secret
//! anywhere.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use dev_server::fixtures::CapturedLog;
use helpers::{PASSWORD, SECRET, TestApp};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn logs_are_json_lines_with_audit_events_and_never_hold_credentials() {
    let captured = CapturedLog::start();

    let app = TestApp::spawn_with(&[("THROTTLE_SIGNIN_EMAIL", "1")]).await;
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
}
