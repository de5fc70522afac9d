//! Every auth rule and message of the contract, with exact status codes and bodies.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::Claims;

use crate::helpers::{ORIGIN, PASSWORD, SECRET, TestApp, error, session_of};

fn claims_of(token: &str) -> Claims {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("token signed with BETTER_AUTH_SECRET")
    .claims
}

#[tokio::test]
async fn signup_creates_the_user_and_a_token_with_the_contract_claims() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .signup_with("  Ada Lovelace ", "  Ada@Example.COM ", PASSWORD)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    assert_eq!(
        body["user"],
        json!({ "id": id, "email": "ada@example.com", "name": "Ada Lovelace", "email_verified": false })
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        3,
        "only user, token and device token: {body}"
    );
    let device_token = body["device_token"].as_str().unwrap();
    assert_eq!(
        device_token.len(),
        43,
        "32 random bytes, base64url: {device_token}"
    );

    let claims = claims_of(body["token"].as_str().unwrap());
    assert_eq!(
        (claims.sub.as_str(), claims.user_id.as_str()),
        (id.as_str(), id.as_str())
    );
    assert_eq!(
        (claims.email.as_str(), claims.name.as_str()),
        ("ada@example.com", "Ada Lovelace")
    );
    assert_eq!(claims.exp - claims.iat, 604_800);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - claims.iat).abs() < 60);
    uuid::Uuid::parse_str(&claims.jti).expect("jti is the session id");

    let row = app
        .db
        .query_one("SELECT email, password_hash FROM users", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ada@example.com");
    assert!(
        row.get::<_, String>(1)
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert_eq!(app.count("sessions").await, 1);
}

#[tokio::test]
async fn signup_rules_answer_in_the_contract_order_and_store_nothing() {
    let app = TestApp::spawn().await;
    let long_name = "n".repeat(101);
    let long_email = format!("{}@{}.com", "a".repeat(64), "b".repeat(186));
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "Name is required"),
        (
            json!({ "name": "   ", "email": "bad", "password": "1" }),
            "Name is required",
        ),
        (
            json!({ "name": long_name, "email": "a@b.co", "password": PASSWORD }),
            "Name must be 100 characters or less",
        ),
        (json!({ "name": "Ada" }), "Email is required"),
        (
            json!({ "name": "Ada", "email": "  ", "password": PASSWORD }),
            "Email is required",
        ),
        (
            json!({ "name": "Ada", "email": "ada.example.com", "password": "1" }),
            "Please enter a valid email",
        ),
        (
            json!({ "name": "Ada", "email": "ada@example", "password": PASSWORD }),
            "Please enter a valid email",
        ),
        (
            json!({ "name": "Ada", "email": long_email, "password": PASSWORD }),
            "Please enter a valid email",
        ),
        (
            json!({ "name": "Ada", "email": "ada@example.com" }),
            "Password is required",
        ),
        (
            json!({ "name": "Ada", "email": "ada@example.com", "password": "" }),
            "Password is required",
        ),
        (
            json!({ "name": "Ada", "email": "ada@example.com", "password": "1234567" }),
            "Password must be at least 8 characters",
        ),
        (
            json!({ "name": "Ada", "email": "ada@example.com", "password": "x".repeat(129) }),
            "Password must be 128 characters or less",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = app.post_json("/api/auth/signup", &body).await;
        assert_eq!(
            (status, answer),
            (StatusCode::BAD_REQUEST, error(message)),
            "{body}"
        );
    }
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn signup_limits_hold_at_the_edge_and_passwords_are_kept_as_typed() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .signup_with(&"漢".repeat(100), "edge@example.com", &" x".repeat(64))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["name"], json!("漢".repeat(100)));
    // 128 characters with leading and trailing spaces: signin needs them all.
    let (status, _) = app.signin_with("edge@example.com", &" x".repeat(64)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .signin_with("edge@example.com", " x".repeat(64).trim())
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, error("Invalid email or password"))
    );
}

#[tokio::test]
async fn a_registered_email_is_refused_whatever_its_case() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    let (status, body) = app.signup_with("Other", " ADA@example.com", PASSWORD).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, error("Email already registered"))
    );
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("sessions").await, 1);
}

#[tokio::test]
async fn signin_returns_the_user_and_a_new_session() {
    let app = TestApp::spawn().await;
    let signed_up = app.signup("ada@example.com").await;
    let (status, body) = app.signin_with("  ADA@example.com ", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["user"],
        json!({ "id": signed_up.user_id, "email": "ada@example.com", "name": "Ada Lovelace", "email_verified": false })
    );
    let signed_in = session_of(&body);
    assert_ne!(
        claims_of(&signed_in.token).jti,
        claims_of(&signed_up.token).jti
    );
    assert_eq!(app.count("sessions").await, 2);
}

#[tokio::test]
async fn signin_failures_share_one_answer() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    let (status, body) = app
        .post_json("/api/auth/signin", &json!({ "password": PASSWORD }))
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, error("Email is required"))
    );
    let (status, body) = app.signin_with(" ", PASSWORD).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, error("Email is required"))
    );
    let (status, body) = app
        .post_json("/api/auth/signin", &json!({ "email": "ada@example.com" }))
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, error("Password is required"))
    );
    let (status, body) = app.signin_with("ada@example.com", "").await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, error("Password is required"))
    );

    let wrong_password = app.signin_with("ada@example.com", "not the password").await;
    let unknown_email = app.signin_with("nobody@example.com", PASSWORD).await;
    assert_eq!(
        wrong_password,
        (StatusCode::BAD_REQUEST, error("Invalid email or password"))
    );
    assert_eq!(unknown_email, wrong_password);
    assert_eq!(
        app.count("sessions").await,
        1,
        "failed signins open no session"
    );
}

#[tokio::test]
async fn session_answers_the_user_and_expiry_in_one_round_trip() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let before = app.state.db.round_trips();
    let (status, body) = app.get_session(&ada.token).await;
    assert_eq!(
        app.state.db.round_trips() - before,
        1,
        "the revocation check shares the statement"
    );
    assert_eq!(status, StatusCode::OK);
    let exp = claims_of(&ada.token).exp;
    let expires_at = time::OffsetDateTime::from_unix_timestamp(exp)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(expires_at.ends_with('Z'));
    assert_eq!(
        body,
        json!({
            "user": { "id": ada.user_id, "email": "ada@example.com", "name": "Ada Lovelace", "email_verified": false },
            "expires_at": expires_at,
        })
    );
    // The scheme is case-insensitive.
    let request = app
        .request(Method::GET, "/api/auth/session")
        .header("Authorization", format!("bEaReR {}", ada.token));
    assert_eq!(app.send(request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn session_refuses_missing_malformed_and_expired_tokens() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let (status, body) = app
        .send(app.request(Method::GET, "/api/auth/session"))
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, error("Authentication required"))
    );

    let invalid = error("Invalid or malformed token");
    for header in [
        "Bearer not-a-jwt",
        "Basic YWRhOnB3",
        "Bearer",
        &format!("Token {}", ada.token),
    ] {
        let request = app
            .request(Method::GET, "/api/auth/session")
            .header("Authorization", header);
        assert_eq!(
            app.send(request).await,
            (StatusCode::UNAUTHORIZED, invalid.clone()),
            "{header}"
        );
    }

    let mut claims = claims_of(&ada.token);
    claims.exp = claims.iat - 10;
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.get_session(&expired).await,
        (
            StatusCode::UNAUTHORIZED,
            error("Token expired, please log in again")
        )
    );
    claims.exp = claims.iat + 600;
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&[b'x'; 40]),
    )
    .unwrap();
    assert_eq!(
        app.get_session(&forged).await,
        (StatusCode::UNAUTHORIZED, invalid.clone())
    );
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.get_session(&hs512).await,
        (StatusCode::UNAUTHORIZED, invalid.clone())
    );
    let mut parts: Vec<String> = ada.token.split('.').map(str::to_owned).collect();
    parts[0] = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0".to_owned(); // {"alg":"none","typ":"JWT"}
    parts[2].clear();
    assert_eq!(
        app.get_session(&parts.join(".")).await,
        (StatusCode::UNAUTHORIZED, invalid)
    );
}

#[tokio::test]
async fn token_lifetime_follows_jwt_expires_in() {
    let app = TestApp::spawn_with(&[("JWT_EXPIRES_IN", "1")]).await;
    let ada = app.signup("ada@example.com").await;
    let claims = claims_of_unchecked(&ada.token);
    assert_eq!(claims.exp - claims.iat, 1);
    // The same token, issued two seconds earlier: its one second has passed.
    assert_eq!(
        app.get_session(&crate::helpers::issued_earlier(&ada.token, 2))
            .await,
        (
            StatusCode::UNAUTHORIZED,
            error("Token expired, please log in again")
        )
    );
}

fn claims_of_unchecked(token: &str) -> Claims {
    jsonwebtoken::dangerous::insecure_decode::<Claims>(token)
        .unwrap()
        .claims
}

#[tokio::test]
async fn signout_revokes_only_that_session() {
    let app = TestApp::spawn().await;
    let laptop = app.signup("ada@example.com").await;
    let phone = app.signin("ada@example.com").await;

    let request = app
        .request(Method::POST, "/api/auth/signout")
        .bearer_auth(&laptop.token);
    assert_eq!(
        app.send(request).await,
        (
            StatusCode::OK,
            json!({ "message": "Signed out successfully" })
        )
    );
    assert_eq!(
        app.get_session(&laptop.token).await,
        (
            StatusCode::UNAUTHORIZED,
            error("Invalid or malformed token")
        )
    );
    assert_eq!(app.get_session(&phone.token).await.0, StatusCode::OK);
    assert_eq!(app.count("sessions").await, 1);
}

#[tokio::test]
async fn global_signout_revokes_every_session_of_the_user_only() {
    let app = TestApp::spawn().await;
    let laptop = app.signup("ada@example.com").await;
    let phone = app.signin("ada@example.com").await;
    let grace = app.signup("grace@example.com").await;

    let request = app
        .request(Method::POST, "/api/auth/signout?scope=global")
        .bearer_auth(&phone.token);
    assert_eq!(
        app.send(request).await,
        (
            StatusCode::OK,
            json!({ "message": "Signed out successfully" })
        )
    );
    for token in [&laptop.token, &phone.token] {
        assert_eq!(app.get_session(token).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.get_session(&grace.token).await.0, StatusCode::OK);

    // A revoked token cannot sign anyone out again.
    let request = app
        .request(Method::POST, "/api/auth/signout?scope=global")
        .bearer_auth(&phone.token);
    assert_eq!(app.send(request).await.0, StatusCode::OK);
    assert_eq!(app.get_session(&grace.token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn signout_without_a_usable_token_still_answers_200() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let ok = (
        StatusCode::OK,
        json!({ "message": "Signed out successfully" }),
    );
    assert_eq!(
        app.send(app.request(Method::POST, "/api/auth/signout"))
            .await,
        ok
    );
    let request = app
        .request(Method::POST, "/api/auth/signout")
        .bearer_auth("garbage");
    assert_eq!(app.send(request).await, ok);
    assert_eq!(app.count("sessions").await, 1);
    let request = app
        .request(Method::POST, "/api/auth/signout?scope=everywhere")
        .bearer_auth(&ada.token);
    assert_eq!(
        app.send(request).await,
        (
            StatusCode::BAD_REQUEST,
            error("scope must be \"global\" or left out")
        )
    );
    assert_eq!(app.get_session(&ada.token).await.0, StatusCode::OK);
}

/// A cross-site form or `no-cors` fetch can POST any body without a preflight, but never
/// as `application/json`: such bodies are refused before anything reads them.
#[tokio::test]
async fn bodies_that_are_not_declared_json_get_415_and_change_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let unsupported = (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        error("Content-Type must be application/json"),
    );
    let signup = r#"{"name":"Eve","email":"eve@example.com","password":"correct horse"}"#;
    let signin = format!(r#"{{"email":"ada@example.com","password":"{PASSWORD}"}}"#);
    let task = r#"{"title":"forged"}"#;
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
        None,
    ] {
        let with_type = |request: reqwest::RequestBuilder| match content_type {
            Some(value) => request.header("content-type", value),
            None => request,
        };
        let requests = [
            with_type(app.request(Method::POST, "/api/auth/signup")).body(signup),
            with_type(app.request(Method::POST, "/api/auth/signin")).body(signin.clone()),
            with_type(app.with_token(Method::POST, &ada.tasks_path(), &ada.token)).body(task),
        ];
        for request in requests {
            assert_eq!(app.send(request).await, unsupported, "{content_type:?}");
        }
    }
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("sessions").await, 1, "no signin happened");
    assert_eq!(app.count("tasks").await, 0);

    // Parameters are allowed, and a request without a body needs no type at all.
    let request = app
        .with_token(Method::POST, &ada.tasks_path(), &ada.token)
        .header("content-type", "Application/JSON; charset=utf-8")
        .body(task);
    assert_eq!(app.send(request).await.0, StatusCode::CREATED);
    assert_eq!(app.get_session(&ada.token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn malformed_bodies_get_a_json_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let raw = |body: &'static str| {
        app.request(Method::POST, "/api/auth/signup")
            .header("content-type", "application/json")
            .body(body)
    };
    assert_eq!(
        app.send(raw("{\"name\": ")).await,
        (
            StatusCode::BAD_REQUEST,
            error("Request body must be valid JSON")
        )
    );
    assert_eq!(
        app.send(raw("[1, 2]")).await,
        (
            StatusCode::BAD_REQUEST,
            error("Request body must be a JSON object")
        )
    );
    assert_eq!(
        app.send(raw("\"text\"")).await,
        (
            StatusCode::BAD_REQUEST,
            error("Request body must be a JSON object")
        )
    );
    assert_eq!(
        app.send(raw(
            "{\"name\": 5, \"email\": \"a@b.co\", \"password\": \"12345678\"}"
        ))
        .await,
        (
            StatusCode::BAD_REQUEST,
            error("Invalid request body: invalid type: integer `5`, expected a string")
        )
    );
    assert_eq!(
        app.send(raw("")).await,
        (StatusCode::BAD_REQUEST, error("Name is required"))
    );
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(64 * 1024));
    let request = app.request(Method::POST, "/api/auth/signup").body(huge);
    assert_eq!(
        app.send(request).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            error("Request body must be 64 KiB or less")
        )
    );
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn cors_answers_listed_origins_only_and_never_the_wildcard() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &str| {
        app.request(Method::OPTIONS, "/api/auth/signup")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
    };
    let response = preflight(ORIGIN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(
        headers["access-control-allow-headers"],
        "Authorization, Content-Type"
    );

    let response = preflight("https://evil.example").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        response
            .headers()
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-"))
    );

    let response = app
        .request(Method::GET, "/api/health")
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
    let response = app
        .request(Method::GET, "/api/health")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Errors carry the headers too, so the browser can read the message.
    let response = app
        .request(Method::GET, "/api/auth/session")
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
}

#[tokio::test]
async fn health_checks_the_database_and_unknown_routes_answer_json() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.send(app.request(Method::GET, "/api/health")).await,
        (StatusCode::OK, json!({ "status": "ok", "database": "ok" }))
    );
    assert_eq!(
        app.send(app.request(Method::GET, "/api/nowhere")).await,
        (StatusCode::NOT_FOUND, error("Not found"))
    );
    assert_eq!(
        app.send(app.request(Method::DELETE, "/api/auth/signup"))
            .await,
        (StatusCode::METHOD_NOT_ALLOWED, error("Method not allowed"))
    );
}

#[tokio::test]
async fn the_body_limit_is_exactly_64_kib_and_larger_bodies_are_never_parsed() {
    let app = TestApp::spawn().await;
    let body_of_length = |length: usize| {
        let frame = "{\"name\": \"\", \"email\": \"a@b.co\", \"password\": \"12345678\"}";
        // Pad with whitespace after the object: valid JSON of exactly `length` bytes.
        format!("{frame}{}", " ".repeat(length - frame.len()))
    };
    let signup = |body: String| {
        app.request(Method::POST, "/api/auth/signup")
            .header("content-type", "application/json")
            .body(body)
    };
    assert_eq!(
        app.send(signup(body_of_length(64 * 1024))).await,
        (StatusCode::BAD_REQUEST, error("Name is required")),
        "64 KiB is parsed"
    );
    let too_large = (
        StatusCode::PAYLOAD_TOO_LARGE,
        error("Request body must be 64 KiB or less"),
    );
    assert_eq!(
        app.send(signup(body_of_length(64 * 1024 + 1))).await,
        too_large
    );
    // Megabytes of something that is not even JSON: refused on size alone.
    assert_eq!(app.send(signup("x".repeat(8 << 20))).await, too_large);
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn the_home_page_follows_app_url() {
    let app = TestApp::spawn_with(&[
        ("APP_URL", "http://localhost:3100"),
        ("ALLOWED_ORIGINS", "http://localhost:3100"),
    ])
    .await;
    let response = app
        .request(Method::GET, "/")
        .send()
        .await
        .expect("the home page");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
    let page = response.text().await.expect("its text");
    assert!(
        page.contains("<a href=\"http://localhost:3100\">http://localhost:3100</a>"),
        "{page}"
    );
    assert!(
        page.contains("PORT=3100 npm --prefix examples/nextjs run dev"),
        "{page}"
    );
    assert!(
        page.contains("ALLOWED_ORIGINS=http://localhost:3100"),
        "{page}"
    );
    assert!(!page.contains("3000"), "{page}");
}
