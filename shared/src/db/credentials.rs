//! The credential a protected statement runs for, and the SQL that proves it still holds.
//!
//! Every protected statement opens with [`CredentialKind::ctes`], which defines two CTEs:
//! `live`, one row while the credential is live, none once it has ended; and `caller`,
//! the same row if the credential may act on the route's path, with `user_id` (the owner
//! of the caller's rows in `users`) and `public_id` (the id the client knows the caller
//! by). The statement's own work reads its owner from `caller`, so revocation and the path
//! rule are checked in the same round trip and a refused credential writes nothing. Each
//! kind binds its own `$1` and `$2`; a statement adds its own after them
//! ([`CredentialKind::params`]).

use std::sync::{Arc, RwLock};

use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::statements::{Params, Statement};
use super::{Db, DbError};
use crate::config::better_auth_schema::utc;
use crate::config::{BetterAuthSchema, BetterAuthSettings};

/// What a protected request authenticated with, as far as the database is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// One of our sessions (an HS256 token's `jti`): live while its row exists and has
    /// not expired.
    Session { session_id: Uuid, user_id: Uuid },
    /// A JWT of the app's Better Auth server, already verified: live until its `exp`.
    BetterAuthJwt {
        server: Arc<BetterAuthServer>,
        subject: String,
    },
    /// A session token of the app's Better Auth server: live while its row in Better
    /// Auth's `session` table exists and has not expired. Its user is only known from
    /// that row, so the path rule (`path_owner`, when the route has one) is checked there.
    BetterAuthSession {
        server: Arc<BetterAuthServer>,
        token: String,
        path_owner: Option<String>,
    },
}

/// The app's Better Auth server as statements see it: the issuer its callers' rows in
/// `identities` record, and where its tables are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BetterAuthServer {
    pub issuer: String,
    pub schema: BetterAuthSchema,
}

/// What a protected statement found: the credential had ended, it may not act on the
/// path, or it was live and here is what the statement did. The access layer turns it
/// into the answer ([`crate::access::Authenticated::run`]).
#[derive(Debug)]
pub(crate) enum Checked<T> {
    CredentialEnded,
    NotPathOwner,
    Done(T),
}

impl<T> Checked<T> {
    /// The outcome a statement's first two columns (`live`, `caller`) give; `done` reads
    /// what the statement did only when both hold.
    pub(crate) fn judged(
        live: bool,
        caller: bool,
        done: impl FnOnce() -> Result<T, tokio_postgres::Error>,
    ) -> Result<Self, tokio_postgres::Error> {
        Ok(match (live, caller) {
            (false, _) => Checked::CredentialEnded,
            (true, false) => Checked::NotPathOwner,
            (true, true) => Checked::Done(done()?),
        })
    }

    /// [`Checked::judged`] for a statement answering one row, which starts with `live` and
    /// `caller`.
    pub(crate) fn of_row(
        row: &Row,
        done: impl FnOnce(&Row) -> Result<T, tokio_postgres::Error>,
    ) -> Result<Self, tokio_postgres::Error> {
        Self::judged(row.try_get(0)?, row.try_get(1)?, || done(row))
    }

    /// [`Checked::judged`] for a statement answering rows that each start with `live` and
    /// `caller` (at least one row, the same in each).
    pub(crate) fn of_rows(
        rows: &[Row],
        done: impl FnOnce(&[Row]) -> Result<T, tokio_postgres::Error>,
    ) -> Result<Self, tokio_postgres::Error> {
        let judged = |column| -> Result<bool, tokio_postgres::Error> {
            Ok(match rows.first() {
                Some(row) => row.try_get(column)?,
                None => false,
            })
        };
        Self::judged(judged(0)?, judged(1)?, || done(rows))
    }
}

/// A protected statement with its own values, not run yet: only the authenticated request
/// runs it, with its credential's values first, and judges the credential check (an ended
/// credential is 401, another user's path 403) before anything reads the answer. A query
/// function returns one; nothing outside the access layer can run it or see the credential.
#[must_use = "a protected statement does nothing until its authenticated request runs it"]
pub struct Protected<'a, T> {
    statement: ProtectedStatement<'a>,
    values: Vec<SqlValue<'a>>,
    read: Read<T>,
}

/// A value of a protected statement: its own, or borrowed for as long as the statement.
pub(crate) enum SqlValue<'a> {
    Owned(Box<dyn ToSql + Sync + Send + 'a>),
    Borrowed(&'a (dyn ToSql + Sync)),
}

impl SqlValue<'_> {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            SqlValue::Owned(value) => &**value,
            SqlValue::Borrowed(value) => *value,
        }
    }
}

/// The values of a protected statement, in the order of its parameters from `$3`, each
/// moved in (see [`owned`]).
macro_rules! sql_values {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::db::credentials::owned($value)),*]
    };
}
pub(crate) use sql_values;

/// A value moved into a protected statement.
pub(crate) fn owned<'a>(value: impl ToSql + Sync + Send + 'a) -> SqlValue<'a> {
    SqlValue::Owned(Box::new(value))
}

/// Values a protected statement borrows (a throttle settlement's arrays).
pub(crate) fn borrowed<'a, const N: usize>(
    values: [&'a (dyn ToSql + Sync); N],
) -> impl Iterator<Item = SqlValue<'a>> {
    values.into_iter().map(SqlValue::Borrowed)
}

/// Where a protected statement's text comes from.
enum ProtectedStatement<'a> {
    /// Written for our own sessions only (the account routes).
    Session(&'a Statement),
    /// Written for each kind of credential a deployment accepts.
    PerKind(&'static PerKind),
}

/// A statement written for each kind of credential: built on its kind's first use and
/// kept for the process (a plan, or a request, takes a clone), so no request formats SQL
/// and every clone has the same [`Statement::identity`].
pub struct PerKind {
    build: fn(&CredentialKind) -> Statement,
    built: RwLock<Vec<(CredentialKind, Statement)>>,
}

impl PerKind {
    pub const fn new(build: fn(&CredentialKind) -> Statement) -> Self {
        Self {
            build,
            built: RwLock::new(Vec::new()),
        }
    }

    /// The statement for `kind` (a process accepts at most three kinds).
    pub fn for_kind(&self, kind: &CredentialKind) -> Statement {
        let find = |built: &[(CredentialKind, Statement)]| {
            built
                .iter()
                .find(|(known, _)| known.same_as(kind))
                .map(|(_, statement)| statement.clone())
        };
        if let Some(statement) = self.built.read().ok().and_then(|built| find(&built)) {
            return statement;
        }
        let statement = (self.build)(kind);
        match self.built.write() {
            // The copy kept first, should another request have built it meanwhile.
            Ok(mut built) => find(&built).unwrap_or_else(|| {
                built.push((kind.clone(), statement.clone()));
                statement
            }),
            Err(_) => statement,
        }
    }
}

/// How a protected statement's answer is read once the credential check passed: its
/// rows (each starting with [`LIVE_AND_CALLER`]), or its one row.
enum Read<T> {
    Rows(fn(&[Row]) -> Result<T, tokio_postgres::Error>),
    Row(fn(&Row) -> Result<T, tokio_postgres::Error>),
}

impl<'a, T> Protected<'a, T> {
    /// `statement` (written for our sessions only) with `values` (`$3` on), answering one
    /// row that `read` reads.
    pub(crate) fn session_row(
        statement: &'a Statement,
        values: Vec<SqlValue<'a>>,
        read: fn(&Row) -> Result<T, tokio_postgres::Error>,
    ) -> Self {
        Self {
            statement: ProtectedStatement::Session(statement),
            values,
            read: Read::Row(read),
        }
    }

    /// [`Protected::session_row`] for a statement answering rows.
    pub(crate) fn session_rows(
        statement: &'a Statement,
        values: Vec<SqlValue<'a>>,
        read: fn(&[Row]) -> Result<T, tokio_postgres::Error>,
    ) -> Self {
        Self {
            statement: ProtectedStatement::Session(statement),
            values,
            read: Read::Rows(read),
        }
    }

    /// A statement written for each kind of credential, answering rows.
    pub(crate) fn per_kind_rows(
        statement: &'static PerKind,
        values: Vec<SqlValue<'a>>,
        read: fn(&[Row]) -> Result<T, tokio_postgres::Error>,
    ) -> Self {
        Self {
            statement: ProtectedStatement::PerKind(statement),
            values,
            read: Read::Rows(read),
        }
    }

    /// Runs it for `credential`: what it did, or that the credential ended or may not act
    /// on the path. For the access layer alone.
    pub(crate) async fn run(self, db: &Db, credential: &Credential) -> Result<Checked<T>, DbError> {
        let mut values = credential.values().to_vec();
        values.extend(self.values.iter().map(SqlValue::as_sql));
        let rows = match &self.statement {
            ProtectedStatement::Session(statement) => {
                if !matches!(credential, Credential::Session { .. }) {
                    return Err(DbError::Unavailable(anyhow::anyhow!(
                        "{statement:?} is for our own sessions only"
                    )));
                }
                db.query(statement, &values).await?
            }
            ProtectedStatement::PerKind(statement) => {
                db.query(&statement.for_kind(&credential.kind()), &values)
                    .await?
            }
        };
        Ok(match self.read {
            Read::Rows(read) => Checked::of_rows(&rows, read)?,
            Read::Row(read) => {
                let row = rows.first().ok_or_else(|| {
                    DbError::Unavailable(anyhow::anyhow!("statement returned no row"))
                })?;
                Checked::of_row(row, read)?
            }
        })
    }
}

/// The two columns every protected statement starts its answer with.
pub const LIVE_AND_CALLER: &str =
    "EXISTS (SELECT 1 FROM live) AS live, EXISTS (SELECT 1 FROM caller) AS caller";

/// A kind of credential, as far as a statement's text is concerned: its CTEs and the types
/// of its `$1` and `$2`. A function prepares each of its protected statements once per kind
/// it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    Session,
    BetterAuthJwt(Arc<BetterAuthServer>),
    BetterAuthSession(Arc<BetterAuthServer>),
}

impl CredentialKind {
    /// The CTE definitions (without `WITH`) that end with `live` and `caller`.
    pub fn ctes(&self) -> String {
        match self {
            CredentialKind::Session => "live AS (
                 SELECT user_id, user_id::text AS public_id FROM todo_api.sessions
                  WHERE id = $1 AND user_id = $2 AND expires_at > now()
             ), caller AS (SELECT * FROM live)"
                .to_owned(),
            CredentialKind::BetterAuthJwt(server) => {
                better_auth_ctes(&server.issuer, "SELECT $1::text AS subject")
            }
            CredentialKind::BetterAuthSession(server) => {
                better_auth_ctes(&server.issuer, &live_better_auth_session(&server.schema))
            }
        }
    }

    /// The types of `$1` and `$2`.
    pub fn types(&self) -> [Type; 2] {
        match self {
            CredentialKind::Session => [Type::UUID, Type::UUID],
            CredentialKind::BetterAuthJwt { .. } | CredentialKind::BetterAuthSession { .. } => {
                [Type::TEXT, Type::TEXT]
            }
        }
    }

    /// The parameters of one of its protected statements: its `$1` and `$2`, then the
    /// statement's own as they are added.
    pub fn params(&self) -> Params {
        Params::after(&self.types())
    }

    /// A protected statement: `WITH <the credential's CTEs>, <rest>`, with `params` (begun
    /// by [`CredentialKind::params`]).
    pub fn statement(&self, rest: &str, params: Params) -> Statement {
        params.statement(format!("WITH {}, {rest}", self.ctes()))
    }

    /// The statement of `check`: is the credential live, may it act on the path.
    pub fn check_statement(&self) -> Statement {
        static CHECK: PerKind = PerKind::new(|kind| {
            Statement::new(
                format!("WITH {} SELECT {LIVE_AND_CALLER}", kind.ctes()),
                kind.types().to_vec(),
            )
        });
        CHECK.for_kind(self)
    }

    /// Whether it is the same kind as `other`: the same variant, and for Better Auth's
    /// the same server (by address first: a process holds one per configuration).
    fn same_as(&self, other: &CredentialKind) -> bool {
        match (self, other) {
            (CredentialKind::Session, CredentialKind::Session) => true,
            (CredentialKind::BetterAuthJwt(a), CredentialKind::BetterAuthJwt(b))
            | (CredentialKind::BetterAuthSession(a), CredentialKind::BetterAuthSession(b)) => {
                Arc::ptr_eq(a, b) || a == b
            }
            _ => false,
        }
    }
}

/// A query of Better Auth's session (`$1`: its token) that yields its user, as text, as
/// `subject` while it has not expired. Ids may be `text` or `uuid`, the expiry a timestamp
/// with or without time zone.
fn live_better_auth_session(schema: &BetterAuthSchema) -> String {
    let session = &schema.session;
    format!(
        "SELECT s.{user_id}::text AS subject FROM {table} s
          WHERE s.{token} = $1 AND {expires_at} > now()",
        user_id = session.column("userId"),
        table = session.table,
        token = session.column("token"),
        expires_at = utc(&format!("s.{}", session.column("expiresAt"))),
    )
}

/// The kinds of credential a function of `config` accepts: our sessions, and with
/// `BETTER_AUTH_URL` Better Auth's JWTs and (its tables in this database) session tokens.
pub fn accepted_kinds(config: &crate::config::Config) -> Vec<CredentialKind> {
    let mut kinds = vec![CredentialKind::Session];
    if let Some(better_auth) = &config.better_auth {
        let server = Arc::new(BetterAuthServer::of(better_auth));
        kinds.push(CredentialKind::BetterAuthJwt(server.clone()));
        if better_auth.accepts_session_tokens() {
            kinds.push(CredentialKind::BetterAuthSession(server));
        }
    }
    kinds
}

impl BetterAuthServer {
    pub fn of(settings: &BetterAuthSettings) -> Self {
        Self {
            issuer: settings.issuer.clone(),
            schema: settings.schema.clone(),
        }
    }
}

impl Credential {
    pub(crate) fn kind(&self) -> CredentialKind {
        match self {
            Credential::Session { .. } => CredentialKind::Session,
            Credential::BetterAuthJwt { server, .. } => {
                CredentialKind::BetterAuthJwt(server.clone())
            }
            Credential::BetterAuthSession { server, .. } => {
                CredentialKind::BetterAuthSession(server.clone())
            }
        }
    }

    /// The values of `$1` and `$2` that its kind's CTEs read.
    pub(crate) fn values(&self) -> [&(dyn ToSql + Sync); 2] {
        const NO_PATH_OWNER: &Option<String> = &None;
        match self {
            Credential::Session {
                session_id,
                user_id,
            } => [session_id, user_id],
            Credential::BetterAuthJwt { subject, .. } => [subject, NO_PATH_OWNER],
            Credential::BetterAuthSession {
                token, path_owner, ..
            } => [token, path_owner],
        }
    }

    /// `statement_values` after the credential's own two, in the order the SQL numbers them.
    pub(crate) fn with_values<'a>(
        &'a self,
        statement_values: &[&'a (dyn ToSql + Sync)],
    ) -> Vec<&'a (dyn ToSql + Sync)> {
        let mut values = self.values().to_vec();
        values.extend_from_slice(statement_values);
        values
    }
}

/// A Better Auth caller, from `subjects` (a query yielding its user id as `subject` while
/// the credential is live): the path rule (`$2`, when not null), then its row in `users`,
/// created on first use with the id `identity_user_id(issuer, subject)` gives (the same on
/// every instance, so simultaneous first uses create one row), recorded in `identities`.
/// Nothing is ever linked by email.
fn better_auth_ctes(issuer: &str, subjects: &str) -> String {
    let issuer = sql_literal(issuer);
    format!(
        "live AS ({subjects}
         ), ba_owner AS (
             SELECT subject, todo_api.identity_user_id({issuer}, subject) AS user_id FROM live
              WHERE $2::text IS NULL OR subject = $2::text
         ), ba_user AS (
             INSERT INTO todo_api.users (id)
             SELECT user_id FROM ba_owner o WHERE NOT EXISTS (SELECT 1 FROM todo_api.users u WHERE u.id = o.user_id)
             ON CONFLICT (id) DO NOTHING
             RETURNING id
         ), ba_identity AS (
             INSERT INTO todo_api.identities (issuer, subject, user_id)
             SELECT {issuer}, o.subject, o.user_id FROM ba_owner o JOIN ba_user u ON u.id = o.user_id
             ON CONFLICT DO NOTHING
         ), caller AS (SELECT user_id, subject AS public_id FROM ba_owner)"
    )
}

/// `text` as an SQL string literal. Only configuration (the issuer) is pasted this way;
/// every value from a request is a parameter.
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Whether the credential is live and may act on the path: for a request refused before
/// its own statement ran, so that an ended credential gets 401 and somebody else's path
/// 403 there too. Only that error path pays it.
pub(crate) async fn check(db: &Db, credential: &Credential) -> Result<Checked<()>, DbError> {
    let statement = credential.kind().check_statement();
    let row = db.query_one(&statement, &credential.values()).await?;
    Ok(Checked::of_row(&row, |_| Ok(()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_is_quoted_as_a_literal() {
        assert_eq!(
            sql_literal("https://app.example.com"),
            "'https://app.example.com'"
        );
        assert_eq!(sql_literal("it's"), "'it''s'");
    }
}
