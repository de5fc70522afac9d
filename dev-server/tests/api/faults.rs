//! Database faults: with PostgreSQL down or silent, every route answers at once (the
//! generic 5xx, or its 400/401 where no database is needed) and never hangs; once it is
//! back, the very next request succeeds and no acknowledged write is missing.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::error::GENERIC_5XX;

use crate::helpers::{PASSWORD, PrivateCluster, Session, TestApp, error};

/// The bound the contract gives for an answer while the database is unreachable.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// One request per route (and the no-database refusals), with what it needs.
fn requests(app: &TestApp, ada: &Session, task_id: i64) -> Vec<(String, reqwest::RequestBuilder)> {
    let tasks = ada.tasks_path();
    let task = format!("{tasks}/{task_id}");
    let token = ada.token.as_str();
    vec![
        (
            "signup".into(),
            app.request(Method::POST, "/api/auth/signup").json(
                &json!({ "name": "Grace", "email": "grace@example.com", "password": PASSWORD }),
            ),
        ),
        (
            "signin".into(),
            app.request(Method::POST, "/api/auth/signin")
                .json(&json!({ "email": "ada@example.com", "password": PASSWORD })),
        ),
        (
            "session".into(),
            app.with_token(Method::GET, "/api/auth/session", token),
        ),
        ("health".into(), app.request(Method::GET, "/api/health")),
        (
            "tasks-list".into(),
            app.with_token(Method::GET, &tasks, token),
        ),
        (
            "task-create".into(),
            app.with_token(Method::POST, &tasks, token)
                .json(&json!({ "title": "written while down?" })),
        ),
        ("task-get".into(), app.with_token(Method::GET, &task, token)),
        (
            "task-replace".into(),
            app.with_token(Method::PUT, &task, token)
                .json(&json!({ "title": "replaced" })),
        ),
        (
            "task-update".into(),
            app.with_token(Method::PATCH, &task, token)
                .json(&json!({ "completed": true })),
        ),
        (
            "task-complete".into(),
            app.with_token(Method::PATCH, &format!("{task}/complete"), token),
        ),
        (
            "task-delete".into(),
            app.with_token(Method::DELETE, &task, token),
        ),
        // Signout last: while the database is up it really revokes the token.
        (
            "signout".into(),
            app.with_token(Method::POST, "/api/auth/signout", token),
        ),
    ]
}

/// Answers that need no database, whatever its state.
async fn assert_refusals_without_database(app: &TestApp, ada: &Session) {
    let tasks = ada.tasks_path();
    let no_token = app.send(app.request(Method::GET, &tasks)).await;
    assert_eq!(
        no_token,
        (StatusCode::UNAUTHORIZED, error("Authentication required"))
    );
    let bad_token = app
        .send(app.with_token(Method::GET, &tasks, "not.a.token"))
        .await;
    assert_eq!(
        bad_token,
        (
            StatusCode::UNAUTHORIZED,
            error("Invalid or malformed token")
        )
    );
    let bad_body = app
        .send(
            app.request(Method::POST, "/api/auth/signup")
                .json(&json!({ "name": "", "email": "x@example.com", "password": PASSWORD })),
        )
        .await;
    assert_eq!(
        bad_body,
        (StatusCode::BAD_REQUEST, error("Name is required"))
    );
}

/// Every route answers the generic 5xx within the bound while the database is unreachable.
async fn assert_every_route_fails_fast(app: &TestApp, ada: &Session, task_id: i64) {
    for (route, request) in requests(app, ada, task_id) {
        let started = Instant::now();
        let answer = app.send(request).await;
        let elapsed = started.elapsed();
        assert_eq!(
            answer,
            (StatusCode::SERVICE_UNAVAILABLE, error(GENERIC_5XX)),
            "{route} with the database down"
        );
        assert!(elapsed < ANSWER_WITHIN, "{route} took {elapsed:?}");
    }
    assert_refusals_without_database(app, ada).await;
}

async fn create_task(app: &TestApp, who: &Session, title: &str) -> i64 {
    app.create_task(who, title, None).await["id"]
        .as_i64()
        .expect("task id")
}

#[tokio::test]
async fn a_crashed_database_fails_fast_and_the_next_request_after_restart_succeeds() {
    // A cluster of its own, committing synchronously, since this test crashes it.
    let private = PrivateCluster::start("faults", &["synchronous_commit=on"])
        .unwrap_or_else(|err| panic!("private PostgreSQL: {err:#}"));
    let app = TestApp::spawn_on(&private.cluster.url("postgres"), &[]).await;
    let ada = app.signup("ada@example.com").await;
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        acknowledged.push(create_task(&app, &ada, &format!("acknowledged {n}")).await);
    }
    // Fill the pool, so that broken connections wait in it when the server goes away.
    let (status, _) = app.list_tasks(&ada, "").await;
    assert_eq!(status, StatusCode::OK);

    private.cluster.crash().expect("crash PostgreSQL");
    assert_every_route_fails_fast(&app, &ada, acknowledged[0]).await;

    private.restart().expect("restart PostgreSQL");
    let back = Instant::now();
    let (status, listed) = app.list_tasks(&ada, "").await;
    eprintln!(
        "first request after the restart answered in {:?}",
        back.elapsed()
    );
    assert_eq!(status, StatusCode::OK, "the very next request: {listed}");
    let mut listed_ids: Vec<i64> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|task| task["id"].as_i64().expect("id"))
        .collect();
    listed_ids.sort_unstable();
    assert_eq!(
        listed_ids, acknowledged,
        "every acknowledged task survived the crash"
    );

    // And every route works again, in turn.
    for (route, request) in requests(&app, &ada, acknowledged[0]) {
        let (status, body) = app.send(request).await;
        assert!(
            status.is_success(),
            "{route} after the restart: {status} {body}"
        );
    }
}

#[tokio::test]
async fn a_database_that_accepts_but_never_answers_cannot_hang_a_request() {
    // A listener that takes connections and says nothing: a network black hole.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("address").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let app = TestApp::spawn_with(&[]).await;
    let ada = app.signup("ada@example.com").await;
    let task_id = create_task(&app, &ada, "kept").await;
    let silent_url = format!("postgres://postgres@127.0.0.1:{port}/todo?sslmode=disable");
    let stalled = TestApp::attach(
        &app,
        &[
            ("DATABASE_URL", silent_url.as_str()),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    assert_every_route_fails_fast(&stalled, &ada, task_id).await;
    let health: Value = json!({ "status": "ok", "database": "ok" });
    assert_eq!(
        app.send(app.request(Method::GET, "/api/health")).await,
        (StatusCode::OK, health)
    );
}
