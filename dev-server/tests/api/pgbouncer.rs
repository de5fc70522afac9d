//! Behind a transaction-mode pooler that keeps no named statements (Debian's PgBouncer
//! 1.18; Neon's pooler before it kept them): with `DATABASE_PREPARED_STATEMENTS=on` every
//! connection finds its statements gone, falls back to unnamed ones (logged once) and no
//! request fails; with `off` nothing is ever prepared. The whole suite also runs through a
//! plain PgBouncer when `TEST_PGBOUNCER` is set (CI does).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, Session, TestApp};

/// A PgBouncer in front of the test server whose server connections forget every
/// prepared statement after each transaction.
fn forgetful_pgbouncer(app: &TestApp) -> dev_server::pgbouncer::PgBouncer {
    let (host, port) = dev_server::postgres::host_and_port(&app.database_url).expect("a TCP host");
    dev_server::pgbouncer::PgBouncer::start_forgetting_named_statements(&host, port, 4)
        .unwrap_or_else(|err| panic!("PgBouncer: {err:#}"))
}

/// An app whose connections go through a forgetful PgBouncer to a fresh test database,
/// with `DATABASE_PREPARED_STATEMENTS` set to `prepared`; the direct app and the pooler
/// must live as long as it.
async fn behind_forgetful_pgbouncer(
    prepared: &str,
) -> (TestApp, dev_server::pgbouncer::PgBouncer, TestApp) {
    let direct = TestApp::spawn().await;
    let bouncer = forgetful_pgbouncer(&direct);
    let url = bouncer.url_for(&direct.database_url).expect("URL");
    let app = direct
        .attach(&[
            ("DATABASE_URL", &url),
            ("DATABASE_PREPARED_STATEMENTS", prepared),
        ])
        .await;
    (direct, bouncer, app)
}

/// Every route a signed-in user has, a few times over; each must succeed.
async fn drive_every_route(app: &TestApp, ada: &Session) {
    for round in 0..3 {
        let task = app.create_task(ada, &format!("round {round}"), None).await;
        let requests = [
            (Method::GET, ada.tasks_path(), None),
            (Method::GET, ada.task_path(&task["id"]), None),
            (
                Method::PUT,
                ada.task_path(&task["id"]),
                Some(json!({ "title": "put" })),
            ),
            (
                Method::PATCH,
                ada.task_path(&task["id"]),
                Some(json!({ "completed": true })),
            ),
            (Method::PATCH, ada.complete_path(&task["id"]), None),
            (Method::DELETE, ada.task_path(&task["id"]), None),
            (Method::GET, "/api/auth/session".to_owned(), None),
            (Method::GET, "/api/auth/sessions".to_owned(), None),
            (
                Method::PATCH,
                "/api/auth/user".to_owned(),
                Some(json!({ "name": "Ada" })),
            ),
        ];
        for (method, path, body) in requests {
            let mut request = app.with_token(method.clone(), &path, &ada.token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let (status, answer) = app.send(request).await;
            assert!(status.is_success(), "{method} {path}: {status} {answer}");
        }
        assert_eq!(
            app.signin_with("ada@example.com", PASSWORD).await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
#[ignore = "needs pgbouncer (apt-get install pgbouncer); CI runs it"]
async fn named_statements_a_pooler_forgets_fall_back_and_no_request_fails() {
    let (_direct, _bouncer, app) = behind_forgetful_pgbouncer("on").await;
    let ada = app.signup("ada@example.com").await;
    drive_every_route(&app, &ada).await;
    let fallbacks = app.state.db.fallbacks();
    assert!(
        (1..=4).contains(&fallbacks),
        "each connection falls back once: {fallbacks}"
    );
    assert_eq!(app.state.db.unplanned_statements(), 0);
}

#[tokio::test]
#[ignore = "needs pgbouncer (apt-get install pgbouncer); CI runs it"]
async fn with_prepared_statements_off_nothing_is_ever_named() {
    let (_direct, _bouncer, app) = behind_forgetful_pgbouncer("off").await;
    let ada = app.signup("ada@example.com").await;
    drive_every_route(&app, &ada).await;
    assert_eq!(app.state.db.fallbacks(), 0);
}
