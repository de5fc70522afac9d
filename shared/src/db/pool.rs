//! The connection pool: deadpool over tokio-postgres connections that prepare their
//! function's [`Plan`] as they open (one pipelined round trip), and fall back to unnamed
//! statements, logged once, if the server refuses named ones (a transaction-mode pooler
//! that does not keep them, such as PgBouncer before 1.21).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use futures_util::FutureExt as _;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::statements::{Plan, Statement};

/// One connection and the statements prepared on it.
pub struct Connection {
    /// Shared with the task that prepares the plan, while it runs.
    pub client: Arc<tokio_postgres::Client>,
    task: JoinHandle<()>,
    statements: Statements,
    /// The pool's count of connections that fell back to unnamed statements.
    fallbacks: Arc<AtomicU64>,
}

/// Where a connection is with its plan.
enum Statements {
    /// The plan's Parse messages are sent; their answers are still on the way. A statement
    /// run meanwhile goes unnamed, pipelined right behind them, so preparing never costs a
    /// request a round trip of its own (a Lambda's first request follows its init at once).
    Preparing(JoinHandle<Result<Prepared, tokio_postgres::Error>>),
    Prepared(Prepared),
    /// No plan, `DATABASE_PREPARED_STATEMENTS=off`, or the server refused named statements.
    Unnamed,
}

type Prepared = HashMap<Statement, tokio_postgres::Statement>;

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
        if let Statements::Preparing(task) = &self.statements {
            task.abort();
        }
    }
}

impl Connection {
    /// Whether it runs named statements (it prepared its plan and the server kept them).
    pub fn has_prepared(&mut self) -> bool {
        self.settle();
        matches!(&self.statements, Statements::Prepared(prepared) if !prepared.is_empty())
    }

    /// Its prepared copy of `statement`, if it has one by now.
    pub fn prepared(&mut self, statement: &Statement) -> Option<tokio_postgres::Statement> {
        self.settle();
        match &self.statements {
            Statements::Prepared(prepared) => prepared.get(statement).cloned(),
            _ => None,
        }
    }

    /// The client alone, for what needs it exclusively (a migration's transaction): waits
    /// for the plan's answers first.
    pub async fn exclusive(&mut self) -> anyhow::Result<&mut tokio_postgres::Client> {
        if let Statements::Preparing(task) = &mut self.statements {
            // The task's end, not just its answer: then its share of the client is gone.
            let outcome = task.await;
            self.record(outcome.ok());
        }
        Arc::get_mut(&mut self.client).ok_or_else(|| anyhow::anyhow!("the client is shared"))
    }

    /// Sends every statement of `plan` to be prepared, without waiting for the answers.
    fn start_preparing(&mut self, plan: Arc<Plan>) {
        let client = self.client.clone();
        let task = tokio::spawn(async move { prepare(&client, &plan).await });
        self.statements = Statements::Preparing(task);
    }

    /// Takes the plan's answers if they have arrived.
    fn settle(&mut self) {
        if let Statements::Preparing(task) = &mut self.statements {
            if !task.is_finished() {
                return;
            }
            let outcome = task.now_or_never().and_then(Result::ok);
            self.record(outcome);
        }
    }

    fn record(&mut self, outcome: Option<Result<Prepared, tokio_postgres::Error>>) {
        match outcome {
            Some(Ok(prepared)) => self.statements = Statements::Prepared(prepared),
            Some(Err(refused)) => self.turn_unnamed(&refused),
            // The task was aborted or panicked: the connection is going away.
            None => self.statements = Statements::Unnamed,
        }
    }

    /// From now on this connection runs every statement unnamed; logged once.
    pub fn fall_back(&mut self, cause: &tokio_postgres::Error) {
        if !matches!(self.statements, Statements::Unnamed) {
            self.turn_unnamed(cause);
        }
    }

    fn turn_unnamed(&mut self, cause: &tokio_postgres::Error) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            error = %cause,
            "the database refused a named statement (a pooler that does not keep them? \
             set DATABASE_PREPARED_STATEMENTS=off): this connection uses unnamed statements"
        );
        self.statements = Statements::Unnamed;
    }
}

/// Prepares every statement of `plan`, all sent before any answer is awaited. A statement
/// the server cannot prepare (a table that does not exist yet, say) is left out and will
/// run unnamed; a server that refuses named statements altogether is the error.
async fn prepare(
    client: &tokio_postgres::Client,
    plan: &Plan,
) -> Result<Prepared, tokio_postgres::Error> {
    let answers = futures_util::future::join_all(
        plan.statements()
            .iter()
            .map(|statement| client.prepare_typed(&statement.sql, &statement.types)),
    )
    .await;
    let mut prepared = HashMap::new();
    for (statement, answer) in plan.statements().iter().zip(answers) {
        match answer {
            Ok(named) => {
                prepared.insert(statement.clone(), named);
            }
            Err(err) if refuses_named_statements(&err) => return Err(err),
            Err(err) => {
                tracing::warn!(statement = ?statement, error = %err, "statement not prepared; it runs unnamed");
            }
        }
    }
    Ok(prepared)
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
            client: Arc::new(client),
            task,
            statements: Statements::Unnamed,
            fallbacks: self.fallbacks.clone(),
        };
        if let Some(plan) = self.plan.as_ref().filter(|plan| !plan.is_empty()) {
            connection.start_preparing(plan.clone());
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
