//! The API in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
//! driven over the WebDriver protocol by chromedriver, against the local server and a real
//! PostgreSQL. A page on `http://localhost:<port>` (same site as the API, another origin,
//! like app.example.com calling api.example.com) uses the API with `fetch`; a page on
//! `http://127.0.0.1:<port>` (another site) tries what an attacker's page would.
//!
//! Needs the browser: `apt-get install chromium chromium-driver`, then
//! `cargo test -p dev-server --test browser -- --ignored` (CI does). `CHROMEDRIVER` and
//! `CHROMIUM` override `/usr/bin/chromedriver` and `/usr/bin/chromium`.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::Duration;

use helpers::{PASSWORD, TestApp};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A chromedriver process and one browser session in it.
struct Browser {
    driver: tokio::process::Child,
    endpoint: String,
    session: String,
    client: reqwest::Client,
    _profile: TempDir,
}

/// The port chromedriver says it listens on ("… started successfully on port N."), or
/// `None` when it exits first; the rest of its output is read on, so that it never blocks
/// on a full pipe.
async fn driver_port(driver: &mut tokio::process::Child) -> Option<u16> {
    use tokio::io::AsyncBufReadExt as _;
    let stdout = driver.stdout.take().expect("the driver's output");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let port = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("the driver's output") {
            if let Some(port) = line
                .strip_prefix("ChromeDriver was started successfully on port ")
                .and_then(|rest| rest.trim_end_matches('.').parse().ok())
            {
                return Some(port);
            }
        }
        None
    })
    .await
    .expect("chromedriver listening, or gone, within a minute")?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some(port)
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    async fn start() -> Self {
        let driver_path =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        // Port 0: the driver binds a port the system picks and says which. It binds IPv4 and
        // IPv6 apart, and seldom (once in several CI runs) exits before saying: then it is
        // started again, three times at most.
        let mut started = None;
        for _ in 0..3 {
            let mut driver = tokio::process::Command::new(&driver_path)
                .arg("--port=0")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                // A group of its own, so dropping the browser ends Chromium too (killing the
                // driver alone would leave it running).
                .process_group(0)
                .spawn()
                .unwrap_or_else(|err| {
                    panic!("{driver_path}: {err} (apt-get install chromium-driver)")
                });
            if let Some(port) = driver_port(&mut driver).await {
                started = Some((driver, port));
                break;
            }
        }
        let (driver, port) = started.expect("chromedriver exited before it listened, 3 times");
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let profile = TempDir(std::env::temp_dir().join(format!(
            "todo-api-chromium-{}",
            uuid::Uuid::new_v4().simple()
        )));
        // As root Chromium needs --no-sandbox; the rest keeps it off a closed network.
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.0.display()),
                ],
            },
        }}});
        let answer: Value = client
            .post(format!("{endpoint}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"))
            .to_owned();
        Self {
            driver,
            endpoint,
            session,
            client,
            _profile: profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.endpoint, self.session);
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("WebDriver")
            .json()
            .await
            .expect("WebDriver JSON");
        assert!(
            answer["value"]["error"].is_null(),
            "WebDriver {path}: {answer}"
        );
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn url(&self) -> String {
        let url = self.command(reqwest::Method::GET, "/url", None).await;
        url.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `body`, the body of an async JavaScript function, in the page; its return value.
    async fn run(&self, body: &str) -> Value {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             (async () => {{ {body} }})().then(done, (err) => done({{ thrown: String(err) }}));"
        );
        self.command(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Submits a form from the current page (a top-level navigation, as an attacker's page
    /// would) and returns the text of the page it lands on.
    async fn submit_form(
        &self,
        action: &str,
        enctype: &str,
        field: Option<(&str, &str)>,
    ) -> String {
        let field = field.map_or(String::new(), |(name, value)| {
            format!(
                "const input = document.createElement('input');
                 input.name = {name}; input.value = {value}; form.appendChild(input);",
                name = json!(name),
                value = json!(value)
            )
        });
        let script = format!(
            "const form = document.createElement('form');
             form.method = 'POST'; form.action = {action}; form.enctype = {enctype};
             {field}
             document.body.appendChild(form); form.submit(); return true;",
            action = json!(action),
            enctype = json!(enctype)
        );
        self.run(&script).await;
        for _ in 0..100 {
            if self.url().await == action {
                let text = self.run("return document.readyState === 'complete' ? document.body.innerText : null;").await;
                if let Some(text) = text.as_str() {
                    return text.trim().to_owned();
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the form never landed on {action}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver's whole process group: chromedriver, Chromium and its helpers.
        if let Some(group) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .status();
        }
        let _ = self.driver.start_kill();
    }
}

/// Serves one empty HTML page at every path, on `listener`: the app's page or an
/// attacker's. The app's page lives under `/api/` so that a session cookie (Path=/api)
/// without HttpOnly would show in its `document.cookie`.
fn serve_page(listener: TcpListener, title: &'static str) {
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = vec![0u8; 8192];
                let _ = stream.read(&mut request).await;
                let page = format!("<!doctype html><title>{title}</title><body>{title}</body>");
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
}

/// The API on `localhost`, the app's page on another `localhost` port (allowed), and an
/// attacker's page on `127.0.0.1` (another site).
struct Sites {
    app: TestApp,
    api: String,
    page: String,
    attacker_page: String,
}

async fn sites(overrides: &[(&str, &str)]) -> Sites {
    let page_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let page_port = page_listener.local_addr().expect("address").port();
    let attacker_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let attacker_port = attacker_listener.local_addr().expect("address").port();
    serve_page(page_listener, "app");
    serve_page(attacker_listener, "attacker");
    let allowed = format!("http://localhost:{page_port}");
    let mut vars = vec![("ALLOWED_ORIGINS", allowed.as_str())];
    vars.extend_from_slice(overrides);
    let app = TestApp::spawn_with(&vars).await;
    let api = app.address.replace("127.0.0.1", "localhost");
    Sites {
        app,
        api,
        page: format!("http://localhost:{page_port}/api/app.html"),
        attacker_page: format!("http://127.0.0.1:{attacker_port}/attacker.html"),
    }
}

/// `fetch` from the page; resolves to `{status, body}` or `{thrown}` when the browser
/// would not let the page read the answer.
fn fetch(api: &str, path: &str, options: Value) -> String {
    format!(
        "const response = await fetch({url}, {options});
         const text = await response.text();
         return {{ status: response.status, body: text ? JSON.parse(text) : null }};",
        url = json!(format!("{api}{path}")),
    )
}

fn post_json(body: Value) -> Value {
    json!({
        "method": "POST",
        "credentials": "include",
        "headers": { "Content-Type": "application/json" },
        "body": body.to_string(),
    })
}

/// Signs Ada up from the current page; her user id and the whole `{status, body}` answer.
async fn sign_up_ada(browser: &Browser, api: &str) -> (String, Value) {
    let signup = json!({ "name": "Ada", "email": "ada@example.com", "password": PASSWORD });
    let answer = browser
        .run(&fetch(api, "/api/auth/signup", post_json(signup)))
        .await;
    assert_eq!(answer["status"], 201, "{answer}");
    let user = answer["body"]["user"]["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    (user, answer)
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; CI runs it with --ignored"]
async fn a_browser_app_uses_the_session_cookie_that_its_scripts_cannot_read() {
    let sites = sites(&[]).await;
    let api = sites.api.as_str();
    let browser = Browser::start().await;
    browser.goto(&sites.page).await;

    let (user, answer) = sign_up_ada(&browser, api).await;
    let token = answer["body"]["token"].as_str().expect("token").to_owned();
    let cookies = browser.run("return document.cookie;").await;
    assert!(
        !cookies
            .as_str()
            .unwrap_or_default()
            .contains("todo_session"),
        "the session cookie is HttpOnly, page scripts never see it: {cookies}"
    );

    // Tasks with the cookie alone: no Authorization header anywhere.
    let tasks = format!("/api/{user}/tasks");
    let create = post_json(json!({ "title": "Water the plants" }));
    let answer = browser.run(&fetch(api, &tasks, create)).await;
    assert_eq!(answer["status"], 201, "{answer}");
    let with_cookie = json!({ "credentials": "include" });
    let answer = browser.run(&fetch(api, &tasks, with_cookie.clone())).await;
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["body"][0]["title"], "Water the plants");
    assert_eq!(sites.app.count("tasks").await, 1);

    // Bearer mode from the same page keeps working, and needs no cookie.
    let bearer =
        json!({ "credentials": "omit", "headers": { "Authorization": format!("Bearer {token}") } });
    let answer = browser.run(&fetch(api, &tasks, bearer)).await;
    assert_eq!(answer["status"], 200, "{answer}");

    // Signout ends the session the cookie carries.
    let signout = json!({ "method": "POST", "credentials": "include" });
    let answer = browser.run(&fetch(api, "/api/auth/signout", signout)).await;
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(sites.app.count("sessions").await, 0);
    let answer = browser.run(&fetch(api, &tasks, with_cookie.clone())).await;
    assert_eq!(
        (answer["status"].clone(), answer["body"].clone()),
        (json!(401), json!({ "error": "Authentication required" })),
        "the cookie is gone"
    );

    // Signed in again, then a page on another site: it cannot read any answer.
    let signin = json!({ "email": "ada@example.com", "password": PASSWORD });
    let answer = browser
        .run(&fetch(api, "/api/auth/signin", post_json(signin)))
        .await;
    assert_eq!(answer["status"], 200, "{answer}");
    browser.goto(&sites.attacker_page).await;
    for (path, options) in [
        ("/api/health".to_owned(), json!({})),
        (tasks.clone(), with_cookie.clone()),
        ("/api/auth/session".to_owned(), with_cookie.clone()),
    ] {
        let answer = browser.run(&fetch(api, &path, options)).await;
        assert!(
            answer["thrown"]
                .as_str()
                .is_some_and(|thrown| thrown.contains("TypeError")),
            "{path}: a page of another origin read {answer}"
        );
    }
    let answer = browser
        .run(&fetch(api, &tasks, post_json(json!({ "title": "forged" }))))
        .await;
    assert!(answer["thrown"].is_string(), "{answer}");
    assert_eq!(sites.app.count("tasks").await, 1, "nothing was created");
    assert_eq!(sites.app.count("sessions").await, 1, "still signed in");
}

/// With `SameSite=None` the browser attaches the cookie to a top-level form POST from any
/// site (Chromium's headless third-party blocking does not stop that): only the `Origin`
/// check and the JSON-only rule stand between the attacker's page and the account.
#[tokio::test]
#[ignore = "needs chromium and chromedriver; CI runs it with --ignored"]
async fn a_cross_site_form_post_carrying_the_cookie_changes_nothing() {
    let sites = sites(&[("COOKIE_SAMESITE", "none")]).await;
    let api = sites.api.as_str();
    let browser = Browser::start().await;
    browser.goto(&sites.page).await;
    let (user, _) = sign_up_ada(&browser, api).await;

    browser.goto(&sites.attacker_page).await;
    // The classic JSON CSRF: a text/plain form whose one field spells a JSON object.
    let landed = browser
        .submit_form(
            &format!("{api}/api/{user}/tasks"),
            "text/plain",
            Some((r#"{"title":"forged","x":""#, r#""}"#)),
        )
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&landed).ok(),
        Some(json!({ "error": "Content-Type must be application/json" })),
        "{landed}"
    );
    // A bodiless POST needs no Content-Type: the cookie reaches the server and
    // authenticates the request, and the Origin check refuses it.
    browser.goto(&sites.attacker_page).await;
    let landed = browser
        .submit_form(
            &format!("{api}/api/auth/signout?scope=global"),
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&landed).ok(),
        Some(json!({ "error": "Cross-site request refused" })),
        "{landed}"
    );
    assert_eq!(sites.app.count("tasks").await, 0, "nothing was created");
    assert_eq!(
        sites.app.count("sessions").await,
        1,
        "nobody was signed out"
    );
}

/// The known-device cookie: set by signup, HttpOnly, scoped to `/api/auth` (so no other
/// route ever receives it), and honoured by a signin that strangers have locked.
#[tokio::test]
#[ignore = "needs chromium and chromedriver; CI runs it with --ignored"]
async fn the_device_cookie_is_kept_for_the_auth_routes_and_honoured_there() {
    let sites = sites(&[]).await;
    let api = sites.api.as_str();
    let browser = Browser::start().await;
    browser.goto(&sites.page).await;
    sign_up_ada(&browser, api).await;
    let cookies = browser.run("return document.cookie;").await;
    assert!(
        !cookies.as_str().unwrap_or_default().contains("todo_device"),
        "page scripts never see it: {cookies}"
    );

    // The browser's own cookie store, as a page of the API at each path sees it.
    let device_cookie = |cookies: &Value| {
        cookies
            .as_array()
            .into_iter()
            .flatten()
            .find(|cookie| cookie["name"] == "todo_device")
            .cloned()
    };
    browser.goto(&format!("{api}/api/auth/session")).await;
    let at_auth = browser.command(reqwest::Method::GET, "/cookie", None).await;
    let cookie = device_cookie(&at_auth).expect("the device cookie at /api/auth");
    assert_eq!(
        (
            cookie["path"].clone(),
            cookie["httpOnly"].clone(),
            cookie["sameSite"].clone()
        ),
        (json!("/api/auth"), json!(true), json!("Lax"))
    );
    browser.goto(&format!("{api}/api/health")).await;
    let elsewhere = browser.command(reqwest::Method::GET, "/cookie", None).await;
    assert_eq!(device_cookie(&elsewhere), None, "not sent to /api/health");

    // Strangers at 20 addresses fill the email's count from everywhere.
    for n in 2..=21 {
        let client = sites.app.client_from(&format!("127.0.0.{n}"));
        for _ in 0..5 {
            let request = client
                .post(format!("{}/api/auth/signin", sites.app.address))
                .json(&json!({ "email": "ada@example.com", "password": "a stranger's guess" }));
            let (status, _) = sites.app.send(request).await;
            assert_eq!(status, 400);
        }
    }
    browser.goto(&sites.page).await;
    let signin = json!({ "email": "ada@example.com", "password": PASSWORD });
    let mut without_cookies = post_json(signin.clone());
    without_cookies["credentials"] = json!("omit");
    let answer = browser
        .run(&fetch(api, "/api/auth/signin", without_cookies))
        .await;
    assert_eq!(answer["status"], 429, "without the device: {answer}");
    let answer = browser
        .run(&fetch(api, "/api/auth/signin", post_json(signin)))
        .await;
    assert_eq!(
        answer["status"], 200,
        "the browser's device cookie: {answer}"
    );
}
