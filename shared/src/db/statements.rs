//! Statements as the API sends them: the SQL text and the types of its parameters, built by
//! the query modules. A function lists the statements it sends (its plan); each connection
//! prepares them all as named statements when it opens, pipelined in one round trip, so
//! every request then costs PostgreSQL a Bind and an Execute, never planning the text again.

use std::fmt;
use std::sync::Arc;

use tokio_postgres::types::Type;

/// One statement: its text and parameter types are its identity (a connection finds its
/// prepared copy by them).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Statement {
    pub sql: Arc<str>,
    pub types: Arc<[Type]>,
}

impl Statement {
    pub fn new(sql: impl Into<Arc<str>>, types: impl Into<Arc<[Type]>>) -> Self {
        Self {
            sql: sql.into(),
            types: types.into(),
        }
    }

    /// Its identity in this process: the address of its text, which every clone shares.
    /// Each statement is built once (a static, or once per kind of credential) and cloned
    /// from there, so a connection finds its prepared copy by this number, never by
    /// hashing the text on a request.
    pub fn identity(&self) -> usize {
        Arc::as_ptr(&self.sql).cast::<u8>() as usize
    }
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first line is enough to recognise it in a log.
        let first_line = self.sql.trim().lines().next().unwrap_or_default();
        write!(
            f,
            "Statement({first_line:?} …, {} parameters)",
            self.types.len()
        )
    }
}

/// The parameters of a statement being written: each is numbered as it is added, with its
/// type, so no placeholder is numbered by hand and none can drift from its type or from
/// its place among the values (which follow the order the parameters were added in).
#[derive(Debug, Default)]
pub struct Params {
    types: Vec<Type>,
}

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// After parameters already numbered (`$1`, `$2` of a credential's CTEs).
    pub fn after(types: &[Type]) -> Self {
        Self {
            types: types.to_vec(),
        }
    }

    /// A new parameter of type `ty`: its placeholder, `$n`.
    pub fn add(&mut self, ty: Type) -> String {
        self.types.push(ty);
        format!("${}", self.types.len())
    }

    /// The statement `sql`, written with these parameters.
    pub fn statement(self, sql: impl Into<Arc<str>>) -> Statement {
        Statement::new(sql, self.types)
    }
}

/// The statements one function sends: what its connections prepare when they open.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    statements: Vec<Statement>,
}

impl Plan {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `statements` (each once).
    pub fn with(mut self, statements: impl IntoIterator<Item = Statement>) -> Self {
        for statement in statements {
            if !self.statements.contains(&statement) {
                self.statements.push(statement);
            }
        }
        self
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}
