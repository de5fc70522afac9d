//! Lockout no stranger can cause: a password check that presents a known device of the
//! account (OWASP's device cookies) is judged by the device's own counter instead of the
//! email's, so however many addresses fail for an email, its owner still signs in from a
//! device used before. Also IPv6 sources by their /64, the client behind a trusted proxy,
//! and a reset that clears the email's counters.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, device_of, error};

const TOO_MANY: &str = "Too many attempts, please try again later";

/// A signin of `email` from `address` (with `extra` fields in the body): status and body.
async fn signin_from(
    app: &TestApp,
    address: &str,
    email: &str,
    password: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({ "email": email, "password": password });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let request = app
        .client_from(address)
        .request(Method::POST, format!("{}/api/auth/signin", app.address))
        .json(&body);
    app.send(request).await
}

/// Ada signs up on `app`: her token and her device token.
async fn ada_signs_up(app: &TestApp) -> (String, String) {
    let (_, signed_up) = app.signup_with("Ada", "ada@example.com", PASSWORD).await;
    let token = signed_up["token"].as_str().expect("token").to_owned();
    (token, device_of(&signed_up))
}

fn too_many() -> (StatusCode, Value) {
    (StatusCode::TOO_MANY_REQUESTS, error(TOO_MANY))
}

fn invalid() -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, error("Invalid email or password"))
}

/// Strangers at 20 addresses (127.0.0.2 to 127.0.0.21) fail 5 times each for `email`:
/// its count from each of those addresses, and from everywhere (100), are full.
async fn strangers_lock(app: &TestApp, email: &str) {
    for n in 2..=21 {
        let address = format!("127.0.0.{n}");
        for attempt in 1..=5 {
            assert_eq!(
                signin_from(app, &address, email, "a stranger's guess", json!({})).await,
                invalid(),
                "{address}, failure {attempt}"
            );
        }
        assert_eq!(
            signin_from(app, &address, email, "a stranger's guess", json!({})).await,
            too_many(),
            "{address} at its limit"
        );
    }
}

#[tokio::test]
async fn strangers_at_twenty_addresses_cannot_lock_the_owner_out_of_a_known_device() {
    let app = TestApp::spawn().await;
    let signed_up = app.signup_with("Ada", "ada@example.com", PASSWORD).await.1;
    let laptop = device_of(&signed_up);
    let (status, body) =
        signin_from(&app, "127.0.0.1", "ada@example.com", PASSWORD, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let phone = device_of(&body);
    assert_ne!(phone, laptop, "a new device for a signin without one");
    let grace = app
        .signup_with("Grace", "grace@example.com", PASSWORD)
        .await
        .1;
    let graces_device = device_of(&grace);

    strangers_lock(&app, "ada@example.com").await;

    // Without a known device, the owner is locked out like anyone: the email is full.
    assert_eq!(
        signin_from(&app, "127.0.0.1", "ada@example.com", PASSWORD, json!({})).await,
        too_many()
    );
    // Another account's device, or one nobody has, changes nothing.
    for stranger in [graces_device.as_str(), "A".repeat(43).as_str()] {
        assert_eq!(
            signin_from(
                &app,
                "127.0.0.1",
                "ada@example.com",
                PASSWORD,
                json!({ "device_token": stranger })
            )
            .await,
            too_many()
        );
    }
    // From a device used before, the owner signs in: the body's token, or the cookie.
    let (status, body) = signin_from(
        &app,
        "127.0.0.1",
        "ada@example.com",
        PASSWORD,
        json!({ "device_token": phone }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(device_of(&body), phone, "the same device, its life renewed");
    let request = app
        .request(Method::POST, "/api/auth/signin")
        .header("cookie", format!("todo_device={laptop}"))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }));
    let (status, body) = app.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(device_of(&body), laptop);
    // Its wrong password counts against the device, not the (full) email: a 400.
    assert_eq!(
        signin_from(
            &app,
            "127.0.0.1",
            "ada@example.com",
            "a typo",
            json!({ "device_token": phone })
        )
        .await,
        invalid()
    );
}

#[tokio::test]
async fn a_device_over_its_own_limit_is_void() {
    let app = TestApp::spawn_with(&[("THROTTLE_SIGNIN_EMAIL", "100")]).await;
    let device = device_of(&app.signup_with("Ada", "ada@example.com", PASSWORD).await.1);
    let with_device = json!({ "device_token": device });
    for failure in 1..=10 {
        assert_eq!(
            signin_from(
                &app,
                "127.0.0.1",
                "ada@example.com",
                "guess",
                with_device.clone()
            )
            .await,
            invalid(),
            "failure {failure} on the device"
        );
    }
    // The failure that reached its limit (THROTTLE_SIGNIN_DEVICE, 10) voided the device at
    // once: gone, so no later window revives it, and the email's rules judge the next
    // attempt, which they allow.
    assert_eq!(app.count("devices").await, 0);
    let (status, body) = signin_from(
        &app,
        "127.0.0.1",
        "ada@example.com",
        PASSWORD,
        with_device.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(device_of(&body), device, "a new device");
    let (status, _) =
        signin_from(&app, "127.0.0.1", "ada@example.com", PASSWORD, with_device).await;
    assert_eq!(status, StatusCode::OK);
    let known: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM devices WHERE token_digest = $1",
            &[&app.state.digests.device_digest(&device)],
        )
        .await
        .expect("devices")
        .get(0);
    assert_eq!(known, 0, "the void device stays unknown");
}

#[tokio::test]
async fn confirming_a_password_on_a_known_device_escapes_the_strangers_too() {
    let app = TestApp::spawn().await;
    let (token, device) = ada_signs_up(&app).await;
    strangers_lock(&app, "ada@example.com").await;
    let change = |device: Option<&str>| {
        let mut body = json!({ "current_password": PASSWORD, "new_password": "a new passphrase" });
        if let Some(device) = device {
            body["device_token"] = json!(device);
        }
        app.with_token(Method::POST, "/api/auth/change-password", &token)
            .json(&body)
    };
    assert_eq!(app.send(change(None)).await, too_many());
    assert_eq!(
        app.send(change(Some(&device))).await,
        (StatusCode::OK, json!({ "message": "Password changed" }))
    );
}

#[tokio::test]
async fn an_ipv6_source_is_counted_by_its_64() {
    // Addresses reach the API through a trusted proxy: loopback has no IPv6 /64 to spare.
    let app = TestApp::spawn_with(&[("TRUSTED_PROXY_SECRET", PROXY_SECRET)]).await;
    app.signup("ada@example.com").await;
    let signin_from = |client: &str, password: &str| {
        app.request(Method::POST, "/api/auth/signin")
            .header("x-client-ip", client)
            .header("x-proxy-secret", PROXY_SECRET)
            .json(&json!({ "email": "ada@example.com", "password": password }))
    };
    // Five addresses of one /64, one host: one count (THROTTLE_SIGNIN_EMAIL, 5).
    let base = "2001:db8:1:2::";
    for n in 1..=5 {
        assert_eq!(
            app.send(signin_from(&format!("{base}{n}"), "guess")).await,
            invalid(),
            "{base}{n}"
        );
    }
    assert_eq!(
        app.send(signin_from("2001:db8:1:2:ffff::1", PASSWORD))
            .await,
        too_many(),
        "the same /64"
    );
    assert_eq!(
        app.send(signin_from("2001:db8:1:3::1", PASSWORD)).await.0,
        StatusCode::OK,
        "the next /64"
    );
}

/// The secret a test's trusted proxy authenticates itself with.
const PROXY_SECRET: &str = "proxy-secret-0123456789-ABCDEFGHIJKLMN";

#[tokio::test]
async fn only_the_trusted_proxy_names_the_client_and_never_x_forwarded_for() {
    let app = TestApp::spawn_with(&[
        ("TRUSTED_PROXY_SECRET", PROXY_SECRET),
        ("THROTTLE_SIGNIN_IP", "3"),
        ("THROTTLE_SIGNIN_EMAIL", "0"),
    ])
    .await;
    let wrong = |email: &str| json!({ "email": email, "password": "guess" });
    // Behind the proxy (one peer address), each client has its own count.
    for client in ["198.51.100.1", "198.51.100.2"] {
        for n in 1..=3 {
            let request = app
                .request(Method::POST, "/api/auth/signin")
                .header("x-proxy-secret", PROXY_SECRET)
                .header("x-client-ip", client)
                .json(&wrong(&format!("user{n}@example.com")));
            assert_eq!(app.send(request).await, invalid(), "{client}: {n}");
        }
    }
    // A client naming itself without the secret (or with a wrong one), or through
    // X-Forwarded-For, is counted at its own address: the peer's, 127.0.0.1.
    let forged = [
        ("x-client-ip", "203.0.113.9", None),
        (
            "x-client-ip",
            "203.0.113.9",
            Some("not-the-secret-0123456789-ABCDEFGHIJKL"),
        ),
        ("x-forwarded-for", "203.0.113.9", Some(PROXY_SECRET)),
    ];
    for (n, (header, value, secret)) in forged.iter().enumerate() {
        let mut request = app
            .request(Method::POST, "/api/auth/signin")
            .header(*header, *value)
            .json(&wrong(&format!("forged{n}@example.com")));
        if let Some(secret) = secret {
            request = request.header("x-proxy-secret", *secret);
        }
        assert_eq!(app.send(request).await, invalid(), "{header} {secret:?}");
    }
    let request = app
        .request(Method::POST, "/api/auth/signin")
        .json(&wrong("forged@example.com"));
    assert_eq!(
        app.send(request).await,
        too_many(),
        "127.0.0.1 has failed 3 times"
    );
}

#[tokio::test]
async fn a_password_reset_clears_the_emails_counters() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    strangers_lock(&app, "ada@example.com").await;
    assert_eq!(
        signin_from(&app, "127.0.0.1", "ada@example.com", PASSWORD, json!({})).await,
        too_many()
    );
    app.forgot_password("ada@example.com").await;
    let token = app
        .reset_tokens_mailed_to("ada@example.com")
        .pop()
        .expect("a reset link");
    let (status, _) = app.reset_password(&token, "a brand new passphrase").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = signin_from(
        &app,
        "127.0.0.1",
        "ada@example.com",
        "a brand new passphrase",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_device_cookie_planted_in_front_of_the_owners_turns_nothing_off() {
    let app = TestApp::spawn().await;
    let owners = device_of(&app.signup_with("Ada", "ada@example.com", PASSWORD).await.1);
    let planted = device_of(
        &app.signup_with("Mallory", "mallory@example.com", PASSWORD)
            .await
            .1,
    );
    strangers_lock(&app, "ada@example.com").await;
    // A sibling subdomain's cookie comes first; the owner's is still considered.
    for cookies in [
        format!("todo_device={planted}; todo_device={owners}"),
        format!(
            "todo_device=; todo_device={}; todo_device={owners}",
            "A".repeat(43)
        ),
    ] {
        let request = app
            .request(Method::POST, "/api/auth/signin")
            .header("cookie", cookies.as_str())
            .json(&json!({ "email": "ada@example.com", "password": PASSWORD }));
        let (status, body) = app.send(request).await;
        assert_eq!(status, StatusCode::OK, "{cookies}: {body}");
        assert_eq!(device_of(&body), owners, "the owner's device, kept");
    }
    // In two Cookie headers, as HTTP/2 clients send them, too.
    let request = app
        .request(Method::POST, "/api/auth/signin")
        .header("cookie", format!("todo_device={planted}"))
        .header("cookie", format!("todo_device={owners}"))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }));
    assert_eq!(app.send(request).await.0, StatusCode::OK);
    // The planted one alone is another account's: the full email's count judges.
    let request = app
        .request(Method::POST, "/api/auth/signin")
        .header("cookie", format!("todo_device={planted}"))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }));
    assert_eq!(app.send(request).await, too_many());
}

#[tokio::test]
async fn signing_out_everywhere_keeps_the_device_a_bearer_client_names() {
    let app = TestApp::spawn().await;
    let (token, laptop) = ada_signs_up(&app).await;
    let phone = device_of(
        &signin_from(&app, "127.0.0.1", "ada@example.com", PASSWORD, json!({}))
            .await
            .1,
    );
    let request = app
        .with_token(Method::POST, "/api/auth/signout?scope=global", &token)
        .json(&json!({ "device_token": laptop }));
    assert_eq!(
        app.send(request).await,
        (
            StatusCode::OK,
            json!({ "message": "Signed out successfully" })
        )
    );
    strangers_lock(&app, "ada@example.com").await;
    let (status, body) = signin_from(
        &app,
        "127.0.0.1",
        "ada@example.com",
        PASSWORD,
        json!({ "device_token": laptop }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the device the request named: {body}"
    );
    assert_eq!(
        signin_from(
            &app,
            "127.0.0.1",
            "ada@example.com",
            PASSWORD,
            json!({ "device_token": phone })
        )
        .await,
        too_many(),
        "any other device: forgotten"
    );
    // A body that is not JSON is refused, as on every route.
    let request = app
        .with_token(Method::POST, "/api/auth/signout?scope=global", &token)
        .header("content-type", "application/json")
        .body("{not json");
    assert_eq!(
        app.send(request).await,
        (
            StatusCode::BAD_REQUEST,
            error("Request body must be valid JSON")
        )
    );
}
