//! Browser sessions: signup and signin set the `todo_session` cookie, every protected route
//! takes it when no `Authorization` header is sent (the header wins), unsafe requests that
//! only the cookie authenticates need an allowed `Origin`, and signout clears it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ORIGIN, PASSWORD, TestApp, error, issued_earlier, session_of};
use crate::samples::{
    Account, Call, Credential, MANY_ACCOUNTS, every_route, every_route_on_its_own_account,
};

const LIFETIME: &str = "604800";

/// The `Set-Cookie` values of a response.
fn set_cookies(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().expect("ASCII").to_owned())
        .collect()
}

fn session_cookie(token: &str, same_site: &str, max_age: &str) -> String {
    format!(
        "todo_session={token}; HttpOnly; Secure; SameSite={same_site}; Path=/api; Max-Age={max_age}"
    )
}

/// The known-device cookie a signup or signin sets: the body's device token, for the auth
/// routes only, 400 days, `SameSite=Lax` whatever `COOKIE_SAMESITE` says.
fn device_cookie(body: &Value) -> String {
    let token = body["device_token"].as_str().expect("a device token");
    format!("todo_device={token}; HttpOnly; Secure; SameSite=Lax; Path=/api/auth; Max-Age=34560000")
}

/// A request carrying `token` in the session cookie only.
fn with_cookie(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.request(method, path)
        .header("cookie", format!("theme=dark; todo_session={token}"))
}

#[tokio::test]
async fn signup_and_signin_set_the_session_cookie_and_signout_clears_it() {
    let app = TestApp::spawn().await;
    let body = json!({ "name": "Ada", "email": "ada@example.com", "password": PASSWORD });
    let (status, headers, body) = app
        .send_with_headers(app.request(Method::POST, "/api/auth/signup").json(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ada = session_of(&body);
    assert_eq!(
        set_cookies(&headers),
        [
            session_cookie(&ada.token, "Lax", LIFETIME),
            device_cookie(&body)
        ]
    );

    let body = json!({ "email": "ada@example.com", "password": PASSWORD });
    let (status, headers, body) = app
        .send_with_headers(app.request(Method::POST, "/api/auth/signin").json(&body))
        .await;
    assert_eq!(status, StatusCode::OK);
    let phone = session_of(&body);
    assert_eq!(
        set_cookies(&headers),
        [
            session_cookie(&phone.token, "Lax", LIFETIME),
            device_cookie(&body)
        ]
    );

    // Signing out with the cookie revokes its session and clears the cookie.
    let request =
        with_cookie(&app, Method::POST, "/api/auth/signout", &phone.token).header("origin", ORIGIN);
    let (status, headers, body) = app.send_with_headers(request).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({ "message": "Signed out successfully" })
        )
    );
    assert_eq!(set_cookies(&headers), [session_cookie("", "Lax", "0")]);
    assert_eq!(
        app.get_session(&phone.token).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get_session(&ada.token).await.0, StatusCode::OK);

    // Without any credential signout still answers 200 and clears the cookie.
    let (status, headers, _) = app
        .send_with_headers(app.request(Method::POST, "/api/auth/signout"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(set_cookies(&headers), [session_cookie("", "Lax", "0")]);
}

#[tokio::test]
async fn cookie_samesite_is_configurable_and_secure_is_always_set() {
    for (setting, attribute) in [("strict", "Strict"), ("none", "None")] {
        let app = TestApp::spawn_with(&[("COOKIE_SAMESITE", setting)]).await;
        let body = json!({ "name": "Ada", "email": "ada@example.com", "password": PASSWORD });
        let (_, headers, body) = app
            .send_with_headers(app.request(Method::POST, "/api/auth/signup").json(&body))
            .await;
        let token = body["token"].as_str().expect("token");
        assert_eq!(
            set_cookies(&headers),
            [
                session_cookie(token, attribute, LIFETIME),
                device_cookie(&body)
            ]
        );
    }
}

#[test]
fn only_the_local_server_drops_secure_and_only_where_browsers_allow_it() {
    let load = |same_site: &str| {
        shared::config::Config::from_lookup(|name| match name {
            "DATABASE_URL" => Some("postgres://u@localhost/db".to_owned()),
            "BETTER_AUTH_SECRET" => Some(crate::helpers::SECRET.to_owned()),
            "COOKIE_SAMESITE" => Some(same_site.to_owned()),
            _ => None,
        })
        .expect("config")
    };
    assert!(
        load("lax").cookies.secure,
        "the functions always set Secure"
    );
    assert!(
        !dev_server::for_plain_http_localhost(load("lax"))
            .cookies
            .secure
    );
    assert!(
        !dev_server::for_plain_http_localhost(load("strict"))
            .cookies
            .secure
    );
    assert!(
        dev_server::for_plain_http_localhost(load("none"))
            .cookies
            .secure,
        "SameSite=None is only accepted with Secure"
    );
}

/// `request` carrying `token` in the session cookie only, beside another cookie.
fn cookie_only(request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    request.header("cookie", format!("theme=dark; todo_session={token}"))
}

#[tokio::test]
async fn every_route_that_reads_a_credential_takes_the_cookie_with_an_allowed_origin() {
    let app = TestApp::spawn_with(MANY_ACCOUNTS).await;
    for (account, call) in every_route_on_its_own_account(&app, "cookie").await {
        let request = match call.credential {
            Credential::Ignored => call.request(&app),
            Credential::Optional | Credential::Required => {
                cookie_only(call.request(&app), &account.session.token).header("origin", ORIGIN)
            }
        };
        let before = app.state.db.round_trips();
        let (status, answer) = app.send(request).await;
        assert_eq!(status, call.success, "{}: {answer}", call.describe());
        assert_eq!(
            app.state.db.round_trips() - before,
            call.round_trips,
            "{}",
            call.describe()
        );
        if call.route.function == "session" {
            assert_eq!(answer["user"]["id"], account.session.user_id.as_str());
        }
    }
}

#[tokio::test]
async fn cookie_authenticated_unsafe_requests_need_an_allowed_origin() {
    let app = TestApp::spawn().await;
    let ada = Account::new(&app, "ada").await;
    let calls: Vec<_> = every_route(&ada)
        .into_iter()
        .filter(|call| call.credential != Credential::Ignored)
        .collect();
    assert!(
        calls.iter().any(Call::is_unsafe) && calls.iter().any(|call| !call.is_unsafe()),
        "both kinds of route are tried"
    );
    let before = app.snapshot_every_table().await;
    let refused = (StatusCode::FORBIDDEN, error("Cross-site request refused"));
    for origin in [
        None,
        Some("https://evil.example"),
        Some("null"),
        Some("http://localhost:3001"),
    ] {
        for call in &calls {
            let mut request = cookie_only(call.request(&app), &ada.session.token);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            let answer = app.send(request).await;
            if call.is_unsafe() {
                assert_eq!(answer, refused, "{} {origin:?}", call.describe());
            } else {
                assert_eq!(answer.0, call.success, "{} {origin:?}", call.describe());
            }
        }
    }
    assert_eq!(
        app.snapshot_every_table().await,
        before,
        "nothing was written"
    );
    assert_eq!(
        app.get_session(&ada.session.token).await.0,
        StatusCode::OK,
        "still signed in"
    );

    // The bearer header is not something a page on another site can make a browser send.
    let request = app
        .with_token(Method::POST, &ada.session.tasks_path(), &ada.session.token)
        .json(&json!({ "title": "From a script with the token" }));
    assert_eq!(app.send(request).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn the_header_wins_and_the_cookie_follows_the_same_401_rules() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada@example.com").await;
    let grace = app.signup("grace@example.com").await;

    // Both present: the header decides, whatever the cookie holds.
    let request =
        with_cookie(&app, Method::GET, "/api/auth/session", "garbage").bearer_auth(&ada.token);
    let (status, body) = app.send(request).await;
    assert_eq!(
        (status, &body["user"]["id"]),
        (StatusCode::OK, &json!(ada.user_id))
    );
    let request =
        with_cookie(&app, Method::GET, "/api/auth/session", &grace.token).bearer_auth("garbage");
    assert_eq!(
        app.send(request).await,
        (
            StatusCode::UNAUTHORIZED,
            error("Invalid or malformed token")
        )
    );

    assert_eq!(
        app.send(with_cookie(
            &app,
            Method::GET,
            "/api/auth/session",
            "garbage"
        ))
        .await,
        (
            StatusCode::UNAUTHORIZED,
            error("Invalid or malformed token")
        )
    );
    // Ada's live session, its token issued a lifetime and a minute ago.
    let expired = issued_earlier(&ada.token, 604_800 + 60);
    assert_eq!(
        app.send(with_cookie(
            &app,
            Method::GET,
            "/api/auth/session",
            &expired
        ))
        .await,
        (
            StatusCode::UNAUTHORIZED,
            error("Token expired, please log in again")
        )
    );
    let request = app
        .request(Method::POST, "/api/auth/signout")
        .bearer_auth(&grace.token);
    assert_eq!(app.send(request).await.0, StatusCode::OK);
    assert_eq!(
        app.send(with_cookie(
            &app,
            Method::GET,
            &grace.tasks_path(),
            &grace.token
        ))
        .await,
        (
            StatusCode::UNAUTHORIZED,
            error("Invalid or malformed token")
        ),
        "a revoked session's cookie"
    );
    assert_eq!(
        app.send(app.request(Method::GET, "/api/auth/session"))
            .await,
        (StatusCode::UNAUTHORIZED, error("Authentication required"))
    );
}
