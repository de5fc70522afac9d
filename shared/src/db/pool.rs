//! The connection pool: deadpool over tokio-postgres connections (opened by
//! [`super::connect`], so their statements are named by what they are) that prepare their
//! function's [`Plan`] together with their first statement, and fall back to unnamed
//! statements, logged once, if the server refuses named ones.
//!
//! **One Sync in flight outside a transaction.** A transaction-mode pooler that predates
//! pipelining support (PgBouncer before 1.21) hands a server connection to the next client
//! at the first ReadyForQuery outside a transaction, even when the client has sent more
//! behind it: those messages then run, and are answered, on a connection another client
//! holds. So a connection never sends after a Sync before its answer, except inside a
//! transaction: the plan goes out as `BEGIN`, every statement prepared, the first
//! statement, `COMMIT`, in one write and one round trip; every later statement is one
//! Bind-Execute-Sync (or Parse-Bind-Execute-Sync unnamed) at a time; and prepared statements
//! are never closed one by one (each Close carries its own Sync), only with the connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::connect::{self, ConnectError};
use super::statements::{Plan, Statement};

/// One connection and the statements prepared on it.
pub struct Connection {
    pub client: Client,
    task: JoinHandle<()>,
    statements: Statements,
    /// Prepared statements no longer used (the server refused named ones): kept until the
    /// connection closes, since dropping them would send a Close each.
    retired: Vec<tokio_postgres::Statement>,
    /// The pool's count of connections that fell back to unnamed statements.
    fallbacks: Arc<AtomicU64>,
}

/// Where a connection is with its plan.
enum Statements {
    /// Not sent yet: it goes with the connection's first statement.
    Planned(Arc<Plan>),
    Prepared(Prepared),
    /// No plan, `DATABASE_PREPARED_STATEMENTS=off`, or the server refused named statements.
    Unnamed,
}

/// The plan's statements prepared on the connection, by [`Statement::identity`]; each
/// keeps its statement, so no other can take its identity while the connection lives.
type Prepared = HashMap<usize, (Statement, tokio_postgres::Statement)>;

/// What a statement sent on a connection found: its rows, and how many statements it took
/// (more than one only when the server refused a named statement and it ran again).
pub struct Sent {
    pub rows: Result<Vec<Row>, tokio_postgres::Error>,
    pub statements: u64,
    /// It was not in the plan although the connection had prepared one.
    pub unplanned: bool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // First, so that nothing the statements' drops queue is ever sent.
        self.task.abort();
    }
}

impl Connection {
    /// Runs `statement` with `values`: the plan first if it has not gone yet, then its
    /// prepared copy if there is one, else unnamed with its parameter types.
    pub async fn send(&mut self, statement: &Statement, values: &[&(dyn ToSql + Sync)]) -> Sent {
        if let Statements::Planned(plan) = &self.statements {
            let plan = plan.clone();
            return self.send_with_plan(&plan, statement, values).await;
        }
        let prepared = match &self.statements {
            Statements::Prepared(prepared) => prepared
                .get(&statement.identity())
                .map(|(_, named)| named.clone()),
            _ => None,
        };
        let Some(prepared) = prepared else {
            let unplanned = matches!(&self.statements, Statements::Prepared(p) if !p.is_empty());
            if unplanned {
                tracing::debug!(statement = ?statement, "not in the plan: sent unnamed");
            }
            return Sent {
                rows: unnamed(&self.client, statement, values).await,
                statements: 1,
                unplanned,
            };
        };
        match self.client.query(&prepared, values).await {
            // Nothing ran: the server had no such statement. Once more, unnamed.
            Err(err) if refuses_named_statements(&err) => {
                self.fall_back(&err);
                Sent {
                    rows: unnamed(&self.client, statement, values).await,
                    statements: 2,
                    unplanned: false,
                }
            }
            rows => Sent {
                rows,
                statements: 1,
                unplanned: false,
            },
        }
    }

    /// The connection's first statement, with its plan: `BEGIN`, every statement of the
    /// plan prepared, `statement` (unnamed: its prepared copy is not there to bind yet),
    /// `COMMIT`, written at once. The transaction keeps every answer on one server
    /// connection of a pooler; its COMMIT is what acknowledges the statement's work.
    async fn send_with_plan(
        &mut self,
        plan: &Plan,
        statement: &Statement,
        values: &[&(dyn ToSql + Sync)],
    ) -> Sent {
        // `join!` polls in order, and each future sends its messages when first polled.
        let (prepared, rows, committed) = futures_util::join!(
            prepare_in_transaction(&self.client, plan),
            unnamed(&self.client, statement, values),
            self.client.batch_execute("COMMIT")
        );
        self.settle(prepared);
        match (rows, committed) {
            // A statement of the plan failed and took the transaction with it: the
            // statement never ran. Now that the transaction is over, it runs on its own.
            (Err(err), Ok(())) if err.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => {
                Sent {
                    rows: unnamed(&self.client, statement, values).await,
                    statements: 2,
                    unplanned: false,
                }
            }
            (rows, committed) => Sent {
                rows: committed.and(rows),
                statements: 1,
                unplanned: false,
            },
        }
    }

    /// Prepares the plan now, if it has not gone yet: `BEGIN`, every statement, `COMMIT`.
    pub async fn prepare_now(&mut self) -> Result<(), tokio_postgres::Error> {
        let Statements::Planned(plan) = &self.statements else {
            return Ok(());
        };
        let plan = plan.clone();
        let (prepared, committed) = futures_util::join!(
            prepare_in_transaction(&self.client, &plan),
            self.client.batch_execute("COMMIT")
        );
        self.settle(prepared);
        committed
    }

    /// Takes what preparing the plan gave.
    fn settle(&mut self, outcome: Result<Prepared, tokio_postgres::Error>) {
        match outcome {
            Ok(prepared) => self.statements = Statements::Prepared(prepared),
            Err(refused) => self.turn_unnamed(&refused),
        }
    }

    /// From now on this connection runs every statement unnamed; logged once.
    fn fall_back(&mut self, cause: &tokio_postgres::Error) {
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
        if let Statements::Prepared(prepared) =
            std::mem::replace(&mut self.statements, Statements::Unnamed)
        {
            self.retired
                .extend(prepared.into_values().map(|(_, named)| named));
        }
    }
}

/// `BEGIN` and every statement of `plan` prepared, all sent before any answer is awaited
/// (the caller sends what ends the transaction right behind them). A statement the server
/// cannot prepare (a table that does not exist yet, say) is left out and runs unnamed; a
/// server that refuses named statements altogether is the error.
async fn prepare_in_transaction(
    client: &Client,
    plan: &Plan,
) -> Result<Prepared, tokio_postgres::Error> {
    // Each prepare between a savepoint and a rollback to it: one that fails (a table
    // that does not exist yet, say) leaves the transaction usable for the next, and for
    // the statement behind them. A prepared statement outlives the rollback: prepared
    // statements are not transactional.
    let (began, answers) = futures_util::join!(
        client.batch_execute("BEGIN"),
        futures_util::future::join_all(plan.statements().iter().map(|statement| async move {
            let (_, prepared, _) = futures_util::join!(
                client.batch_execute("SAVEPOINT plan"),
                client.prepare_typed(&statement.sql, &statement.types),
                client.batch_execute("ROLLBACK TO SAVEPOINT plan; RELEASE SAVEPOINT plan")
            );
            prepared
        }))
    );
    began?;
    let mut prepared = HashMap::new();
    for (statement, answer) in plan.statements().iter().zip(answers) {
        match answer {
            Ok(named) => {
                prepared.insert(statement.identity(), (statement.clone(), named));
            }
            Err(err) if refuses_named_statements(&err) => return Err(err),
            Err(err) => {
                tracing::warn!(statement = ?statement, error = %err, "statement not prepared; it runs unnamed");
            }
        }
    }
    Ok(prepared)
}

/// `statement` as an unnamed statement: its text and types sent with the values.
async fn unnamed(
    client: &Client,
    statement: &Statement,
    values: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = values
        .iter()
        .copied()
        .zip(statement.types.iter().cloned())
        .collect();
    client.query_typed(&statement.sql, &typed).await
}

/// Whether `err` says the server does not keep this connection's named statements: one
/// it prepared is gone ("does not exist"), or its name is taken (by that very statement,
/// prepared there by another client of a pooler that does not keep statements apart).
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
    type Error = ConnectError;

    async fn create(&self) -> Result<Connection, ConnectError> {
        let (client, connection) = connect::connect(&self.config, &self.tls).await?;
        let task = tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "database connection closed");
            }
        });
        let statements = match self.plan.as_ref().filter(|plan| !plan.is_empty()) {
            Some(plan) => Statements::Planned(plan.clone()),
            None => Statements::Unnamed,
        };
        Ok(Connection {
            client,
            task,
            statements,
            retired: Vec::new(),
            fallbacks: self.fallbacks.clone(),
        })
    }

    // No round trip: a connection the server closed reports itself closed and is replaced.
    async fn recycle(
        &self,
        connection: &mut Connection,
        _: &Metrics,
    ) -> RecycleResult<ConnectError> {
        if connection.client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        Ok(())
    }
}

pub type Pool = managed::Pool<Manager>;
pub type Object = managed::Object<Manager>;
