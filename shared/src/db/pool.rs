//! The connection pool: deadpool over tokio-postgres connections that prepare their
//! function's [`Plan`] as they open (one pipelined round trip), and fall back to unnamed
//! statements, logged once, if the server refuses named ones (a transaction-mode pooler
//! that does not keep them, such as PgBouncer before 1.21).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::statements::{Plan, Statement};

/// One connection and the statements prepared on it.
pub struct Connection {
    pub client: tokio_postgres::Client,
    task: JoinHandle<()>,
    prepared: HashMap<Statement, tokio_postgres::Statement>,
    /// The pool's count of connections that fell back to unnamed statements.
    fallbacks: Arc<AtomicU64>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Connection {
    /// Whether it runs named statements (it prepared its plan and the server kept them).
    pub fn has_prepared(&self) -> bool {
        !self.prepared.is_empty()
    }

    /// Its prepared copy of `statement`, if it has one.
    pub fn prepared(&self, statement: &Statement) -> Option<tokio_postgres::Statement> {
        self.prepared.get(statement).cloned()
    }

    /// Prepares every statement of `plan`, all sent before any answer is awaited. A
    /// statement the server cannot prepare (a table that does not exist yet, say) is left
    /// out and will run unnamed; a server that refuses named statements altogether turns
    /// this connection to unnamed statements.
    async fn prepare(&mut self, plan: &Plan) {
        let client = &self.client;
        let prepared = futures_util::future::join_all(
            plan.statements()
                .iter()
                .map(|statement| client.prepare_typed(&statement.sql, &statement.types)),
        )
        .await;
        for (statement, result) in plan.statements().iter().zip(prepared) {
            match result {
                Ok(prepared) => {
                    self.prepared.insert(statement.clone(), prepared);
                }
                Err(err) if refuses_named_statements(&err) => {
                    self.fall_back(&err);
                    return;
                }
                Err(err) => {
                    tracing::warn!(statement = ?statement, error = %err, "statement not prepared; it runs unnamed");
                }
            }
        }
    }

    /// From now on this connection runs every statement unnamed; logged once.
    pub fn fall_back(&mut self, cause: &tokio_postgres::Error) {
        if !self.prepared.is_empty() {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                error = %cause,
                "the database refused a named statement (a pooler that does not keep them? \
                 set DATABASE_PREPARED_STATEMENTS=off): this connection uses unnamed statements"
            );
        }
        self.prepared.clear();
    }
}

/// Whether `err` says the server does not keep this connection's named statements: one
/// it prepared is gone ("does not exist"), or a name is taken by somebody else's.
pub fn refuses_named_statements(err: &tokio_postgres::Error) -> bool {
    err.code().is_some_and(|code| {
        *code == SqlState::INVALID_SQL_STATEMENT_NAME || *code == SqlState::DUPLICATE_PSTATEMENT
    })
}

pub struct Manager {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    /// What each connection prepares; `None` with `DATABASE_PREPARED_STATEMENTS=off`.
    pub plan: Option<Arc<Plan>>,
    /// Connections that fell back to unnamed statements, so far.
    pub fallbacks: Arc<AtomicU64>,
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<Connection, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(self.tls.clone()).await?;
        let task = tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "database connection closed");
            }
        });
        let mut connection = Connection {
            client,
            task,
            prepared: HashMap::new(),
            fallbacks: self.fallbacks.clone(),
        };
        if let Some(plan) = self.plan.as_ref().filter(|plan| !plan.is_empty()) {
            connection.prepare(plan).await;
        }
        Ok(connection)
    }

    // No round trip: a connection the server closed reports itself closed and is replaced.
    async fn recycle(
        &self,
        connection: &mut Connection,
        _: &Metrics,
    ) -> RecycleResult<tokio_postgres::Error> {
        if connection.client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        Ok(())
    }
}

pub type Pool = managed::Pool<Manager>;
pub type Object = managed::Object<Manager>;
