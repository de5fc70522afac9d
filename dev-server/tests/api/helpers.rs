//! `TestApp`: a fresh database with migrations applied and the local server on port 0.
//! The admin connection is `TEST_DATABASE_URL` if set, else a private cluster started once
//! per test process (with TLS on) and stopped when the process exits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, ChildStdin};
use std::sync::{Arc, Mutex, OnceLock};

use dev_server::mailbox::DevMailbox;
use dev_server::postgres::Cluster;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::AppState;
use shared::config::{Config, MailSettings};
use shared::mail::{Mailbox, Mailer};
use shared::state::MailState;

pub const SECRET: &str = "test-secret-0123456789-ABCDEFGHIJ-klmnop";
pub const ORIGIN: &str = "http://localhost:3000";
/// The password the reset and change-password tests move to.
pub const NEW_PASSWORD: &str = "a brand new passphrase";
/// forgot-password's answer, whether or not the email is registered.
pub const RESET_SENT: &str = "If that email is registered, a reset link has been sent";
pub const PASSWORD: &str = "correct horse battery";
pub const MAIL_FROM: &str = "no-reply@todo.example.com";

pub struct PrivateCluster {
    pub cluster: Cluster,
    pub ca_file: PathBuf,
    /// The server settings it was started with, to start it again the same way.
    pub settings: Vec<String>,
    _watchdog: Mutex<(Child, ChildStdin)>,
}

/// The per-process cluster. Panics (failing the test loudly) when no server binaries exist.
pub fn private_cluster() -> &'static PrivateCluster {
    static CLUSTER: OnceLock<PrivateCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        PrivateCluster::start("shared", &[])
            .unwrap_or_else(|err| panic!("private PostgreSQL: {err:#}"))
    })
}

impl PrivateCluster {
    /// A throwaway cluster with TLS on, removed when the test process exits.
    pub fn start(name: &str, extra_settings: &[&str]) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("todo-api-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cluster = Cluster::init(&dir)?;
        let watchdog = cluster.stop_when_process_exits(&dir)?;

        // A CA and a server certificate for `localhost`, so TLS is tested with verification on.
        let tls = cluster.tls()?;
        let ca_file = tls.ca_file;
        let mut settings = tls.settings;
        settings.push("max_connections=300".to_owned());
        settings.extend(extra_settings.iter().map(|s| s.to_string()));
        cluster.start(&settings)?;
        Ok(PrivateCluster {
            cluster,
            ca_file,
            settings,
            _watchdog: Mutex::new(watchdog),
        })
    }

    /// Starts it again after a stop or a crash.
    pub fn restart(&self) -> anyhow::Result<()> {
        self.cluster.start(&self.settings)
    }
}

pub fn admin_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => private_cluster().cluster.url("postgres"),
    }
}

/// With `TEST_PGBOUNCER` set, the app under test reaches its database through a PgBouncer
/// in transaction mode in front of the test server (started once per test process), as
/// on Neon's pooled host, with every setting at its default (named statements included);
/// the test's own client still connects directly.
pub fn pgbouncer() -> Option<&'static dev_server::pgbouncer::PgBouncer> {
    static BOUNCER: OnceLock<Option<dev_server::pgbouncer::PgBouncer>> = OnceLock::new();
    BOUNCER
        .get_or_init(|| {
            std::env::var_os("TEST_PGBOUNCER")?;
            let (host, port) = dev_server::postgres::host_and_port(&admin_url())
                .unwrap_or_else(|err| panic!("TEST_PGBOUNCER needs a TCP admin URL: {err:#}"));
            Some(
                dev_server::pgbouncer::PgBouncer::start(&host, port, 8)
                    .unwrap_or_else(|err| panic!("PgBouncer: {err:#}")),
            )
        })
        .as_ref()
}

/// `url` through the suite's PgBouncer, when there is one and it fronts `url`'s server
/// (a test's own cluster is reached directly).
fn through_pgbouncer(url: &str) -> Option<String> {
    pgbouncer()
        .filter(|bouncer| bouncer.fronts(url))
        .map(|bouncer| bouncer.url_for(url).expect("a URL through PgBouncer"))
}

/// A fresh, migrated database on the server of `admin`; returns its URL. With
/// `TEST_PGBOUNCER` the migrations go through PgBouncer, as they may on Neon's pooler.
pub async fn fresh_database_on(admin: &str) -> String {
    fresh_database_in(admin, shared::config::Schema::DEFAULT).await
}

/// [`fresh_database_on`], the API's tables in `schema`.
pub async fn fresh_database_in(admin: &str, schema: &str) -> String {
    let url = dev_server::fixtures::create_database(admin, "test")
        .await
        .unwrap_or_else(|err| panic!("fresh database: {err:#}"));
    migrate_into(&url, schema).await;
    url
}

/// Applies the migrations to `url`'s database (through PgBouncer when the suite has one).
pub async fn migrate_into(url: &str, schema: &str) {
    let migrate_via = through_pgbouncer(url).unwrap_or_else(|| url.to_owned());
    dev_server::migrate_into(&migrate_via, schema)
        .await
        .unwrap_or_else(|err| panic!("migrations: {err:#}"));
}

/// A connection to `url` that reads the API's tables (in `schema`) by their plain names.
async fn test_client(url: &str, schema: &str) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = url.parse().expect("test URL");
    config.options(format!("-c search_path={schema}"));
    let (db, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("test db");
    tokio::spawn(connection);
    db
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: Arc<MailState>,
    pub db: tokio_postgres::Client,
    pub database_url: String,
    /// Where the local server's mail goes (see [`TestApp::mails_to`]).
    pub mailbox: Arc<DevMailbox>,
    /// The mailbox's folder: one file per mail (the example app's journey reads it).
    pub mail_dir: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}

pub struct Session {
    pub user_id: String,
    pub token: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// With configuration variables over the test defaults.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> Self {
        Self::spawn_on(&admin_url(), overrides).await
    }

    /// On the server of `admin_url` rather than the per-process one.
    pub async fn spawn_on(admin_url: &str, overrides: &[(&str, &str)]) -> Self {
        let schema = overrides
            .iter()
            .find(|(name, _)| *name == "DATABASE_SCHEMA")
            .map_or(shared::config::Schema::DEFAULT, |(_, schema)| *schema);
        Self::start(fresh_database_in(admin_url, schema).await, overrides).await
    }

    /// On a database of the test's own making at `url`, already migrated.
    #[allow(dead_code, reason = "used by some test binaries only")]
    pub async fn on_database(url: String, overrides: &[(&str, &str)]) -> Self {
        Self::start(url, overrides).await
    }

    /// Another server on this one's database (its raw client too), with more overrides;
    /// `DATABASE_URL` among them points only the server elsewhere.
    pub async fn attach(&self, overrides: &[(&str, &str)]) -> Self {
        Self::start(self.database_url.clone(), overrides).await
    }

    /// With mail going to `mailer` rather than the local server's folder of files.
    #[allow(dead_code, reason = "tests/ses.rs sends through Amazon SES's emulator")]
    pub async fn spawn_with_mailer(overrides: &[(&str, &str)], mailer: Arc<dyn Mailer>) -> Self {
        let url = fresh_database_on(&admin_url()).await;
        Self::start_with_mailer(url, overrides, Some(mailer), None).await
    }

    /// Serving on `listener`, bound beforehand: its address can be handed to what must
    /// know it before the server's configuration can be written (a frontend whose origin
    /// the API then allows).
    #[allow(dead_code, reason = "tests/example_app.rs starts its frontend first")]
    pub async fn spawn_on_listener(
        listener: tokio::net::TcpListener,
        overrides: &[(&str, &str)],
    ) -> Self {
        let url = fresh_database_on(&admin_url()).await;
        Self::start_with_mailer(url, overrides, None, Some(listener)).await
    }

    async fn start(url: String, overrides: &[(&str, &str)]) -> Self {
        Self::start_with_mailer(url, overrides, None, None).await
    }

    async fn start_with_mailer(
        url: String,
        overrides: &[(&str, &str)],
        mailer: Option<Arc<dyn Mailer>>,
        listener: Option<tokio::net::TcpListener>,
    ) -> Self {
        // Through PgBouncer when it fronts this database's server (a test's own cluster
        // is reached directly).
        let pooled = through_pgbouncer(&url);
        let mut vars: HashMap<String, String> = HashMap::from([
            (
                "DATABASE_URL".into(),
                pooled.clone().unwrap_or_else(|| url.clone()),
            ),
            ("BETTER_AUTH_SECRET".into(), SECRET.into()),
            ("ALLOWED_ORIGINS".into(), ORIGIN.into()),
            ("DATABASE_POOL_SIZE".into(), "4".into()),
            ("EMAIL_FROM".into(), MAIL_FROM.into()),
            ("APP_URL".into(), ORIGIN.into()),
        ]);
        vars.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let lookup = |name: &str| vars.get(name).cloned();
        let config = Config::from_lookup(lookup).expect("test config");
        // As the local server does: mail to a folder of files, one folder per test.
        let mail_dir = std::env::temp_dir().join(format!(
            "todo-api-test-mail-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mailbox = Arc::new(DevMailbox::new(&mail_dir).expect("mailbox"));
        let state = MailState {
            app: AppState::new(config, dev_server::plan).expect("state"),
            mailbox: Mailbox {
                settings: MailSettings::from_lookup(&lookup).expect("mail settings"),
                mailer: mailer.unwrap_or_else(|| mailbox.clone()),
            },
        };
        let state = Arc::new(state);
        let listener = match listener {
            Some(listener) => listener,
            None => tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        };
        let address = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(dev_server::serve(listener, state.clone()));

        // The test's own client reads the API's tables by their plain names.
        let schema = vars
            .get("DATABASE_SCHEMA")
            .map_or(shared::config::Schema::DEFAULT, String::as_str);
        let db = test_client(&url, schema).await;
        Self {
            address,
            client: reqwest::Client::new(),
            state,
            db,
            database_url: url,
            mailbox,
            mail_dir,
        }
    }

    /// Opens the test's own connection again (after its server went away and came back).
    #[allow(dead_code, reason = "used by some test binaries only")]
    pub async fn reconnect(&mut self) {
        self.db = test_client(&self.database_url, shared::config::Schema::DEFAULT).await;
    }

    /// A client whose requests come from `address` (any of 127.0.0.0/8): another source IP
    /// for the throttle and audit rules.
    pub fn client_from(&self, address: &str) -> reqwest::Client {
        let address: std::net::IpAddr = address.parse().expect("a loopback address");
        reqwest::Client::builder()
            .local_address(address)
            .build()
            .expect("client")
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// Sends and returns status and JSON body, checking every response is JSON and never
    /// cached.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let (status, _, body) = self.send_with_headers(request).await;
        (status, body)
    }

    /// As [`TestApp::send`], with the response headers.
    pub async fn send_with_headers(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = response.headers().get("content-type").cloned();
        let text = response.text().await.expect("body");
        assert_eq!(
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{status} {text}"
        );
        assert_eq!(
            headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{status} {text}"
        );
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, headers, body)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn signup_with(
        &self,
        name: &str,
        email: &str,
        password: &str,
    ) -> (StatusCode, Value) {
        self.post_json(
            "/api/auth/signup",
            &json!({ "name": name, "email": email, "password": password }),
        )
        .await
    }

    pub async fn signin_with(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.post_json(
            "/api/auth/signin",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Signs up a new user and returns its id and token.
    pub async fn signup(&self, email: &str) -> Session {
        let (status, body) = self.signup_with("Ada Lovelace", email, PASSWORD).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        session_of(&body)
    }

    pub async fn forgot_password(&self, email: &str) -> (StatusCode, Value) {
        self.post_json("/api/auth/forgot-password", &json!({ "email": email }))
            .await
    }

    pub async fn reset_password(&self, token: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({ "token": token, "password": password });
        self.post_json("/api/auth/reset-password", &body).await
    }

    /// Signs `email` in with [`PASSWORD`] (on another device, say), which must succeed.
    pub async fn signin(&self, email: &str) -> Session {
        let (status, body) = self.signin_with(email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        session_of(&body)
    }

    pub async fn get_session(&self, token: &str) -> (StatusCode, Value) {
        self.send(
            self.request(Method::GET, "/api/auth/session")
                .bearer_auth(token),
        )
        .await
    }

    /// The reset tokens of the links mailed to `email` so far, oldest first.
    pub fn reset_tokens_mailed_to(&self, email: &str) -> Vec<String> {
        self.mailed_link_tokens(email, "/reset-password")
    }

    /// The tokens of the verification links mailed to `email` so far, oldest first.
    pub fn verification_tokens_mailed_to(&self, email: &str) -> Vec<String> {
        self.mailed_link_tokens(email, "/verify-email")
    }

    fn mailed_link_tokens(&self, email: &str, page: &str) -> Vec<String> {
        self.mailbox
            .messages_to(email)
            .expect("mail")
            .iter()
            .filter_map(|mail| link_token_in(mail, page))
            .collect()
    }

    /// The subjects of the mails sent to `email` so far, oldest first.
    pub fn subjects_mailed_to(&self, email: &str) -> Vec<String> {
        self.mailbox
            .messages_to(email)
            .expect("mail")
            .iter()
            .filter_map(|mail| {
                mail.lines()
                    .find_map(|line| line.strip_prefix("Subject: "))
                    .map(str::to_owned)
            })
            .collect()
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0)
    }
}

/// `/api/{user}/tasks`.
pub fn tasks_path(user: &str) -> String {
    format!("/api/{user}/tasks")
}

/// `/api/{user}/tasks/{task}`; `task` may be an id or its JSON value.
pub fn task_path(user: &str, task: impl std::fmt::Display) -> String {
    format!("{}/{task}", tasks_path(user))
}

/// `/api/{user}/tasks/{task}/complete`.
pub fn complete_path(user: &str, task: impl std::fmt::Display) -> String {
    format!("{}/complete", task_path(user, task))
}

impl Session {
    pub fn tasks_path(&self) -> String {
        tasks_path(&self.user_id)
    }

    pub fn task_path(&self, task: impl std::fmt::Display) -> String {
        task_path(&self.user_id, task)
    }

    pub fn complete_path(&self, task: impl std::fmt::Display) -> String {
        complete_path(&self.user_id, task)
    }
}

/// The token of the link to the app's ([`ORIGIN`]) `page` in a mail's text.
pub fn link_token_in(mail: &str, page: &str) -> Option<String> {
    dev_server::mailbox::link_token_in(mail, &format!("{ORIGIN}{page}"))
}

pub fn session_of(body: &Value) -> Session {
    Session {
        user_id: body["user"]["id"].as_str().expect("user id").to_owned(),
        token: body["token"].as_str().expect("token").to_owned(),
    }
}

/// `token`'s own header and claims, signed with the test secret as if it had been issued
/// `seconds` earlier: the same lifetime, the same session, its `exp` that much sooner. How a
/// test sees a token expire without waiting for it.
pub fn issued_earlier(token: &str, seconds: i64) -> String {
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    let mut claims = jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .expect("a JWT")
        .claims;
    for claim in ["iat", "exp"] {
        let at = claims[claim].as_i64().expect("a numeric date");
        claims[claim] = json!(at - seconds);
    }
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&header, &claims, &key).expect("a signed token")
}

/// The device token of a signup's or signin's answer.
pub fn device_of(body: &Value) -> String {
    body["device_token"]
        .as_str()
        .expect("a device token")
        .to_owned()
}

pub fn error(message: &str) -> Value {
    json!({ "error": message })
}

impl TestApp {
    pub fn with_token(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.request(method, path).bearer_auth(token)
    }

    /// Creates a task through the API and returns its JSON.
    pub async fn create_task(
        &self,
        who: &Session,
        title: &str,
        description: Option<&str>,
    ) -> Value {
        let request = self
            .with_token(Method::POST, &who.tasks_path(), &who.token)
            .json(&json!({ "title": title, "description": description }));
        let (status, body) = self.send(request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn list_tasks(&self, who: &Session, query: &str) -> (StatusCode, Value) {
        self.send(self.with_token(
            Method::GET,
            &format!("{}{query}", who.tasks_path()),
            &who.token,
        ))
        .await
    }

    /// Every row of every table of the API's schema, as the database holds them, one line
    /// per table: what a refused request must leave exactly as it was, whichever table its
    /// route writes. One round trip (`query_to_xml` runs each table's query), since the
    /// matrices take one per request.
    pub async fn snapshot_every_table(&self) -> Vec<String> {
        let tables: Vec<String> = self
            .db
            .query(
                "SELECT tablename || ': ' || query_to_xml(
                            format('SELECT json_agg(t ORDER BY t::text) AS rows FROM %I.%I t',
                                   schemaname, tablename),
                            true, true, '')::text
                   FROM pg_tables
                  WHERE schemaname = current_schema()
                  ORDER BY tablename",
                &[],
            )
            .await
            .expect("snapshot")
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(!tables.is_empty(), "the schema has tables");
        tables
    }

    /// Every task row of `user_id`, as the database holds it, for before/after comparisons.
    pub async fn snapshot(&self, user_id: &str) -> Vec<String> {
        let user: uuid::Uuid = user_id.parse().expect("uuid");
        self.db
            .query(
                "SELECT row_to_json(t)::text FROM tasks t WHERE user_id = $1 ORDER BY id",
                &[&user],
            )
            .await
            .expect("snapshot")
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}
