//! The credential a protected statement runs for, and the SQL that proves it still holds.
//!
//! Every protected statement opens with [`Credential::ctes`], which defines the CTE
//! `caller`: one row (`user_id`, the owner of the caller's rows) while the credential is
//! live, none once it has ended. The statement's own work reads its owner from there, so
//! revocation is checked in the same round trip and a dead credential writes nothing.
//! Each kind of credential brings its own predicate and binds its own `$1` and `$2`; the
//! statement's parameters start at `$3`.

use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::{Db, DbError};

/// What a protected request authenticated with, as far as the database is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// One of our sessions (an HS256 token's `jti`): live while its row exists and has
    /// not expired.
    Session { session_id: Uuid, user_id: Uuid },
}

/// What a protected statement found: the credential had ended, or it was live and here is
/// what the statement did.
#[derive(Debug)]
pub enum Outcome<T> {
    CredentialEnded,
    Done(T),
}

impl<T> Outcome<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::CredentialEnded => Outcome::CredentialEnded,
            Outcome::Done(value) => Outcome::Done(f(value)),
        }
    }
}

impl Credential {
    /// The CTE definitions (without `WITH`) that end with `caller`.
    pub fn ctes(&self) -> &'static str {
        match self {
            Credential::Session { .. } => {
                "caller AS (SELECT user_id FROM sessions
                             WHERE id = $1 AND user_id = $2 AND expires_at > now())"
            }
        }
    }

    /// The values of `$1` and `$2` that [`Credential::ctes`] reads.
    pub fn params(&self) -> [(&(dyn ToSql + Sync), Type); 2] {
        match self {
            Credential::Session {
                session_id,
                user_id,
            } => [(session_id, Type::UUID), (user_id, Type::UUID)],
        }
    }

    /// `statement_params` after the credential's own two, in the order the SQL numbers them.
    pub fn with_params<'a>(
        &'a self,
        statement_params: &[(&'a (dyn ToSql + Sync), Type)],
    ) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
        let mut params = self.params().to_vec();
        params.extend_from_slice(statement_params);
        params
    }
}

/// Whether the credential is still live: for a request refused before its own statement
/// ran, so that an ended credential gets 401 there too. Only that error path pays it.
pub async fn is_live(db: &Db, credential: &Credential) -> Result<bool, DbError> {
    let sql = format!(
        "WITH {} SELECT EXISTS (SELECT 1 FROM caller)",
        credential.ctes()
    );
    let row = db.query_one(&sql, &credential.params()).await?;
    Ok(row.get(0))
}
