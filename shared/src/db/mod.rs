//! The database: connections (TLS through rustls, statements named by what they are), the
//! pool, the client-side statement timeout, and one module of queries per table.

pub mod better_auth_tables;
pub mod connect;
pub mod credentials;
pub mod email_verifications;
pub mod links;
pub mod maintenance;
pub mod migrations;
pub mod password_resets;
pub mod pool;
pub mod security_events;
pub mod sessions;
pub mod statement_names;
pub mod statements;
pub mod tasks;
pub mod throttle;
pub mod tls;
pub mod users;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use deadpool::Runtime;
use futures_util::future::BoxFuture;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use self::pool::{Manager, Object, Pool};
use self::statements::{Plan, Statement};

use crate::config::{DatabaseSettings, Schema};

/// The pool plus the per-statement deadline. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// `DATABASE_SCHEMA`, when not the default every statement is written with.
    schema: Option<Arc<str>>,
    /// With another schema: each statement in it, by the identity of its text in the
    /// default one, written once (the plan's at the start, any other on its first use).
    /// The original is kept beside it, so no other statement can take its identity.
    in_schema: Arc<RwLock<HashMap<usize, (Statement, Statement)>>>,
    statement_timeout: Duration,
    /// Statements sent, each one round trip: lets tests and benchmarks count them.
    round_trips: Arc<AtomicU64>,
    /// Statements sent unnamed although the connection had prepared its plan: a statement
    /// missing from the function's plan (the benchmarks and tests check that it stays 0).
    unplanned: Arc<AtomicU64>,
}

impl Db {
    /// Builds the pool; no connection is opened until the first `client()`. Each
    /// connection prepares `plan` when it opens (unless `DATABASE_PREPARED_STATEMENTS=off`).
    pub fn connect_lazy(settings: &DatabaseSettings, plan: Plan) -> anyhow::Result<Self> {
        let mut config = settings.target.config.clone();
        config
            .connect_timeout(settings.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .application_name("todo-api");
        if let Some(warning) = settings.target.unverified_remote_warning() {
            tracing::warn!("{warning}");
        }
        let tls = tls::connector(
            settings.target.verifies_tls(),
            settings.extra_ca_file.as_deref(),
        )?;
        // Statements name the default schema; any other is written in once, here.
        let schema = (!settings.schema.is_default()).then(|| Arc::from(settings.schema.as_str()));
        let mut rewritten = HashMap::new();
        let plan = match &schema {
            Some(schema) => Plan::new().with(plan.statements().iter().map(|statement| {
                let written = in_schema(statement, schema);
                rewritten.insert(statement.identity(), (statement.clone(), written.clone()));
                written
            })),
            None => plan,
        };
        let manager = Manager {
            config,
            tls,
            plan: settings.prepared_statements.then(|| Arc::new(plan)),
            fallbacks: Arc::default(),
        };
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.connect_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.connect_timeout))
            .build()
            .context("building the connection pool")?;
        Ok(Self {
            pool,
            schema,
            in_schema: Arc::new(RwLock::new(rewritten)),
            statement_timeout: settings.statement_timeout,
            round_trips: Arc::default(),
            unplanned: Arc::default(),
        })
    }

    /// Opens the first connection now, so a cold start pays for the connection (TCP, TLS,
    /// authentication) before the first request. Its plan goes with the first request's
    /// statement, in the same round trip.
    pub async fn warm_up(&self) -> anyhow::Result<()> {
        self.client().await.map(drop)
    }

    /// Opens a connection and prepares its plan now: for benchmarks and tests that count
    /// what each request sends from then on.
    pub async fn warm_up_prepared(&self) -> anyhow::Result<()> {
        let mut connection = self.client().await?;
        connection.prepare_now().await?;
        Ok(())
    }

    /// [`Db::warm_up`] for a cold start: a database that is down, or refuses TLS or a
    /// certificate, is logged in one line saying what to do, not fatal; requests retry
    /// the connection and answer 503 meanwhile.
    pub async fn warm_up_logged(&self) {
        if let Err(err) = self.warm_up().await {
            tracing::error!("{}", tls::explain_connect_error(&err));
        }
    }

    /// A connection from the pool, opened (and its plan sent) if none is free.
    // Boxed here, like `query`: the future holds the whole connect-and-prepare of a new
    // connection, compiled once in this crate rather than in every function that awaits it.
    pub fn client(&self) -> BoxFuture<'_, anyhow::Result<Object>> {
        Box::pin(async move {
            self.pool
                .get()
                .await
                .map_err(|err| match err {
                    deadpool::managed::PoolError::Backend(err) => anyhow::Error::new(err),
                    other => anyhow::anyhow!("{other}"),
                })
                .context("getting a database connection")
        })
    }

    /// Runs one statement in one round trip: its prepared copy when the connection has one
    /// (Bind and Execute only), else unnamed with its parameter types (Parse, Bind and
    /// Execute, still one round trip, and fine behind any pooler).
    ///
    /// Boxed: a non-generic function that returns the future is compiled in this crate,
    /// while an `async fn`'s body (and the driver's, the pool's and the TLS client's below
    /// it) would be compiled again into every function crate that awaits it.
    pub fn query<'a>(
        &'a self,
        statement: &'a Statement,
        values: &'a [&'a (dyn ToSql + Sync)],
    ) -> BoxFuture<'a, Result<Vec<Row>, DbError>> {
        Box::pin(self.run(statement, values))
    }

    async fn run(
        &self,
        statement: &Statement,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        if values.len() != statement.types.len() {
            return Err(DbError::Unavailable(anyhow::anyhow!(
                "{statement:?} given {} values",
                values.len()
            )));
        }
        let rewritten;
        let statement = match &self.schema {
            Some(schema) => {
                rewritten = self.in_schema(statement, schema);
                &rewritten
            }
            None => statement,
        };
        let mut connection = self.client().await.map_err(DbError::Unavailable)?;
        let sent = connection.send(statement, values);
        match tokio::time::timeout(self.statement_timeout, sent).await {
            Ok(sent) => {
                self.round_trips
                    .fetch_add(sent.statements, Ordering::Relaxed);
                if sent.unplanned {
                    self.unplanned.fetch_add(1, Ordering::Relaxed);
                }
                sent.rows.map_err(DbError::from)
            }
            Err(_) => {
                self.round_trips.fetch_add(1, Ordering::Relaxed);
                // The connection may still be waiting on the lost answer: never reuse it.
                let _ = Object::take(connection);
                Err(DbError::Unavailable(anyhow::anyhow!(
                    "statement took longer than {:?}",
                    self.statement_timeout
                )))
            }
        }
    }

    pub async fn query_one(
        &self,
        statement: &Statement,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, DbError> {
        self.query_opt(statement, values)
            .await?
            .ok_or_else(|| DbError::Unavailable(anyhow::anyhow!("statement returned no row")))
    }

    pub async fn query_opt(
        &self,
        statement: &Statement,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        Ok(self.query(statement, values).await?.into_iter().next())
    }

    /// `statement` in `schema`: as written when the plan (or a first use) rewrote it.
    fn in_schema(&self, statement: &Statement, schema: &str) -> Statement {
        let identity = statement.identity();
        if let Some(written) = self
            .in_schema
            .read()
            .ok()
            .and_then(|known| known.get(&identity).map(|(_, written)| written.clone()))
        {
            return written;
        }
        let written = in_schema(statement, schema);
        match self.in_schema.write() {
            // The copy filed first, should another request have written it meanwhile.
            Ok(mut known) => known
                .entry(identity)
                .or_insert_with(|| (statement.clone(), written))
                .1
                .clone(),
            Err(_) => written,
        }
    }

    /// The schema of the API's own tables.
    pub fn schema(&self) -> &str {
        self.schema.as_deref().unwrap_or(Schema::DEFAULT)
    }

    /// How many statements this pool has sent so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// How many connections fell back to unnamed statements because the server refused
    /// named ones.
    pub fn fallbacks(&self) -> u64 {
        self.pool.manager().fallbacks.load(Ordering::Relaxed)
    }

    /// How many statements were sent unnamed although their connection had prepared its
    /// plan: each is a statement missing from the function's plan.
    pub fn unplanned_statements(&self) -> u64 {
        self.unplanned.load(Ordering::Relaxed)
    }
}

/// `statement` with every object of the default schema (`todo_api.<name>`) named in
/// `schema` instead.
fn in_schema(statement: &Statement, schema: &str) -> Statement {
    let prefix = format!("{}.", Schema::DEFAULT);
    let mut sql = String::with_capacity(statement.sql.len());
    let mut rest: &str = &statement.sql;
    while let Some(at) = rest.find(&prefix) {
        let (before, after) = rest.split_at(at);
        sql.push_str(before);
        // Only a whole identifier: `my_todo_api.` is somebody else's.
        let whole = !before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"');
        sql.push_str(if whole { schema } else { Schema::DEFAULT });
        sql.push('.');
        rest = after.get(prefix.len()..).unwrap_or_default();
    }
    sql.push_str(rest);
    Statement::new(sql, statement.types.clone())
}

/// What can go wrong with a statement. Constraint violations a route expects (the
/// unique email) are settled inside its statement (`ON CONFLICT`), so every error here is
/// unexpected: a 5xx with its cause logged.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database statement failed")]
    Statement(#[from] tokio_postgres::Error),
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl DbError {
    /// Whether the statement broke the unique constraint (or index) `constraint`: a
    /// conflict another request caused between a check and a write.
    pub fn is_unique_violation(&self, constraint: &str) -> bool {
        match self {
            DbError::Statement(err) => err.as_db_error().is_some_and(|db| {
                *db.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
                    && db.constraint() == Some(constraint)
            }),
            DbError::Unavailable(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_schema_is_written_in_for_the_default_one_only() {
        let statement = Statement::new(
            "SELECT todo_api.f(x) FROM todo_api.users u JOIN my_todo_api.t ON \"todo_api.\" = 'todo_api'",
            [],
        );
        assert_eq!(
            &*in_schema(&statement, "app_api").sql,
            "SELECT app_api.f(x) FROM app_api.users u JOIN my_todo_api.t ON \"todo_api.\" = 'todo_api'"
        );
    }
}
