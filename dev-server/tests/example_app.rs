//! The example frontend, examples/nextjs, in a real browser: its journey script
//! (e2e/journey.mjs) drives Debian's Chromium with playwright-core through signup, email
//! verification, tasks, a password reset by mail, two sessions, a change of email and the
//! account's deletion, against `next start` and the local server on a fresh database.
//! And its rewrite (src/proxy.ts): what it tells the API about the client, and what not.
//!
//! Needs Node.js, `apt-get install chromium`, and the app built beforehand:
//! `npm ci --prefix examples/nextjs && npm --prefix examples/nextjs run build && cargo test -p dev-server --test example_app -- --ignored`.
//! The screenshots go to `SCREENSHOT_DIR` if set, else under cargo's target tmp folder.
//! `CHROMIUM` overrides `/usr/bin/chromium`.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use helpers::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A child process leading a process group of its own; dropping it kills the whole group
/// (`next start` and its server, node and Chromium with its helpers).
struct Group {
    child: tokio::process::Child,
    log: PathBuf,
}

impl Group {
    fn spawn(command: &mut tokio::process::Command, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log)
            .unwrap_or_else(|err| panic!("creating {}: {err}", log.display()));
        let child = command
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("{command:?}: {err}"));
        Self { child, log }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(group) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .status();
        }
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Waits until `next start` serves the signin page.
async fn wait_for(next: &mut Group, url: &str) {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(Some(status)) = next.child.try_wait() {
            panic!("next start exited ({status}):\n{}", next.output());
        }
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|answer| answer.status() == StatusCode::OK)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "next start did not answer {url} in 60 s:\n{}",
        next.output()
    );
}

/// The built app's folder.
fn app_dir() -> PathBuf {
    let app_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/nextjs");
    assert!(
        app_dir.join(".next/BUILD_ID").is_file(),
        "examples/nextjs is not built: run `npm ci --prefix examples/nextjs && npm --prefix examples/nextjs run build` first"
    );
    app_dir
}

/// `next start` in front of the API at `api`, with `env` added, on a port the system picks;
/// once it serves pages, with its origin (what its log names).
async fn next_start(api: &str, env: &[(&str, &str)]) -> (Group, String) {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let app_dir = app_dir();
    let mut next = Group::spawn(
        tokio::process::Command::new(app_dir.join("node_modules/.bin/next"))
            .args(["start", "--port", "0"])
            .current_dir(&app_dir)
            .env("API_URL", api)
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .envs(env.iter().copied()),
        tmp.join(format!("next-start-{}.log", uuid::Uuid::new_v4().simple())),
    );
    let mut origin = None;
    for _ in 0..600 {
        if let Ok(Some(status)) = next.child.try_wait() {
            panic!("next start exited ({status}):\n{}", next.output());
        }
        origin = next
            .output()
            .lines()
            .find_map(|line| line.trim().strip_prefix("- Local:"))
            .map(|url| url.trim().to_owned());
        if origin.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let origin =
        origin.unwrap_or_else(|| panic!("next start named no address:\n{}", next.output()));
    wait_for(&mut next, &format!("{origin}/signin")).await;
    (next, origin)
}

#[tokio::test]
#[ignore = "needs Node.js, chromium and a built examples/nextjs; CI runs it with --ignored"]
async fn the_example_app_journey_passes_in_chromium() {
    let app_dir = app_dir();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let screenshots = std::env::var_os("SCREENSHOT_DIR")
        .map_or_else(|| tmp.join("example-app-screenshots"), PathBuf::from);

    // The app's origin is the one the browser sends and the one the mails link to. The
    // strictest verification mode: signin waits for the mailed link.
    // The API's listener first, so that the app can be pointed at it, then the app, whose
    // address the API's configuration needs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api_address = format!("http://{}", listener.local_addr().expect("address"));
    let (next, origin) = next_start(&api_address, &[]).await;
    let api = TestApp::spawn_on_listener(
        listener,
        &[
            ("ALLOWED_ORIGINS", &origin),
            ("APP_URL", &origin),
            ("EMAIL_VERIFICATION", "required"),
        ],
    )
    .await;

    let mut journey = Group::spawn(
        tokio::process::Command::new("node")
            .arg("e2e/journey.mjs")
            .current_dir(&app_dir)
            .env("APP_URL", &origin)
            .env("MAIL_DIR", &api.mail_dir)
            .env("SCREENSHOT_DIR", &screenshots),
        tmp.join(format!("journey-{}.log", uuid::Uuid::new_v4().simple())),
    );
    let status = tokio::time::timeout(Duration::from_secs(300), journey.child.wait()).await;
    let report = journey.output();
    match status {
        Ok(Ok(status)) if status.success() => println!("{report}"),
        Ok(Ok(status)) => panic!(
            "the journey failed ({status}):\n{report}\n--- next start ---\n{}",
            next.output()
        ),
        Ok(Err(err)) => panic!("node e2e/journey.mjs: {err}"),
        Err(_) => panic!(
            "the journey took over 300 s:\n{report}\n--- next start ---\n{}",
            next.output()
        ),
    }
}

const PROXY_SECRET: &str = "the-proxy-secret-0123456789-abcdefghij";

/// A failed signin through `next`'s rewrite, with `headers`: its status and body.
async fn fail_signin(next: &str, email: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{next}/api/auth/signin"))
        .json(&json!({"email": email, "password": "not the password"}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.expect("next start answers");
    let status = answer.status();
    let headers = format!("{:?}", answer.headers());
    assert!(
        !headers.contains(PROXY_SECRET),
        "the secret went back to the client: {headers}"
    );
    (status, answer.json().await.expect("a JSON body"))
}

#[tokio::test]
#[ignore = "needs Node.js and a built examples/nextjs; CI runs it with --ignored"]
async fn the_rewrite_names_the_client_from_the_configured_header_only() {
    let api = TestApp::spawn_with(&[
        ("TRUSTED_PROXY_SECRET", PROXY_SECRET),
        ("THROTTLE_SIGNIN_IP", "2"),
    ])
    .await;
    let (_next, next) = next_start(
        &api.address,
        &[
            ("TRUSTED_PROXY_SECRET", PROXY_SECRET),
            ("CLIENT_IP_HEADER", "x-real-ip"),
        ],
    )
    .await;
    let invalid = (
        StatusCode::BAD_REQUEST,
        json!({"error": "Invalid email or password"}),
    );
    let throttled = (
        StatusCode::TOO_MANY_REQUESTS,
        json!({"error": "Too many attempts, please try again later"}),
    );

    // Two failures fill the bucket of the address the host named; other clients of the
    // same server keep their own.
    let blocked = [("x-real-ip", "203.0.113.7")];
    assert_eq!(fail_signin(&next, "a@example.com", &blocked).await, invalid);
    assert_eq!(fail_signin(&next, "b@example.com", &blocked).await, invalid);
    assert_eq!(
        fail_signin(&next, "c@example.com", &blocked).await,
        throttled
    );
    let other = [("x-real-ip", "203.0.113.8")];
    assert_eq!(fail_signin(&next, "d@example.com", &other).await, invalid);
    // In a list only the last entry counts (the one the host's proxy appended).
    let list = [("x-real-ip", "203.0.113.7, 198.51.100.9")];
    assert_eq!(fail_signin(&next, "e@example.com", &list).await, invalid);

    // What a client sends in the API's own headers (even the right secret), or in
    // X-Forwarded-For, is not its address: such requests count as the server's own.
    let forged = [
        ("x-proxy-secret", PROXY_SECRET),
        ("x-client-ip", "203.0.113.8"),
    ];
    assert_eq!(fail_signin(&next, "f@example.com", &forged).await, invalid);
    let forwarded = [("x-forwarded-for", "203.0.113.8")];
    assert_eq!(
        fail_signin(&next, "g@example.com", &forwarded).await,
        invalid
    );
    assert_eq!(fail_signin(&next, "h@example.com", &[]).await, throttled);
    // 203.0.113.8 itself still has a failure to spare.
    assert_eq!(fail_signin(&next, "i@example.com", &other).await, invalid);
}
