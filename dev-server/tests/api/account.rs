//! The account lifecycle: change the password, rename, delete the account, list and end
//! sessions per device, and the mailed password reset (through the local server's mail
//! folder; `tests/ses.rs` sends it through Amazon SES's emulator). Every message to the
//! letter, every refusal changing nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{NEW_PASSWORD, PASSWORD, RESET_SENT, Session, TestApp, error};

async fn change_password(app: &TestApp, who: &Session, body: Value) -> (StatusCode, Value) {
    let request = app.with_token(Method::POST, "/api/auth/change-password", &who.token);
    app.send(request.json(&body)).await
}

fn message(text: &str) -> Value {
    json!({ "message": text })
}

#[tokio::test]
async fn change_password_checks_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let laptop = app.signup("ada@example.com").await;
    let phone = app.signin("ada@example.com").await;
    let grace = app.signup("grace@example.com").await;

    for (body, expected) in [
        (
            json!({ "new_password": NEW_PASSWORD }),
            "Current password is required",
        ),
        (
            json!({ "current_password": "", "new_password": NEW_PASSWORD }),
            "Current password is required",
        ),
        (
            json!({ "current_password": PASSWORD }),
            "New password is required",
        ),
        (
            json!({ "current_password": PASSWORD, "new_password": "short" }),
            "Password must be at least 8 characters",
        ),
        (
            json!({ "current_password": PASSWORD, "new_password": "x".repeat(129) }),
            "Password must be 128 characters or less",
        ),
        (
            json!({ "current_password": "not my password", "new_password": NEW_PASSWORD }),
            "Current password is incorrect",
        ),
    ] {
        assert_eq!(
            change_password(&app, &laptop, body).await,
            (StatusCode::BAD_REQUEST, error(expected))
        );
    }
    assert_eq!(
        app.get_session(&phone.token).await.0,
        StatusCode::OK,
        "nothing changed"
    );

    // A wrong and a right password cost one argon2id verification each; the right one then
    // hashes the new password.
    let runs = app.state.passwords.runs();
    let body = json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD });
    assert_eq!(
        change_password(&app, &laptop, body).await,
        (StatusCode::OK, message("Password changed"))
    );
    assert_eq!(app.state.passwords.runs() - runs, 2);
    assert_eq!(
        app.get_session(&laptop.token).await.0,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        app.get_session(&phone.token).await.0,
        StatusCode::UNAUTHORIZED,
        "the others end"
    );
    assert_eq!(
        app.get_session(&grace.token).await.0,
        StatusCode::OK,
        "nobody else's"
    );
    assert_eq!(
        app.signin_with("ada@example.com", PASSWORD).await,
        (StatusCode::BAD_REQUEST, error("Invalid email or password"))
    );
    assert_eq!(
        app.signin_with("ada@example.com", NEW_PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_confirmations_count_against_the_signin_throttle() {
    let app = TestApp::spawn_with(&[("THROTTLE_SIGNIN_EMAIL", "2")]).await;
    let ada = app.signup("ada@example.com").await;
    let wrong = json!({ "current_password": "wrong guess 1", "new_password": NEW_PASSWORD });
    for _ in 0..2 {
        assert_eq!(
            change_password(&app, &ada, wrong.clone()).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    let runs = app.state.passwords.runs();
    let right = json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD });
    let (status, body) = change_password(&app, &ada, right).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::TOO_MANY_REQUESTS,
            error("Too many attempts, please try again later")
        )
    );
    assert_eq!(
        app.state.passwords.runs(),
        runs,
        "a refused confirmation verifies nothing"
    );
    let request = app
        .with_token(Method::DELETE, "/api/auth/user", &ada.token)
        .json(&json!({ "password": PASSWORD }));
    assert_eq!(
        app.send(request).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "one limit for both"
    );
    assert_eq!(
        app.signin_with("ada@example.com", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "and for signing in"
    );
}

#[tokio::test]
async fn the_name_follows_the_signup_rules_and_the_session_shows_it() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let rename = |name: Value| {
        app.with_token(Method::PATCH, "/api/auth/user", &ada.token)
            .json(&json!({ "name": name }))
    };
    for (name, expected) in [
        (json!(null), "Name is required"),
        (json!("   "), "Name is required"),
        (
            json!("n".repeat(101)),
            "Name must be 100 characters or less",
        ),
    ] {
        assert_eq!(
            app.send(rename(name)).await,
            (StatusCode::BAD_REQUEST, error(expected))
        );
    }
    let (status, body) = app.send(rename(json!("  Countess of Lovelace "))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "user": { "id": ada.user_id, "email": "ada@example.com", "name": "Countess of Lovelace", "email_verified": false } })
    );
    assert_eq!(
        app.get_session(&ada.token).await.1["user"]["name"],
        "Countess of Lovelace"
    );
}

#[tokio::test]
async fn deleting_the_account_takes_its_sessions_and_tasks_and_frees_the_email() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let phone = app.signin("ada@example.com").await;
    let grace = app.signup("grace@example.com").await;
    app.create_task(&ada, "Mine", None).await;
    app.create_task(&grace, "Grace's", None).await;
    let delete = |body: Value| {
        app.with_token(Method::DELETE, "/api/auth/user", &ada.token)
            .json(&body)
    };
    assert_eq!(
        app.send(delete(json!({}))).await,
        (StatusCode::BAD_REQUEST, error("Password is required"))
    );
    assert_eq!(
        app.send(delete(json!({ "password": "not the password" })))
            .await,
        (StatusCode::BAD_REQUEST, error("Password is incorrect"))
    );
    assert_eq!(app.count("users").await, 2, "nothing deleted yet");

    let (status, headers, body) = app
        .send_with_headers(delete(json!({ "password": PASSWORD })))
        .await;
    assert_eq!((status, body), (StatusCode::OK, message("Account deleted")));
    assert!(
        headers["set-cookie"]
            .to_str()
            .unwrap_or_default()
            .contains("Max-Age=0"),
        "the session cookie is cleared"
    );
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("sessions").await, 1, "only Grace's");
    assert_eq!(app.count("tasks").await, 1, "only Grace's");
    for token in [&ada.token, &phone.token] {
        assert_eq!(
            app.get_session(token).await,
            (
                StatusCode::UNAUTHORIZED,
                error("Invalid or malformed token")
            )
        );
    }
    assert_eq!(
        app.signin_with("ada@example.com", PASSWORD).await,
        (StatusCode::BAD_REQUEST, error("Invalid email or password"))
    );
    assert_eq!(
        app.signup_with("Ada", "ada@example.com", PASSWORD).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn sessions_are_listed_per_device_and_each_can_be_ended() {
    let app = TestApp::spawn().await;
    let first = app.signup("ada@example.com").await;
    let second = app.signin("ada@example.com").await;
    let third = app.signin("ada@example.com").await;
    let grace = app.signup("grace@example.com").await;

    let list = |who: &Session| app.with_token(Method::GET, "/api/auth/sessions", &who.token);
    let (status, body) = app.send(list(&second)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sessions = body["sessions"].as_array().expect("sessions").clone();
    assert_eq!(sessions.len(), 3, "{body}");
    let ids: Vec<&str> = sessions
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    let jti = |who: &Session| -> String {
        let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&who.token).expect("claims");
        claims.claims["jti"].as_str().expect("jti").to_owned()
    };
    assert_eq!(
        ids,
        [jti(&third), jti(&second), jti(&first)],
        "newest first"
    );
    let current: Vec<bool> = sessions
        .iter()
        .map(|s| s["current"] == json!(true))
        .collect();
    assert_eq!(current, [false, true, false]);
    for session in &sessions {
        let keys: Vec<&str> = session
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["created_at", "current", "expires_at", "id"]);
        assert!(
            session["expires_at"]
                .as_str()
                .is_some_and(|at| at.ends_with('Z'))
        );
    }

    // End the first device from the second.
    let revoke = |who: &Session, id: &str| {
        app.with_token(
            Method::DELETE,
            &format!("/api/auth/sessions/{id}"),
            &who.token,
        )
    };
    assert_eq!(
        app.send(revoke(&second, &jti(&first))).await,
        (StatusCode::OK, message("Session revoked"))
    );
    assert_eq!(
        app.get_session(&first.token).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(list(&second)).await.1["sessions"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let not_found = (StatusCode::NOT_FOUND, error("Session not found"));
    for id in [
        jti(&first),                                   // already ended
        jti(&grace),                                   // somebody else's
        "6f1c0a5e-3b7d-4c1e-9a2b-1d2e3f4a5b6c".into(), // unknown
        "not-a-uuid".into(),
    ] {
        assert_eq!(app.send(revoke(&second, &id)).await, not_found, "{id}");
    }
    assert_eq!(app.get_session(&grace.token).await.0, StatusCode::OK);
    assert_eq!(app.get_session(&third.token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_mailed_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let laptop = app.signup("ada@example.com").await;
    let phone = app.signin("ada@example.com").await;
    let grace = app.signup("grace@example.com").await;

    // Registered or not, the same answer; only the registered address gets mail.
    assert_eq!(
        app.forgot_password(" Ada@Example.com ").await,
        (StatusCode::OK, message(RESET_SENT))
    );
    assert_eq!(
        app.forgot_password("nobody@example.com").await,
        (StatusCode::OK, message(RESET_SENT))
    );
    assert!(
        app.mailbox
            .messages_to("nobody@example.com")
            .expect("mail")
            .is_empty()
    );
    assert_eq!(
        app.subjects_mailed_to("ada@example.com"),
        ["Verify your email", "Reset your password"]
    );
    let mails = app.mailbox.messages_to("ada@example.com").expect("mail");
    assert!(mails[1].contains(&format!("From: {}", crate::helpers::MAIL_FROM)));
    let tokens = app.reset_tokens_mailed_to("ada@example.com");
    let token = tokens.last().expect("a link").clone();
    assert_eq!(token.len(), 43, "32 random bytes, base64url");

    // Only the digest is stored.
    let stored: Vec<u8> = app
        .db
        .query_one("SELECT token_digest FROM password_resets", &[])
        .await
        .expect("one token")
        .get(0);
    assert_eq!(stored, shared::mail::LinkToken::digest_of(&token));
    assert!(!String::from_utf8_lossy(&stored).contains(&token));

    // The password follows the signup rules; a bad token changes nothing.
    assert_eq!(
        app.reset_password(&token, "short").await,
        (
            StatusCode::BAD_REQUEST,
            error("Password must be at least 8 characters")
        )
    );
    let invalid = (
        StatusCode::BAD_REQUEST,
        error("Invalid or expired reset token"),
    );
    for bad in ["", "not-a-token", &token[..42]] {
        assert_eq!(
            app.reset_password(bad, NEW_PASSWORD).await,
            invalid,
            "{bad:?}"
        );
    }
    assert_eq!(
        app.post_json(
            "/api/auth/reset-password",
            &json!({ "password": NEW_PASSWORD })
        )
        .await,
        invalid
    );
    assert_eq!(app.get_session(&laptop.token).await.0, StatusCode::OK);

    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await,
        (StatusCode::OK, message("Password has been reset"))
    );
    for old in [&laptop, &phone] {
        assert_eq!(
            app.get_session(&old.token).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.get_session(&grace.token).await.0, StatusCode::OK);
    assert_eq!(
        app.signin_with("ada@example.com", NEW_PASSWORD).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.signin_with("ada@example.com", PASSWORD).await,
        (StatusCode::BAD_REQUEST, error("Invalid email or password"))
    );
    assert_eq!(
        app.reset_password(&token, "another new passphrase").await,
        invalid,
        "single use"
    );
    assert_eq!(app.count("password_resets").await, 0);
}

#[tokio::test]
async fn a_newer_request_voids_older_links_and_links_expire() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    app.forgot_password("ada@example.com").await;
    app.forgot_password("ada@example.com").await;
    let tokens = app.reset_tokens_mailed_to("ada@example.com");
    assert_eq!(tokens.len(), 2);
    let invalid = (
        StatusCode::BAD_REQUEST,
        error("Invalid or expired reset token"),
    );
    assert_eq!(
        app.reset_password(&tokens[0], NEW_PASSWORD).await,
        invalid,
        "voided by the newer"
    );
    app.db
        .execute(
            "UPDATE password_resets SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .expect("expire");
    assert_eq!(
        app.reset_password(&tokens[1], NEW_PASSWORD).await,
        invalid,
        "expired"
    );
    let purged = shared::db::maintenance::purge_expired(&app.state.db)
        .await
        .expect("purge");
    assert_eq!(purged.password_resets, 1, "the clean-up removes it");
    assert_eq!(app.count("password_resets").await, 0);
}

#[tokio::test]
async fn reset_requests_check_the_email_and_are_throttled_alike_for_every_address() {
    let app =
        TestApp::spawn_with(&[("THROTTLE_RESET_EMAIL", "2"), ("THROTTLE_RESET_IP", "5")]).await;
    app.signup("ada@example.com").await;
    assert_eq!(
        app.forgot_password("").await,
        (StatusCode::BAD_REQUEST, error("Email is required"))
    );
    assert_eq!(
        app.forgot_password("not an email").await,
        (StatusCode::BAD_REQUEST, error("Please enter a valid email"))
    );
    for email in ["ada@example.com", "nobody@example.com"] {
        for _ in 0..2 {
            assert_eq!(
                app.forgot_password(email).await,
                (StatusCode::OK, message(RESET_SENT))
            );
        }
        let (status, body) = app.forgot_password(email).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::TOO_MANY_REQUESTS,
                error("Too many attempts, please try again later")
            ),
            "{email}"
        );
    }
    assert_eq!(app.reset_tokens_mailed_to("ada@example.com").len(), 2);
    // Four requests counted from this address, so one more is allowed, then none.
    assert_eq!(
        app.forgot_password("someone@example.com").await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.forgot_password("else@example.com").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}
