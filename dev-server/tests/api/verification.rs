//! Email verification and change of email: links mailed (to the local server's mail
//! folder), used once, voided by newer ones, expiring; `EMAIL_VERIFICATION` off, optional
//! and required; change-email's confirmation, its link, the switch, the notice to the old
//! address, and the address taken before the link is used.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, error, session_of};

const INVALID: &str = "Invalid or expired verification token";
const SENT: &str = "If that email needs verification, a link has been sent";
const CHANGE_SENT: &str = "Verification sent to the new address";

impl TestApp {
    async fn verify_email(&self, token: &str) -> (StatusCode, Value) {
        self.post_json("/api/auth/verify-email", &json!({ "token": token }))
            .await
    }

    async fn send_verification(&self, email: &str) -> (StatusCode, Value) {
        self.post_json(
            "/api/auth/send-verification-email",
            &json!({ "email": email }),
        )
        .await
    }

    async fn change_email(&self, who: &Session, body: &Value) -> (StatusCode, Value) {
        self.send(
            self.with_token(Method::POST, "/api/auth/change-email", &who.token)
                .json(body),
        )
        .await
    }

    /// The newest verification link mailed to `email`.
    fn newest_link_to(&self, email: &str) -> String {
        self.verification_tokens_mailed_to(email)
            .pop()
            .unwrap_or_else(|| panic!("no verification link to {email}"))
    }
}

fn verified_answer(who: &Session, email: &str) -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({
            "message": "Email verified",
            "user": { "id": who.user_id, "email": email, "name": "Ada Lovelace", "email_verified": true },
        }),
    )
}

#[tokio::test]
async fn the_link_signup_mails_verifies_the_address_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    assert_eq!(
        app.get_session(&ada.token).await.1["user"]["email_verified"],
        false
    );
    assert_eq!(
        app.subjects_mailed_to("ada@example.com"),
        ["Verify your email"]
    );
    let token = app.newest_link_to("ada@example.com");
    assert_eq!(token.len(), 43, "32 random bytes, base64url");
    let stored: Vec<u8> = app
        .db
        .query_one("SELECT token_digest FROM email_verifications", &[])
        .await
        .expect("one link")
        .get(0);
    assert_eq!(stored, shared::mail::LinkToken::digest_of(&token));

    let invalid = (StatusCode::BAD_REQUEST, error(INVALID));
    for bad in ["", "not-a-token", &token[..42]] {
        assert_eq!(app.verify_email(bad).await, invalid, "{bad:?}");
    }
    assert_eq!(
        app.post_json("/api/auth/verify-email", &json!({})).await,
        invalid
    );
    assert_eq!(
        app.get_session(&ada.token).await.1["user"]["email_verified"],
        false,
        "a bad link changes nothing"
    );

    assert_eq!(
        app.verify_email(&token).await,
        verified_answer(&ada, "ada@example.com")
    );
    assert_eq!(app.verify_email(&token).await, invalid, "single use");
    assert_eq!(app.count("email_verifications").await, 0);
    assert_eq!(
        app.get_session(&ada.token).await.1["user"]["email_verified"],
        true
    );
    let (status, body) = app.signin_with("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email_verified"], true);
    // A verified address needs no link: asked for one, it gets none.
    assert_eq!(
        app.send_verification("ada@example.com").await,
        (StatusCode::OK, json!({ "message": SENT }))
    );
    assert_eq!(
        app.verification_tokens_mailed_to("ada@example.com").len(),
        1
    );
}

#[tokio::test]
async fn a_newer_link_voids_the_older_and_links_expire() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let first = app.newest_link_to("ada@example.com");
    assert_eq!(
        app.send_verification(" ADA@example.com ").await,
        (StatusCode::OK, json!({ "message": SENT }))
    );
    let second = app.newest_link_to("ada@example.com");
    assert_ne!(first, second);
    assert_eq!(
        app.verify_email(&first).await,
        (StatusCode::BAD_REQUEST, error(INVALID)),
        "voided by the newer link"
    );

    app.db
        .execute(
            "UPDATE email_verifications SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .expect("age the link");
    assert_eq!(
        app.verify_email(&second).await,
        (StatusCode::BAD_REQUEST, error(INVALID)),
        "expired"
    );
    let purged = shared::db::maintenance::purge_expired(&app.state.db)
        .await
        .expect("purge");
    assert_eq!(purged.email_verifications, 1, "the clean-up removes it");
    app.send_verification("ada@example.com").await;
    let third = app.newest_link_to("ada@example.com");
    let expires_in: f64 = app
        .db
        .query_one(
            "SELECT extract(epoch FROM expires_at - created_at)::float8 FROM email_verifications",
            &[],
        )
        .await
        .expect("one link")
        .get(0);
    assert_eq!(expires_in, 86_400.0, "VERIFY_TOKEN_TTL's default, a day");
    assert_eq!(
        app.verify_email(&third).await,
        verified_answer(&ada, "ada@example.com")
    );
}

#[tokio::test]
async fn asking_for_a_link_answers_alike_for_every_address_and_is_throttled() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    app.signup("grace@example.com").await;
    let grace_link = app.newest_link_to("grace@example.com");
    assert_eq!(app.verify_email(&grace_link).await.0, StatusCode::OK);

    let answer = (StatusCode::OK, json!({ "message": SENT }));
    // The same body for each; the same time is a measurement (BENCHMARKS.md).
    for email in ["ada@example.com", "grace@example.com", "nobody@example.com"] {
        assert_eq!(app.send_verification(email).await, answer, "{email}");
    }
    assert!(
        app.mailbox
            .messages_to("nobody@example.com")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.verification_tokens_mailed_to("ada@example.com").len(),
        2
    );
    assert_eq!(
        app.verification_tokens_mailed_to("grace@example.com").len(),
        1
    );
    assert_eq!(
        app.send_verification("not-an-email").await,
        (StatusCode::BAD_REQUEST, error("Please enter a valid email"))
    );

    // The reset limits (3 per email a window), on counters of their own.
    for _ in 0..2 {
        assert_eq!(app.send_verification("ada@example.com").await, answer);
    }
    assert_eq!(
        app.send_verification("ada@example.com").await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            error("Too many attempts, please try again later")
        )
    );
    assert_eq!(
        app.verification_tokens_mailed_to("ada@example.com").len(),
        4
    );
    assert_eq!(
        app.forgot_password("ada@example.com").await.0,
        StatusCode::OK,
        "reset requests count apart"
    );
}

#[tokio::test]
async fn off_mails_nothing_and_optional_lets_the_unverified_sign_in() {
    let off = TestApp::spawn_with(&[("EMAIL_VERIFICATION", "off")]).await;
    let (status, body) = off
        .signup_with("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["user"]["email_verified"], false);
    assert!(
        off.mailbox
            .messages_to("ada@example.com")
            .unwrap()
            .is_empty()
    );
    assert_eq!(off.count("email_verifications").await, 0);
    assert_eq!(
        off.signin_with("ada@example.com", PASSWORD).await.0,
        StatusCode::OK
    );

    let optional = TestApp::spawn().await;
    optional.signup("ada@example.com").await;
    let (status, body) = optional.signin_with("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email_verified"], false);
}

#[tokio::test]
async fn required_refuses_signin_until_verified_and_mails_at_most_once_a_window() {
    let app = TestApp::spawn_with(&[("EMAIL_VERIFICATION", "required")]).await;
    let (status, body) = app
        .signup_with("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(status, StatusCode::CREATED, "the account exists: {body}");
    let ada = session_of(&body);
    assert_eq!(app.get_session(&ada.token).await.0, StatusCode::OK);
    let sessions_before = app.count("sessions").await;

    let refused = (StatusCode::FORBIDDEN, error("Email not verified"));
    assert_eq!(app.signin_with("ada@example.com", PASSWORD).await, refused);
    assert_eq!(
        app.signin_with("ada@example.com", "a wrong password").await,
        (StatusCode::BAD_REQUEST, error("Invalid email or password")),
        "the 403 is for whoever has the password only"
    );
    assert_eq!(
        app.signin_with("nobody@example.com", PASSWORD).await,
        (StatusCode::BAD_REQUEST, error("Invalid email or password"))
    );
    assert_eq!(app.signin_with("ada@example.com", PASSWORD).await, refused);
    assert_eq!(app.count("sessions").await, sessions_before, "no session");
    assert_eq!(
        app.subjects_mailed_to("ada@example.com"),
        ["Verify your email"],
        "the signup's link went out less than 15 minutes ago: no other"
    );
    // Right passwords give their attempts back: the account is not locked out.
    for _ in 0..6 {
        assert_eq!(app.signin_with("ada@example.com", PASSWORD).await, refused);
    }
    // Once the signup's link is 16 minutes old, a refusal mails a fresh one, once a window.
    app.db
        .execute(
            "UPDATE email_verifications SET created_at = created_at - interval '16 minutes'",
            &[],
        )
        .await
        .expect("an older link");
    for _ in 0..3 {
        assert_eq!(app.signin_with("ada@example.com", PASSWORD).await, refused);
    }
    assert_eq!(
        app.subjects_mailed_to("ada@example.com"),
        ["Verify your email", "Verify your email"],
        "the signup's link and one fresh link for the window"
    );

    let link = app.newest_link_to("ada@example.com");
    assert_eq!(
        app.verify_email(&link).await,
        verified_answer(&ada, "ada@example.com")
    );
    let (status, body) = app.signin_with("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email_verified"], true);
}

#[tokio::test]
async fn a_signin_refused_for_verification_never_voids_the_link_in_the_inbox() {
    let app = TestApp::spawn_with(&[("EMAIL_VERIFICATION", "required")]).await;
    let ada = app.signup("ada@example.com").await;
    let in_the_inbox = app.newest_link_to("ada@example.com");
    for _ in 0..3 {
        assert_eq!(
            app.signin_with("ada@example.com", PASSWORD).await,
            (StatusCode::FORBIDDEN, error("Email not verified"))
        );
    }
    assert_eq!(
        app.verify_email(&in_the_inbox).await,
        verified_answer(&ada, "ada@example.com")
    );
    assert_eq!(
        app.signin_with("ada@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn existing_accounts_are_unverified_after_the_migration_and_keep_working() {
    // What V9 does to a row from before: unverified, and nothing else changes.
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    app.db
        .execute("DELETE FROM email_verifications", &[])
        .await
        .expect("a row as it was");
    let default: String = app
        .db
        .query_one(
            "SELECT column_default FROM information_schema.columns
              WHERE table_schema = 'todo_api' AND table_name = 'users'
                AND column_name = 'email_verified'",
            &[],
        )
        .await
        .expect("the column")
        .get(0);
    assert_eq!(default, "false");
    assert_eq!(app.get_session(&ada.token).await.0, StatusCode::OK);
    assert_eq!(
        app.signin_with("ada@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.send_verification("ada@example.com").await.0,
        StatusCode::OK
    );
    let link = app.newest_link_to("ada@example.com");
    assert_eq!(
        app.verify_email(&link).await,
        verified_answer(&ada, "ada@example.com")
    );
}

#[tokio::test]
async fn change_email_confirms_the_password_and_switches_only_when_the_link_is_used() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    app.signup("grace@example.com").await;
    let change = |new_email: Value, password: Value| {
        let mut body = json!({});
        if !new_email.is_null() {
            body["new_email"] = new_email;
        }
        if !password.is_null() {
            body["password"] = password;
        }
        body
    };
    for (body, expected) in [
        (change(Value::Null, json!(PASSWORD)), "Email is required"),
        (change(json!("  "), json!(PASSWORD)), "Email is required"),
        (
            change(json!("ada.example.com"), json!(PASSWORD)),
            "Please enter a valid email",
        ),
        (
            change(json!("lovelace@example.com"), Value::Null),
            "Password is required",
        ),
        (
            change(json!("lovelace@example.com"), json!("wrong password")),
            "Password is incorrect",
        ),
        (
            change(json!(" GRACE@example.com "), json!(PASSWORD)),
            "Email already registered",
        ),
    ] {
        assert_eq!(
            app.change_email(&ada, &body).await,
            (StatusCode::BAD_REQUEST, error(expected)),
            "{body}"
        );
    }
    let failures: i32 = app
        .db
        .query_one(
            "SELECT attempts FROM throttle_counters WHERE rule = 'signin_email'",
            &[],
        )
        .await
        .expect("the wrong password counted like a failed signin")
        .get(0);
    assert_eq!(failures, 1);
    assert!(
        app.mailbox
            .messages_to("lovelace@example.com")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.send(
            app.request(Method::POST, "/api/auth/change-email")
                .json(&change(json!("lovelace@example.com"), json!(PASSWORD)))
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        app.change_email(
            &ada,
            &change(json!(" Lovelace@Example.com "), json!(PASSWORD))
        )
        .await,
        (StatusCode::OK, json!({ "message": CHANGE_SENT }))
    );
    assert_eq!(
        app.subjects_mailed_to("lovelace@example.com"),
        ["Confirm your new email"]
    );
    // Nothing changes until the link is used.
    assert_eq!(
        app.get_session(&ada.token).await.1["user"]["email"],
        "ada@example.com"
    );
    assert_eq!(
        app.signin_with("lovelace@example.com", PASSWORD).await.0,
        StatusCode::BAD_REQUEST
    );
    let phone = app.signin("ada@example.com").await;

    let link = app.newest_link_to("lovelace@example.com");
    assert_eq!(
        app.verify_email(&link).await,
        verified_answer(&ada, "lovelace@example.com")
    );
    assert_eq!(
        app.subjects_mailed_to("ada@example.com"),
        ["Verify your email", "Your email was changed"]
    );
    let notice = app
        .mailbox
        .messages_to("ada@example.com")
        .unwrap()
        .pop()
        .unwrap();
    assert!(!notice.contains("lovelace"), "no new address: {notice}");
    // Sessions stay, and show the new address; the old one no longer signs in.
    for who in [&ada, &phone] {
        let (status, body) = app.get_session(&who.token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["user"]["email"], "lovelace@example.com");
        assert_eq!(body["user"]["email_verified"], true);
    }
    assert_eq!(
        app.signin_with("lovelace@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.signin_with("ada@example.com", PASSWORD).await,
        (StatusCode::BAD_REQUEST, error("Invalid email or password"))
    );
    // The old address is free again.
    app.signup("ada@example.com").await;
}

#[tokio::test]
async fn an_address_taken_before_its_link_is_used_is_not_switched_to() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let body = json!({ "new_email": "lovelace@example.com", "password": PASSWORD });
    assert_eq!(app.change_email(&ada, &body).await.0, StatusCode::OK);
    let link = app.newest_link_to("lovelace@example.com");
    // Somebody signs up with the address meanwhile.
    app.signup("lovelace@example.com").await;

    let taken = (StatusCode::BAD_REQUEST, error("Email already registered"));
    assert_eq!(app.verify_email(&link).await, taken);
    assert_eq!(app.verify_email(&link).await, taken, "still taken");
    let (_, session) = app.get_session(&ada.token).await;
    assert_eq!(session["user"]["email"], "ada@example.com");
    assert_eq!(session["user"]["email_verified"], false);
    assert_eq!(
        app.subjects_mailed_to("ada@example.com"),
        ["Verify your email"],
        "no notice: nothing changed"
    );
}

#[tokio::test]
async fn one_link_used_twice_at_once_switches_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let body = json!({ "new_email": "lovelace@example.com", "password": PASSWORD });
    assert_eq!(app.change_email(&ada, &body).await.0, StatusCode::OK);
    let link = app.newest_link_to("lovelace@example.com");
    let (one, two) = tokio::join!(app.verify_email(&link), app.verify_email(&link));
    let mut statuses = [one.0, two.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    assert_eq!(
        app.subjects_mailed_to("ada@example.com"),
        ["Verify your email", "Your email was changed"]
    );
}

#[tokio::test]
async fn change_email_is_throttled_per_account_before_any_mail_or_taken_answer() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    app.signup("grace@example.com").await;
    let signup_link = app.newest_link_to("ada@example.com");
    let to = |address: &str| json!({ "new_email": address, "password": PASSWORD });
    // A wrong password is a failed signin, not a change request: it uses none of the three.
    assert_eq!(
        app.change_email(
            &ada,
            &json!({ "new_email": "x@example.com", "password": "guess" })
        )
        .await,
        (StatusCode::BAD_REQUEST, error("Password is incorrect"))
    );
    for address in ["one@example.com", "two@example.com", "three@example.com"] {
        assert_eq!(
            app.change_email(&ada, &to(address)).await,
            (StatusCode::OK, json!({ "message": CHANGE_SENT })),
            "{address}"
        );
    }
    // A newer request voided the older pending changes, not the signup's link.
    for older in ["one@example.com", "two@example.com"] {
        assert_eq!(
            app.verify_email(&app.newest_link_to(older)).await,
            (StatusCode::BAD_REQUEST, error(INVALID)),
            "{older}"
        );
    }
    let too_many = (
        StatusCode::TOO_MANY_REQUESTS,
        error("Too many attempts, please try again later"),
    );
    // The fourth (THROTTLE_RESET_EMAIL, 3): refused before any mail, and before saying
    // whether the address is registered.
    for address in ["four@example.com", "grace@example.com"] {
        let request = app
            .with_token(Method::POST, "/api/auth/change-email", &ada.token)
            .json(&to(address));
        let (status, headers, body) = app.send_with_headers(request).await;
        assert_eq!((status, body), too_many, "{address}");
        assert!(headers.contains_key("retry-after"));
    }
    assert_eq!(
        app.subjects_mailed_to("four@example.com"),
        Vec::<String>::new()
    );
    assert_eq!(
        app.subjects_mailed_to("grace@example.com"),
        ["Verify your email"]
    );
    // A right password (a signin, or these very requests) never resets the count.
    assert_eq!(
        app.signin_with("ada@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.change_email(&ada, &to("five@example.com")).await,
        too_many
    );
    // The pending change and the signup's link still work.
    assert_eq!(
        app.verify_email(&signup_link).await,
        verified_answer(&ada, "ada@example.com")
    );
    let (status, body) = app
        .verify_email(&app.newest_link_to("three@example.com"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "three@example.com");
}

#[tokio::test]
async fn change_email_is_throttled_per_source_address() {
    let app =
        TestApp::spawn_with(&[("THROTTLE_RESET_IP", "2"), ("THROTTLE_RESET_EMAIL", "100")]).await;
    let ada = app.signup("ada@example.com").await;
    let grace = app.signup("grace@example.com").await;
    let change = |who: &Session, from: &str, address: &str| {
        app.client_from(from)
            .post(format!("{}/api/auth/change-email", app.address))
            .bearer_auth(&who.token)
            .json(&json!({ "new_email": address, "password": PASSWORD }))
    };
    for address in ["one@example.com", "two@example.com"] {
        let (status, _) = app.send(change(&ada, "127.0.0.1", address)).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        app.send(change(&grace, "127.0.0.1", "three@example.com"))
            .await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            error("Too many attempts, please try again later")
        ),
        "the address's third request, whichever account"
    );
    assert_eq!(
        app.send(change(&grace, "127.0.0.2", "three@example.com"))
            .await,
        (StatusCode::OK, json!({ "message": CHANGE_SENT }))
    );
}
