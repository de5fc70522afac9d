//! openapi.yaml against the route table and the contract: exactly the routes of
//! `shared::routes::ROUTES`, each named after its function and documenting exactly the
//! statuses its handler can answer; and the local server serves it at GET /openapi.yaml.

use std::collections::BTreeSet;

use serde_json::Value;
use shared::routes::ROUTES;

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
/// Functions that take a token when there is one (declared public: nothing is refused).
/// Functions that refuse a body or query parameter with 400.
const VALIDATING: [&str; 15] = [
    "signup",
    "signin",
    "signout",
    "tasks-list",
    "task-create",
    "task-replace",
    "task-update",
    "change-password",
    "user-update",
    "user-delete",
    "forgot-password",
    "reset-password",
    "verify-email",
    "send-verification-email",
    "change-email",
];
/// Functions behind a throttle (signin, signup, password confirmations, mailed links).
const THROTTLED: [&str; 7] = [
    "signup",
    "signin",
    "change-password",
    "user-delete",
    "forgot-password",
    "send-verification-email",
    "change-email",
];

/// Whether `function` answers without a token, as it declares.
fn is_public(function: &str) -> bool {
    let declared = dev_server::declared(function).expect("a declared function");
    matches!(declared.access, shared::function::Access::Public(_))
}

/// Whether `function` answers with or without a token, as it declares (signout).
fn is_token_optional(function: &str) -> bool {
    let declared = dev_server::declared(function).expect("a declared function");
    matches!(declared.access, shared::function::Access::OptionalCaller(_))
}

/// Whether `function` is an account route (a Better Auth caller gets 403), as it declares.
fn is_account_route(function: &str) -> bool {
    let declared = dev_server::declared(function).expect("a declared function");
    matches!(declared.access, shared::function::Access::OwnAccount(_))
}

fn document() -> Value {
    serde_saphyr::from_str(dev_server::OPENAPI_YAML).expect("openapi.yaml parses as YAML")
}

/// `value` itself, or what its `$ref` (a local JSON pointer) points at.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference}: only local references"));
            let target = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} resolves to nothing"));
            resolve(doc, target)
        }
        None => value,
    }
}

struct Operation<'a> {
    method: String,
    path: &'a str,
    body: &'a Value,
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for (key, body) in item.as_object().expect("a path item") {
            if HTTP_METHODS.contains(&key.as_str()) {
                operations.push(Operation {
                    method: key.to_uppercase(),
                    path,
                    body,
                });
            }
        }
    }
    operations
}

/// The route table's function for an operation of the document.
fn function_of(operation: &Operation<'_>) -> &'static str {
    ROUTES
        .iter()
        .find(|r| r.method == operation.method && r.path == operation.path)
        .map(|r| r.function)
        .unwrap_or_else(|| panic!("{} {} is not routed", operation.method, operation.path))
}

#[test]
fn documents_exactly_the_routes_of_the_route_table() {
    let doc = document();
    assert_eq!(doc["openapi"].as_str(), Some("3.1.0"));
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .iter()
        .map(|op| (op.method.clone(), op.path.to_owned()))
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    for operation in operations(&doc) {
        assert_eq!(
            operation.body["operationId"].as_str(),
            Some(function_of(&operation)),
            "{} {}: the operationId is the function's name",
            operation.method,
            operation.path
        );
    }
}

/// The statuses `function` can answer at `path`, read off its handler and shared/src.
fn statuses_of(function: &str, path: &str) -> BTreeSet<String> {
    let created = matches!(function, "signup" | "task-create");
    let mut statuses = BTreeSet::from([if created { "201" } else { "200" }, "413", "415", "503"]);
    if VALIDATING.contains(&function) {
        statuses.insert("400");
    }
    if !is_public(function) && !is_token_optional(function) {
        statuses.insert("401");
    }
    if path.contains("{user_id}")
        || function == "signout"
        || function == "signin"
        || is_account_route(function)
    {
        // Somebody else's path, a cross-site request that only the cookie authenticates,
        // an account Better Auth manages, or an address to verify first.
        statuses.insert("403");
    }
    if path.contains("{task_id}") || path.contains("{session_id}") {
        statuses.insert("404");
    }
    if THROTTLED.contains(&function) {
        statuses.insert("429");
    }
    statuses.into_iter().map(str::to_owned).collect()
}

#[test]
fn every_operation_documents_exactly_the_statuses_it_can_answer() {
    let doc = document();
    for operation in operations(&doc) {
        let label = format!("{} {}", operation.method, operation.path);
        let responses = operation.body["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{label}: responses"));
        let documented: BTreeSet<String> = responses.keys().cloned().collect();
        assert_eq!(
            documented,
            statuses_of(function_of(&operation), operation.path),
            "{label}"
        );
        for (status, response) in responses {
            let response = resolve(&doc, response);
            let schema = &response["content"]["application/json"]["schema"];
            assert!(schema.is_object(), "{label} {status}: a JSON body");
            if !status.starts_with('2') {
                assert_eq!(
                    schema["$ref"].as_str(),
                    Some("#/components/schemas/Error"),
                    "{label} {status}: the error body"
                );
            }
        }
    }
}

#[test]
fn error_bodies_are_an_error_message_and_an_optional_code() {
    let doc = document();
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], serde_json::json!(["error"]));
    let properties = error["properties"].as_object().expect("properties");
    let names: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["code", "error"]), "{error}");
    assert!(
        properties
            .values()
            .all(|p| p["type"].as_str() == Some("string"))
    );
}

#[test]
fn tokens_are_required_exactly_where_the_contract_says() {
    let doc = document();
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"].as_str(), Some("http"));
    assert_eq!(scheme["scheme"].as_str(), Some("bearer"));
    assert_eq!(scheme["bearerFormat"].as_str(), Some("JWT"));
    let cookie = &doc["components"]["securitySchemes"]["cookieAuth"];
    assert_eq!(cookie["type"].as_str(), Some("apiKey"));
    assert_eq!(cookie["in"].as_str(), Some("cookie"));
    assert_eq!(
        cookie["name"].as_str(),
        Some(shared::access::SESSION_COOKIE)
    );
    let bearer_or_cookie = serde_json::json!([{ "bearerAuth": [] }, { "cookieAuth": [] }]);
    assert_eq!(
        doc["security"], bearer_or_cookie,
        "protected unless said otherwise"
    );
    for operation in operations(&doc) {
        let function = function_of(&operation);
        let security = &operation.body["security"];
        let expected = if is_token_optional(function) {
            serde_json::json!([{}, { "bearerAuth": [] }, { "cookieAuth": [] }])
        } else if is_public(function) {
            serde_json::json!([])
        } else {
            Value::Null
        };
        assert_eq!(security, &expected, "{function}");
    }
}

#[test]
fn throttled_answers_say_when_to_retry() {
    let doc = document();
    for operation in operations(&doc) {
        if !THROTTLED.contains(&function_of(&operation)) {
            continue;
        }
        let response = resolve(&doc, &operation.body["responses"]["429"]);
        let retry_after = &response["headers"]["Retry-After"];
        assert_eq!(retry_after["required"], Value::Bool(true));
        assert_eq!(retry_after["schema"]["type"].as_str(), Some("integer"));
    }
}

#[test]
fn every_reference_resolves() {
    fn walk(doc: &Value, value: &Value) {
        match value {
            Value::Object(map) => {
                resolve(doc, value);
                map.values().for_each(|v| walk(doc, v));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v)),
            _ => {}
        }
    }
    let doc = document();
    walk(&doc, &doc);
}

/// The local server, on a database it never reaches: the pool connects lazily, and neither
/// the document nor a 405 needs it.
async fn spawn_without_database() -> String {
    let lookup = |name: &str| match name {
        "DATABASE_URL" => Some("postgres://nobody@127.0.0.1:1/none".to_owned()),
        "BETTER_AUTH_SECRET" => Some("openapi-test-secret-0123456789-ABCDEF".to_owned()),
        "EMAIL_FROM" => Some("no-reply@example.com".to_owned()),
        "APP_URL" => Some("http://localhost:3000".to_owned()),
        _ => None,
    };
    let config = shared::config::Config::from_lookup(lookup).expect("config");
    let mail_dir = std::env::temp_dir().join("todo-api-openapi-test-mail");
    let state = std::sync::Arc::new(shared::state::MailState {
        app: shared::AppState::new(config, dev_server::plan).expect("state"),
        mailbox: shared::mail::Mailbox {
            settings: shared::config::MailSettings::from_lookup(&lookup).expect("mail"),
            mailer: std::sync::Arc::new(
                dev_server::mailbox::DevMailbox::new(&mail_dir).expect("mailbox"),
            ),
        },
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(dev_server::serve(listener, state));
    format!("http://{address}")
}

#[tokio::test]
async fn the_local_server_serves_the_document() {
    let base = spawn_without_database().await;
    let response = reqwest::get(format!("{base}{}", dev_server::OPENAPI_PATH))
        .await
        .expect("request");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("application/yaml")
    );
    let text = response.text().await.expect("body");
    let on_disk = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    assert_eq!(
        text,
        std::fs::read_to_string(on_disk).expect("openapi.yaml")
    );
}

#[tokio::test]
async fn the_local_server_home_page_lists_every_route_and_links_the_document() {
    let base = spawn_without_database().await;
    let response = reqwest::get(format!("{base}/")).await.expect("request");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("text/html; charset=utf-8")
    );
    let page = response.text().await.expect("body");
    assert!(page.contains("<a href=\"/openapi.yaml\">"), "{page}");
    for route in ROUTES {
        let row = format!(
            "<tr><td>{}</td><td><code>{}</code></td><td><code>functions/{}</code></td></tr>",
            route.method, route.path, route.function
        );
        assert!(page.contains(&row), "{row}");
    }
}

#[tokio::test]
async fn an_undocumented_method_gets_405_with_the_documented_ones_allowed() {
    let base = spawn_without_database().await;
    let doc = document();
    let client = reqwest::Client::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let mut documented: Vec<String> = item
            .as_object()
            .expect("a path item")
            .keys()
            .filter(|key| HTTP_METHODS.contains(&key.as_str()))
            .map(|method| method.to_uppercase())
            .collect();
        documented.push("OPTIONS".to_owned());
        let concrete = path
            .replace("{user_id}", "6f1c0a5e-3b7d-4c1e-9a2b-1d2e3f4a5b6c")
            .replace("{task_id}", "1");
        let response = client
            .request(reqwest::Method::TRACE, format!("{base}{concrete}"))
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status(),
            reqwest::StatusCode::METHOD_NOT_ALLOWED,
            "{path}"
        );
        let allowed: BTreeSet<&str> = response.headers()["allow"]
            .to_str()
            .expect("ASCII")
            .split(", ")
            .collect();
        let documented: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
        assert_eq!(allowed, documented, "{path}");
    }
}
