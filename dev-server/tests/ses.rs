//! The password reset and the address verification mailed through Amazon SES for real: the
//! SES mailer against moto's SES v2 (`pip install 'moto[server]'`), the mail read back from
//! moto, and its link followed end to end. Ignored by plain `cargo test` because it needs that
//! server; CI runs it with `--ignored` (`MOTO_SERVER` names the binary if not on PATH).

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::sync::Arc;

use dev_server::fixtures::moto::Moto;
use helpers::{MAIL_FROM, NEW_PASSWORD, ORIGIN, RESET_SENT, TestApp, error, link_token_in};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::mail::ses::SesMailer;

async fn ses_app(moto: &Moto, overrides: &[(&str, &str)]) -> TestApp {
    let env = moto.env(&[]);
    let mailer = SesMailer::from_lookup(&|name: &str| env.get(name).cloned()).expect("SES client");
    TestApp::spawn_with_mailer(overrides, Arc::new(mailer)).await
}

/// What moto's SES took, each message as its JSON, for `to` with `subject`.
async fn sent_to(moto: &Moto, to: &str, subject: &str) -> Vec<Value> {
    moto.sent_mail()
        .await
        .expect("moto's sent mail")
        .into_iter()
        .filter(|message| message.to_string().contains(to) && message["subject"] == subject)
        .collect()
}

/// An app whose sender moto's SES knows as verified.
async fn ses_app_with_verified_sender(moto: &Moto, overrides: &[(&str, &str)]) -> TestApp {
    let verify = format!(
        "Action=VerifyEmailIdentity&EmailAddress={}",
        MAIL_FROM.replace('@', "%40")
    );
    moto.query_api("ses", "2010-12-01", &verify)
        .await
        .expect("verify the sender");
    ses_app(moto, overrides).await
}

#[tokio::test]
#[ignore = "needs moto_server; CI runs it with --ignored"]
async fn the_link_mailed_through_ses_resets_the_password_end_to_end() {
    let moto = Moto::start().await;
    let app = ses_app_with_verified_sender(&moto, &[]).await;
    let laptop = app.signup("ada@example.com").await;
    let phone = app.signin("ada@example.com").await;

    let answer = json!({ "message": RESET_SENT });
    for email in ["ada@example.com", "nobody@example.com"] {
        let (status, body) = app.forgot_password(email).await;
        assert_eq!((status, body), (StatusCode::OK, answer.clone()), "{email}");
    }
    assert!(!moto_sent_anything_to(&moto, "nobody@example.com").await);
    let sent = sent_to(&moto, "ada@example.com", "Reset your password").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["source"], MAIL_FROM);
    assert_eq!(
        sent[0]["destinations"]["ToAddresses"],
        json!(["ada@example.com"])
    );
    let body = sent[0]["body"].as_str().unwrap_or_default();
    assert!(
        body.contains(&format!("{ORIGIN}/reset-password?token=")),
        "{body}"
    );
    let token = link_token_in(body, "/reset-password").expect("a reset link");

    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await,
        (
            StatusCode::OK,
            json!({ "message": "Password has been reset" })
        )
    );
    for old in [&laptop, &phone] {
        assert_eq!(
            app.get_session(&old.token).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.signin_with("ada@example.com", NEW_PASSWORD).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.reset_password(&token, "yet another passphrase").await,
        (
            StatusCode::BAD_REQUEST,
            error("Invalid or expired reset token")
        ),
        "a link works once"
    );
}

#[tokio::test]
#[ignore = "needs moto_server; CI runs it with --ignored"]
async fn a_send_ses_refuses_is_answered_like_an_unknown_email() {
    let moto = Moto::start().await;
    // No sender verified (an SES sandbox): SES refuses to send.
    let app = ses_app(&moto, &[]).await;
    app.signup("ada@example.com").await;
    // The same body; the same time is a measurement (BENCHMARKS.md, forgot-password).
    for email in ["ada@example.com", "nobody@example.com"] {
        let answer = app.forgot_password(email).await;
        assert_eq!(
            answer,
            (StatusCode::OK, json!({ "message": RESET_SENT })),
            "{email}: the failure tells nothing about the address"
        );
    }
    assert!(!moto_sent_anything_to(&moto, "ada@example.com").await);
}

async fn moto_sent_anything_to(moto: &Moto, to: &str) -> bool {
    moto.sent_mail()
        .await
        .expect("moto's sent mail")
        .iter()
        .any(|message| message.to_string().contains(to))
}

#[tokio::test]
#[ignore = "needs moto_server; CI runs it with --ignored"]
async fn the_verification_link_mailed_through_ses_verifies_the_address() {
    let moto = Moto::start().await;
    let app = ses_app_with_verified_sender(&moto, &[("EMAIL_VERIFICATION", "required")]).await;
    let (status, body) = app
        .signup_with("Ada", "ada@example.com", helpers::PASSWORD)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["user"]["email_verified"], false);

    let link_in = |message: &Value| {
        let text = message["body"].as_str().unwrap_or_default();
        link_token_in(text, "/verify-email").expect("a verification link")
    };
    let sent = sent_to(&moto, "ada@example.com", "Verify your email").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["source"], MAIL_FROM);
    let signup_link = link_in(&sent[0]);
    assert_eq!(
        app.signin_with("ada@example.com", helpers::PASSWORD).await,
        (StatusCode::FORBIDDEN, error("Email not verified"))
    );
    // The signup's link went out less than 15 minutes ago: the refused signin mails no
    // other, and the link in the inbox keeps working.
    let sent = sent_to(&moto, "ada@example.com", "Verify your email").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let token = signup_link;

    let (status, body) = app
        .post_json("/api/auth/verify-email", &json!({ "token": token }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Email verified");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(
        app.signin_with("ada@example.com", helpers::PASSWORD)
            .await
            .0,
        StatusCode::OK
    );
}
