//! What the integration tests and the benchmarks set up the same way: a fresh migrated
//! database, an API Gateway request for a function, and a signed-up user with tasks.

use anyhow::Context as _;
use serde_json::Value;
use shared::AppState;
use shared::auth::password;
use shared::db::users;
use shared::domain::{Email, Name};
use shared::secrecy::SecretString;
use shared::uuid::Uuid;

/// `url` with its database name replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let base = match base.rfind('/') {
        Some(slash) if slash > base.find("//").map_or(0, |i| i + 1) => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// A new database named `<prefix>_<random>` on the server of `admin_url`, with every
/// migration applied; returns its URL.
pub async fn fresh_database(admin_url: &str, prefix: &str) -> anyhow::Result<String> {
    let name = format!("{prefix}_{}", Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .context("connecting to the admin database")?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .with_context(|| format!("creating database {name}"))?;
    let url = with_database(admin_url, &name);
    crate::migrate(&url).await.context("applying migrations")?;
    Ok(url)
}

/// The event API Gateway hands `function` for a request to `path`, from 127.0.0.1, with an
/// optional bearer token and JSON body.
pub fn gateway_request(
    function: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<lambda_http::Request> {
    let route = shared::routes::by_function(function)
        .with_context(|| format!("no route for {function}"))?;
    anyhow::ensure!(
        shared::routes::match_path(route.path, path).is_some(),
        "{path} is not a path of {}",
        route.path
    );
    let mut builder = http::Request::builder().method(route.method).uri(path);
    if let Some(token) = token {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    let body = body.map(|body| body.to_string().into_bytes());
    let (parts, ()) = builder.body(())?.into_parts();
    Ok(crate::gateway::request(
        route,
        parts,
        body.unwrap_or_default(),
        std::net::Ipv4Addr::LOCALHOST.into(),
    ))
}

/// A signed-up user with a live session and `tasks` tasks, written straight through the
/// database layer (no throttle, no request).
pub struct SeededUser {
    pub user_id: Uuid,
    pub email: String,
    pub password: String,
    pub token: String,
}

impl SeededUser {
    pub async fn create(
        state: &AppState,
        email: &str,
        password: &str,
        tasks: usize,
    ) -> anyhow::Result<Self> {
        let user_id = Uuid::new_v4();
        let name = Name::parse(Some("Seeded")).map_err(|err| anyhow::anyhow!("{err}"))?;
        let parsed_email = Email::parse(Some(email)).map_err(|err| anyhow::anyhow!("{err}"))?;
        let hash = password::hash(SecretString::from(password.to_owned())).await?;
        let issued = state
            .tokens
            .issue(user_id, parsed_email.as_str(), name.as_str())?;
        users::create_with_session(
            &state.db,
            user_id,
            &name,
            &parsed_email,
            &hash,
            issued.session_id,
            issued.expires_at,
        )
        .await?
        .with_context(|| format!("seeding {email}: the email is taken"))?;
        let count = i32::try_from(tasks)?;
        state
            .db
            .query(
                "INSERT INTO tasks (user_id, title, description)
                 SELECT $1, 'Task ' || n, 'Seeded' FROM generate_series(1, $2) AS n",
                &[
                    (&user_id, tokio_postgres::types::Type::UUID),
                    (&count, tokio_postgres::types::Type::INT4),
                ],
            )
            .await
            .context("seeding tasks")?;
        Ok(Self {
            user_id,
            email: parsed_email.as_str().to_owned(),
            password: password.to_owned(),
            token: issued.token,
        })
    }

    /// Deletes the user; its sessions and tasks go with it (ON DELETE CASCADE).
    pub async fn remove(&self, state: &AppState) -> anyhow::Result<()> {
        state
            .db
            .query(
                "DELETE FROM users WHERE id = $1",
                &[(&self.user_id, tokio_postgres::types::Type::UUID)],
            )
            .await
            .context("removing the seeded user")?;
        Ok(())
    }
}
