//! What a function builds once per cold start and every request borrows: config, token
//! keys, CORS policy and the database pool.

use crate::auth::TokenKeys;
use crate::config::Config;
use crate::db::Db;
use crate::http::Cors;

pub struct AppState {
    pub config: Config,
    pub tokens: TokenKeys,
    pub cors: Cors,
    pub db: Db,
}

impl AppState {
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect_lazy(&config.database)?;
        Ok(Self {
            tokens: TokenKeys::new(&config.auth_secret, config.token_lifetime),
            cors: Cors::new(config.allowed_origins.clone()),
            db,
            config,
        })
    }

    /// A Lambda cold start: configuration from the environment, then the first database
    /// connection, all before the runtime asks for the first event. A database that is down
    /// now is logged, not fatal: requests retry the connection and answer 503 meanwhile.
    pub async fn cold_start() -> anyhow::Result<Self> {
        let config = Config::load().await?;
        let state = Self::new(config)?;
        if let Err(err) = state.db.warm_up().await {
            tracing::error!(error = ?err, "first database connection failed");
        }
        Ok(state)
    }
}

/// The cold start of a function that needs only the database (migrate, cleanup):
/// `DATABASE_URL`, or the value of `DATABASE_URL_SECRET_ARN`, and the pool settings.
pub async fn database_from_env() -> anyhow::Result<Db> {
    let env = crate::secrets::resolve(|name| std::env::var(name).ok()).await?;
    let settings = crate::config::DatabaseSettings::from_lookup(&env)?;
    Db::connect_lazy(&settings)
}
