//! Database faults: with PostgreSQL down or silent, every route of the table answers its
//! sample with the generic 5xx (its 400/401 where no database is needed) and writes
//! nothing; once it is back, the very next request succeeds, no acknowledged write is
//! missing and every route answers again. An answer that never came would hang the test;
//! how soon answers come is measured, not asserted.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::error::GENERIC_5XX;

use crate::helpers::{PASSWORD, PrivateCluster, Session, TestApp, error};
use crate::samples::{Account, MANY_ACCOUNTS, every_route, every_route_succeeds};

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

/// Every route of the table answers its sample with the generic 5xx while the database is
/// unreachable, and the refusals that need no database still come.
async fn assert_every_route_fails(app: &TestApp, ada: &Account) {
    for call in every_route(ada) {
        let answer = app.send(call.request_as(app, &ada.session.token)).await;
        assert_eq!(
            answer,
            (StatusCode::SERVICE_UNAVAILABLE, error(GENERIC_5XX)),
            "{} with the database down",
            call.describe()
        );
    }
    assert_refusals_without_database(app, &ada.session).await;
}

async fn create_task(app: &TestApp, who: &Session, title: &str) -> i64 {
    app.create_task(who, title, None).await["id"]
        .as_i64()
        .expect("task id")
}

#[tokio::test]
async fn a_crashed_database_fails_every_route_and_the_next_request_after_restart_succeeds() {
    // A cluster of its own, committing synchronously, since this test crashes it.
    let private = PrivateCluster::start("faults", &["synchronous_commit=on"])
        .unwrap_or_else(|err| panic!("private PostgreSQL: {err:#}"));
    let mut app = TestApp::spawn_on(&private.cluster.url("postgres"), MANY_ACCOUNTS).await;
    let account = Account::new(&app, "ada").await;
    let ada = &account.session;
    let mut acknowledged = vec![account.task_id];
    for n in 0..5 {
        acknowledged.push(create_task(&app, ada, &format!("acknowledged {n}")).await);
    }
    // Fill the pool, so that broken connections wait in it when the server goes away.
    let (status, _) = app.list_tasks(ada, "").await;
    assert_eq!(status, StatusCode::OK);
    let before = app.snapshot_every_table().await;

    private.cluster.crash().expect("crash PostgreSQL");
    assert_every_route_fails(&app, &account).await;

    private.restart().expect("restart PostgreSQL");
    app.reconnect().await;
    let (status, listed) = app.list_tasks(ada, "").await;
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

    assert_eq!(
        app.snapshot_every_table().await,
        before,
        "nothing was written while the database was down"
    );

    // And every route works again.
    every_route_succeeds(&app, "after-restart").await;
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
    let ada = Account::new(&app, "ada").await;
    let before = app.snapshot_every_table().await;
    let silent_url = format!("postgres://postgres@127.0.0.1:{port}/todo?sslmode=disable");
    let stalled = TestApp::attach(
        &app,
        &[
            ("DATABASE_URL", silent_url.as_str()),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    assert_every_route_fails(&stalled, &ada).await;
    assert_eq!(
        app.snapshot_every_table().await,
        before,
        "nothing was written"
    );
    let health: Value = json!({ "status": "ok", "database": "ok" });
    assert_eq!(
        app.send(app.request(Method::GET, "/api/health")).await,
        (StatusCode::OK, health)
    );
}
