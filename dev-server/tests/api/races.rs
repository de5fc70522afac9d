//! Concurrency: what parallel requests on one email or one session must leave behind.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, error, session_of};

#[tokio::test]
async fn parallel_signups_with_one_email_create_exactly_one_user() {
    let app = TestApp::spawn_with(&[("DATABASE_POOL_SIZE", "16")]).await;
    let answers = join_all((0..32).map(|n| {
        // Spellings differ, the normalised email does not.
        let email = if n % 2 == 0 {
            "ada@example.com"
        } else {
            " ADA@Example.com"
        };
        app.signup_with("Ada", email, PASSWORD)
    }))
    .await;
    let created = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(
            (*status, body),
            (StatusCode::BAD_REQUEST, &error("Email already registered"))
        );
    }
    assert_eq!(app.count("users").await, 1);
    assert_eq!(
        app.count("sessions").await,
        1,
        "only the created user has a session"
    );
}

#[tokio::test]
async fn signout_racing_other_requests_leaves_the_session_revoked() {
    let app = TestApp::spawn_with(&[("DATABASE_POOL_SIZE", "16")]).await;
    let ada = app.signup("ada@example.com").await;
    let tasks_path = ada.tasks_path();

    let signout = app.send(app.with_token(Method::POST, "/api/auth/signout", &ada.token));
    let creates = join_all((0..12).map(|n| {
        app.send(
            app.with_token(Method::POST, &tasks_path, &ada.token)
                .json(&json!({ "title": format!("task {n}") })),
        )
    }));
    let signins = join_all((0..4).map(|_| app.signin_with("ada@example.com", PASSWORD)));
    let sessions = join_all((0..8).map(|_| app.get_session(&ada.token)));
    let (signed_out, created, signed_in, checked) =
        tokio::join!(signout, creates, signins, sessions);

    assert_eq!(
        signed_out,
        (
            StatusCode::OK,
            json!({ "message": "Signed out successfully" })
        )
    );
    // Each create either ran before the revocation or was refused after it; nothing else.
    let acknowledged = created
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    for (status, body) in created.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(
            (*status, body),
            (
                StatusCode::UNAUTHORIZED,
                &error("Invalid or malformed token")
            )
        );
    }
    assert_eq!(app.count("tasks").await, acknowledged as i64);
    for (status, _) in &checked {
        assert!(
            [StatusCode::OK, StatusCode::UNAUTHORIZED].contains(status),
            "{checked:?}"
        );
    }

    // Afterwards the old token is dead everywhere; the parallel signins' sessions live.
    assert_eq!(
        app.get_session(&ada.token).await,
        (
            StatusCode::UNAUTHORIZED,
            error("Invalid or malformed token")
        )
    );
    let (status, _) = app.list_tasks(&ada, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (status, body) in signed_in {
        assert_eq!(status, StatusCode::OK, "{body}");
        let fresh = session_of(&body);
        assert_eq!(app.get_session(&fresh.token).await.0, StatusCode::OK);
    }
    assert_eq!(app.count("sessions").await, 4);
}
