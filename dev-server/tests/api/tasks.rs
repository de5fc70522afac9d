//! The task routes: shapes, validation edges, list parameters, PUT vs PATCH, toggles, and
//! strict per-user isolation on every route and method.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, error, task_path, tasks_path};

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|task| task["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn create_returns_the_task_and_get_reads_it_back() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let task = app
        .create_task(&ada, "  Buy milk  ", Some("2 litres"))
        .await;
    let object = task.as_object().unwrap();
    assert_eq!(object.len(), 7, "{task}");
    assert!(task["id"].as_i64().unwrap() > 0);
    assert_eq!(task["user_id"], json!(ada.user_id));
    assert_eq!(task["title"], json!("Buy milk"));
    assert_eq!(task["description"], json!("2 litres"));
    assert_eq!(task["completed"], json!(false));
    let created = task["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z'), "{created}");
    time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(task["updated_at"], task["created_at"]);

    let path = ada.task_path(&task["id"]);
    assert_eq!(
        app.send(app.with_token(Method::GET, &path, &ada.token))
            .await,
        (StatusCode::OK, task.clone())
    );
    let without_description = app.create_task(&ada, "Call mum", None).await;
    assert_eq!(without_description["description"], Value::Null);
}

#[tokio::test]
async fn title_and_description_limits_hold_at_the_edge() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let path = ada.tasks_path();
    let post = |body: Value| app.send(app.with_token(Method::POST, &path, &ada.token).json(&body));
    assert_eq!(
        post(json!({ "title": "t".repeat(200), "description": "d".repeat(1000) }))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        post(json!({ "title": "t".repeat(201) })).await,
        (
            StatusCode::BAD_REQUEST,
            error("Title must be 200 characters or less")
        )
    );
    assert_eq!(
        post(json!({ "title": "ok", "description": "d".repeat(1001) })).await,
        (
            StatusCode::BAD_REQUEST,
            error("Description must be 1000 characters or less")
        )
    );
    assert_eq!(
        post(json!({ "title": "   " })).await,
        (StatusCode::BAD_REQUEST, error("Title is required"))
    );
    assert_eq!(
        post(json!({ "description": "no title" })).await,
        (StatusCode::BAD_REQUEST, error("Title is required"))
    );
    assert_eq!(
        post(json!({ "title": ["x"] })).await,
        (
            StatusCode::BAD_REQUEST,
            error("Invalid request body: invalid type: sequence, expected a string")
        )
    );
    assert_eq!(app.count("tasks").await, 1);
}

#[tokio::test]
async fn list_is_newest_first_and_every_parameter_works() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let banana = app.create_task(&ada, "banana", Some("Yellow FRUIT")).await;
    let apple = app.create_task(&ada, "Apple", None).await;
    let cherry = app.create_task(&ada, "cherry 100%", Some("red")).await;
    let done_path = ada.complete_path(&apple["id"]);
    assert_eq!(
        app.send(app.with_token(Method::PATCH, &done_path, &ada.token))
            .await
            .0,
        StatusCode::OK
    );
    let [b, a, c] = [&banana, &apple, &cherry].map(|t| t["id"].as_i64().unwrap());

    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("", vec![c, a, b]),
        ("?order=asc", vec![b, a, c]),
        ("?status=all", vec![c, a, b]),
        ("?status=pending", vec![c, b]),
        ("?status=completed", vec![a]),
        ("?sort=title&order=asc", vec![a, b, c]),
        ("?sort=title", vec![c, b, a]),
        ("?sort=updated", vec![a, c, b]),
        ("?limit=2", vec![c, a]),
        ("?limit=2&offset=2", vec![b]),
        ("?offset=3", vec![]),
        ("?q=FRUIT", vec![b]),
        ("?q=fruit&status=completed", vec![]),
        ("?q=%25", vec![c]),
        ("?q=_", vec![]),
        ("?q=e&sort=title&order=asc&limit=2", vec![a, b]),
        ("?q=", vec![c, a, b]),
    ];
    for (query, expected) in cases {
        let (status, body) = app.list_tasks(&ada, query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(ids(&body), expected, "{query}");
    }
    let (_, all) = app.list_tasks(&ada, "").await;
    assert_eq!(all[0], cherry);

    let refusals = [
        (
            "?status=done",
            "status must be one of: all, pending, completed",
        ),
        ("?sort=id", "sort must be one of: created, updated, title"),
        ("?order=random", "order must be one of: asc, desc"),
        ("?limit=0", "limit must be a whole number from 1 to 100"),
        ("?limit=101", "limit must be a whole number from 1 to 100"),
        ("?limit=x", "limit must be a whole number from 1 to 100"),
        ("?offset=-1", "offset must be a whole number of 0 or more"),
    ];
    for (query, message) in refusals {
        assert_eq!(
            app.list_tasks(&ada, query).await,
            (StatusCode::BAD_REQUEST, error(message)),
            "{query}"
        );
    }
}

#[tokio::test]
async fn put_replaces_and_patch_changes_only_what_is_given() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let task = app.create_task(&ada, "Draft", Some("notes")).await;
    let path = ada.task_path(&task["id"]);
    let send = |method: Method, body: Value| {
        app.send(app.with_token(method, &path, &ada.token).json(&body))
    };

    let (status, patched) = send(Method::PATCH, json!({ "completed": true })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            patched["title"].clone(),
            patched["description"].clone(),
            patched["completed"].clone()
        ),
        (json!("Draft"), json!("notes"), json!(true))
    );
    assert!(
        patched["updated_at"].as_str() > task["updated_at"].as_str(),
        "updated_at bumped"
    );
    assert_eq!(patched["created_at"], task["created_at"]);

    let (_, patched) = send(Method::PATCH, json!({ "title": " Final " })).await;
    assert_eq!(
        (
            patched["title"].clone(),
            patched["description"].clone(),
            patched["completed"].clone()
        ),
        (json!("Final"), json!("notes"), json!(true))
    );
    let (_, patched) = send(Method::PATCH, json!({ "description": null })).await;
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(
        send(Method::PATCH, json!({})).await,
        (
            StatusCode::BAD_REQUEST,
            error("Provide at least one of title, description, completed")
        )
    );
    assert_eq!(
        send(Method::PATCH, json!({ "title": null })).await,
        (StatusCode::BAD_REQUEST, error("Title is required"))
    );
    assert_eq!(
        send(Method::PATCH, json!({ "description": "d".repeat(1001) })).await,
        (
            StatusCode::BAD_REQUEST,
            error("Description must be 1000 characters or less")
        )
    );

    let (status, replaced) = send(
        Method::PUT,
        json!({ "title": "Replaced", "description": "new" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            replaced["title"].clone(),
            replaced["description"].clone(),
            replaced["completed"].clone()
        ),
        (json!("Replaced"), json!("new"), json!(true))
    );
    assert!(replaced["updated_at"].as_str() > patched["updated_at"].as_str());
    let (_, replaced) = send(
        Method::PUT,
        json!({ "title": "Only title", "completed": false }),
    )
    .await;
    assert_eq!(
        (
            replaced["description"].clone(),
            replaced["completed"].clone()
        ),
        (Value::Null, json!(false))
    );
    assert_eq!(
        send(Method::PUT, json!({ "description": "x" })).await,
        (StatusCode::BAD_REQUEST, error("Title is required"))
    );
    assert_eq!(
        send(Method::PUT, json!({ "title": "t".repeat(201) })).await,
        (
            StatusCode::BAD_REQUEST,
            error("Title must be 200 characters or less")
        )
    );
    let (_, current) = app
        .send(app.with_token(Method::GET, &path, &ada.token))
        .await;
    assert_eq!(current, replaced, "refused writes changed nothing");
}

#[tokio::test]
async fn toggling_twice_restores_and_delete_then_404() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let task = app.create_task(&ada, "Toggle me", None).await;
    let path = ada.task_path(&task["id"]);
    let toggle =
        || app.send(app.with_token(Method::PATCH, &format!("{path}/complete"), &ada.token));
    assert_eq!(toggle().await.1["completed"], json!(true));
    assert_eq!(toggle().await.1["completed"], json!(false));

    let deleted = app
        .send(app.with_token(Method::DELETE, &path, &ada.token))
        .await;
    assert_eq!(
        deleted,
        (
            StatusCode::OK,
            json!({ "message": "Task deleted successfully" })
        )
    );
    let not_found = (StatusCode::NOT_FOUND, error("Task not found"));
    assert_eq!(
        app.send(app.with_token(Method::GET, &path, &ada.token))
            .await,
        not_found
    );
    assert_eq!(
        app.send(app.with_token(Method::DELETE, &path, &ada.token))
            .await,
        not_found
    );
    assert_eq!(toggle().await, not_found);
}

#[tokio::test]
async fn task_ids_that_cannot_exist_are_404_never_5xx() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    for id in ["0", "-1", "abc", "1.5", "99999999999999999999", "%20"] {
        let path = ada.task_path(id);
        for method in [Method::GET, Method::DELETE] {
            assert_eq!(
                app.send(app.with_token(method.clone(), &path, &ada.token))
                    .await,
                (StatusCode::NOT_FOUND, error("Task not found")),
                "{method} {id}"
            );
        }
        let request = app.with_token(Method::PATCH, &format!("{path}/complete"), &ada.token);
        assert_eq!(app.send(request).await.0, StatusCode::NOT_FOUND, "{id}");
    }
}

/// Every task route with a body that would succeed (also used by the cookie tests).
pub fn routes(user: &str, task: &Value) -> Vec<(Method, String, Option<Value>)> {
    let item = task_path(user, &task["id"]);
    vec![
        (Method::GET, tasks_path(user), None),
        (
            Method::POST,
            tasks_path(user),
            Some(json!({ "title": "intruder" })),
        ),
        (Method::GET, item.clone(), None),
        (
            Method::PUT,
            item.clone(),
            Some(json!({ "title": "intruder", "description": "x" })),
        ),
        (
            Method::PATCH,
            item.clone(),
            Some(json!({ "completed": true })),
        ),
        (Method::PATCH, format!("{item}/complete"), None),
        (Method::DELETE, item.clone(), None),
    ]
}

async fn call(
    app: &TestApp,
    who: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.with_token(method, path, &who.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.send(request).await
}

#[tokio::test]
async fn isolation_matrix_no_cross_user_read_or_write() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let ada_task = app.create_task(&ada, "Ada's", None).await;
    let bob_task = app.create_task(&bob, "Bob's secret", Some("private")).await;
    let bob_before = app.snapshot(&bob.user_id).await;
    let ada_before = app.snapshot(&ada.user_id).await;

    // Ada on Bob's path: 403 on every route and method.
    for (method, path, body) in routes(&bob.user_id, &bob_task) {
        let answer = call(&app, &ada, method.clone(), &path, body).await;
        assert_eq!(
            answer,
            (
                StatusCode::FORBIDDEN,
                error("Access denied to this resource")
            ),
            "{method} {path}"
        );
    }
    // Ada on her own path with Bob's task id: 404 on every item route.
    for (method, path, body) in routes(&ada.user_id, &bob_task).into_iter().skip(2) {
        let answer = call(&app, &ada, method.clone(), &path, body).await;
        assert_eq!(
            answer,
            (StatusCode::NOT_FOUND, error("Task not found")),
            "{method} {path}"
        );
    }
    let (_, listed) = app.list_tasks(&ada, "?q=secret").await;
    assert_eq!(listed, json!([]));
    assert_eq!(
        app.snapshot(&bob.user_id).await,
        bob_before,
        "Bob's rows are byte-for-byte unchanged"
    );
    assert_eq!(app.snapshot(&ada.user_id).await, ada_before);
    assert_eq!(app.count("tasks").await, 2);
    let _ = ada_task;
}

#[tokio::test]
async fn every_task_route_needs_a_live_token() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let task = app.create_task(&ada, "Mine", None).await;
    let before = app.snapshot(&ada.user_id).await;
    for (method, path, body) in routes(&ada.user_id, &task) {
        let mut request = app.request(method.clone(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        assert_eq!(
            app.send(request).await,
            (StatusCode::UNAUTHORIZED, error("Authentication required")),
            "{method} {path}"
        );
    }

    let request = app.with_token(Method::POST, "/api/auth/signout", &ada.token);
    assert_eq!(app.send(request).await.0, StatusCode::OK);
    let revoked = (
        StatusCode::UNAUTHORIZED,
        error("Invalid or malformed token"),
    );
    let bob = app.signup("bob@example.com").await;
    for (method, path, body) in routes(&ada.user_id, &task)
        .into_iter()
        .chain(routes(&bob.user_id, &task))
    {
        assert_eq!(
            call(&app, &ada, method.clone(), &path, body).await,
            revoked,
            "{method} {path}"
        );
    }
    // Early refusals (bad body, bad id, bad query) still say 401 to a revoked token.
    let bad_body = call(&app, &ada, Method::POST, &ada.tasks_path(), Some(json!({}))).await;
    assert_eq!(bad_body, revoked);
    assert_eq!(
        call(&app, &ada, Method::GET, &ada.task_path(0), None).await,
        revoked
    );
    assert_eq!(app.list_tasks(&ada, "?limit=0").await, revoked);
    assert_eq!(
        app.snapshot(&ada.user_id).await,
        before,
        "nothing written with a revoked token"
    );
}

#[tokio::test]
async fn each_task_request_is_one_database_round_trip() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let task = app.create_task(&ada, "Count me", None).await;
    for (method, path, body) in routes(&ada.user_id, &task) {
        let before = app.state.db.round_trips();
        let (status, _) = call(&app, &ada, method.clone(), &path, body).await;
        let created = method == Method::POST;
        let success = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        assert_eq!(status, success, "{method} {path}");
        assert_eq!(app.state.db.round_trips() - before, 1, "{method} {path}");
    }
}

#[tokio::test]
async fn deleting_a_user_deletes_its_tasks_and_sessions() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    app.create_task(&ada, "One", None).await;
    app.create_task(&ada, "Two", None).await;
    app.create_task(&bob, "Bob's", None).await;
    let ada_id: uuid::Uuid = ada.user_id.parse().unwrap();
    app.db
        .execute("DELETE FROM users WHERE id = $1", &[&ada_id])
        .await
        .unwrap();
    assert_eq!(app.count("tasks").await, 1);
    assert_eq!(app.count("sessions").await, 1);
    assert_eq!(
        app.get_session(&ada.token).await,
        (
            StatusCode::UNAUTHORIZED,
            error("Invalid or malformed token")
        )
    );
}

#[tokio::test]
async fn concurrent_toggles_are_never_lost() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let task = app.create_task(&ada, "Race", None).await;
    let path = ada.complete_path(&task["id"]);
    for (count, expected) in [(20, false), (21, true)] {
        let toggles =
            (0..count).map(|_| app.send(app.with_token(Method::PATCH, &path, &ada.token)));
        let answers = futures_util::future::join_all(toggles).await;
        assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK));
        let (_, current) = app
            .send(app.with_token(Method::GET, &path.replace("/complete", ""), &ada.token))
            .await;
        assert_eq!(
            current["completed"],
            json!(expected),
            "after {count} more toggles"
        );
    }
}

/// Function URLs and plain routers pass no `pathParameters`: the handler reads them off the
/// raw path. Called directly, as the Lambda runtime would call it.
#[tokio::test]
async fn handlers_read_parameters_from_the_raw_path_when_none_are_given() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let task = app.create_task(&ada, "From a Function URL", None).await;
    let request = lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!(
            "https://abc.lambda-url.eu-west-1.on.aws/api/{}/tasks/{}",
            ada.user_id, task["id"]
        ))
        .header("authorization", format!("Bearer {}", ada.token))
        .body(lambda_http::Body::Empty)
        .unwrap();
    let response = (task_get::FUNCTION.handler)(&app.state.app, request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body, task);
}
