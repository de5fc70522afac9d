//! Rotating the signing secret with `BETTER_AUTH_SECRETS`: servers on one database, each
//! configured as a deployment is at one step of the rotation, and the tokens of every step
//! checked against the next.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, SECRET, TestApp};

const NEW_SECRET: &str = "the-next-secret-9876543210-zyxwvutsrqpo";

fn kid_of(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token)
        .expect("a JWT header")
        .kid
}

#[tokio::test]
async fn rotating_signs_nobody_out_and_dropping_a_version_ends_its_tokens() {
    // Before: one plain secret, tokens without `kid`.
    let before = TestApp::spawn().await;
    let plain = before.signup("ada@example.com").await;
    assert_eq!(kid_of(&plain.token), None);

    // Listed as version 1: tokens carry `kid: "1"`, and the plain ones still verify.
    let listed = before
        .attach(&[("BETTER_AUTH_SECRETS", &format!("1:{SECRET}"))])
        .await;
    let version_one = listed.signin("ada@example.com").await;
    assert_eq!(kid_of(&version_one.token).as_deref(), Some("1"));
    assert_eq!(listed.get_session(&plain.token).await.0, StatusCode::OK);

    // Rotated: the new secret first, the old one kept. Nobody is signed out.
    let rotated = before
        .attach(&[("BETTER_AUTH_SECRETS", &format!("2:{NEW_SECRET},1:{SECRET}"))])
        .await;
    let version_two = rotated.signin("ada@example.com").await;
    assert_eq!(kid_of(&version_two.token).as_deref(), Some("2"));
    for (what, token) in [
        ("plain", &plain.token),
        ("version 1", &version_one.token),
        ("version 2", &version_two.token),
    ] {
        assert_eq!(
            rotated.get_session(token).await.0,
            StatusCode::OK,
            "{what} after rotating"
        );
    }
    // The old servers do not know version 2 yet (a deployment rolls out at once).
    assert_eq!(
        before.get_session(&version_two.token).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Version 1 dropped: its tokens, and the plain ones it signed, get 401.
    let dropped = before
        .attach(&[("BETTER_AUTH_SECRETS", &format!("2:{NEW_SECRET}"))])
        .await;
    assert_eq!(
        dropped.get_session(&version_two.token).await.0,
        StatusCode::OK
    );
    for (what, token) in [("plain", &plain.token), ("version 1", &version_one.token)] {
        let (status, body) = dropped.get_session(token).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("Invalid or malformed token")),
            "{what} after dropping version 1"
        );
    }
    assert_eq!(
        dropped.signin_with("ada@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_list_that_is_not_one_refuses_to_start_naming_the_variable() {
    let err = shared::config::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some("postgres://u@localhost/db".to_owned()),
        "BETTER_AUTH_SECRETS" => Some(format!("2:short,1:{SECRET}")),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BETTER_AUTH_SECRETS is invalid: the secret of version 2 must be at least 32 \
         characters; generate one with `openssl rand -base64 32`"
    );
}
