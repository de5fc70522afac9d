//! Queries on `sessions`: one row per issued token, deleted on sign-out. Protected
//! statements check their session through [`CredentialKind::ctes`].

use std::sync::LazyLock;

use time::OffsetDateTime;
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::config::better_auth_schema::utc;

use super::credentials::{
    Credential, CredentialKind, LIVE_AND_CALLER, PerKind, Protected, sql_values,
};
use super::security_events::{CallerKeeps, SecurityEvent};
use super::statements::{Params, Statement};
use super::throttle::{self, Settlement};
use super::users;
use super::{Db, DbError};

pub static OPEN_AFTER_SIGNIN: LazyLock<Statement> = LazyLock::new(|| {
    let mut params = Params::new();
    let (session, user) = (params.add(Type::UUID), params.add(Type::UUID));
    let (expires_at, device) = (params.add(Type::TIMESTAMPTZ), params.add(Type::BYTEA));
    let throttle = throttle::success_ctes(&mut params, "true");
    params.statement(format!(
        "WITH new_session AS (
             INSERT INTO todo_api.sessions (id, user_id, expires_at)
             VALUES ({session}, {user}, {expires_at})
         ), device_kept AS (
             INSERT INTO todo_api.devices AS d (token_digest, user_id, expires_at)
             VALUES ({device}, {user}, now() + {lifetime})
             ON CONFLICT (token_digest) DO UPDATE SET expires_at = EXCLUDED.expires_at
              WHERE d.user_id = EXCLUDED.user_id
         ), {throttle}
         SELECT 1",
        lifetime = users::DEVICE_LIFETIME,
    ))
});

/// Opens the session of a successful signin, keeps its device (`device_digest`: the known
/// one it presented, its life renewed, or a new one), and settles its throttle counters:
/// one statement.
pub async fn open_after_signin(
    db: &Db,
    user_id: Uuid,
    session_id: Uuid,
    expires_at: OffsetDateTime,
    device_digest: &[u8],
    settlement: &Settlement,
) -> Result<(), DbError> {
    let mut values: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        vec![&session_id, &user_id, &expires_at, &device_digest];
    values.extend(settlement.values());
    db.query(&OPEN_AFTER_SIGNIN, &values).await.map(drop)
}

/// A session's user as `GET /api/auth/session` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
}

/// The statement that reads a live credential's user (`live_user`), for each kind.
pub static LIVE_USER: PerKind = PerKind::new(live_user_statement);

fn live_user_statement(kind: &CredentialKind) -> Statement {
    match kind {
        CredentialKind::Session => Statement::new(
            "SELECT u.id::text, u.email, u.name, s.expires_at, u.email_verified
               FROM todo_api.sessions s JOIN todo_api.users u ON u.id = s.user_id
              WHERE s.id = $1 AND s.user_id = $2 AND s.expires_at > now()",
            [Type::UUID, Type::UUID],
        ),
        // Better Auth's tables as the app configured them (BETTER_AUTH_SCHEMA): ids `text`
        // or `uuid`, read as text; its expiry with or without time zone, read as UTC.
        CredentialKind::BetterAuthSession(server) => {
            let (user, session) = (&server.schema.user, &server.schema.session);
            let expires_at = utc(&format!("s.{}", session.column("expiresAt")));
            Statement::new(
                format!(
                    "SELECT u.{id}::text, u.{email}::text, u.{name}::text, {expires_at},
                            coalesce(u.{verified}, false)
                       FROM {sessions} s JOIN {users} u ON u.{id} = s.{user_id}
                      WHERE s.{token} = $1 AND {expires_at} > now()",
                    id = user.column("id"),
                    email = user.column("email"),
                    name = user.column("name"),
                    verified = user.column("emailVerified"),
                    sessions = session.table,
                    users = user.table,
                    user_id = session.column("userId"),
                    token = session.column("token"),
                ),
                [Type::TEXT],
            )
        }
        // By id as text: the JWT's subject is text, the column `text` or `uuid` (and a
        // subject that is no uuid must find nobody rather than fail the cast).
        CredentialKind::BetterAuthJwt(server) => {
            let user = &server.schema.user;
            Statement::new(
                format!(
                    "SELECT {id}::text, {email}::text, {name}::text, $2, coalesce({verified}, false)
                       FROM {users} WHERE {id}::text = $1",
                    id = user.column("id"),
                    email = user.column("email"),
                    name = user.column("name"),
                    verified = user.column("emailVerified"),
                    users = user.table,
                ),
                [Type::TEXT, Type::TIMESTAMPTZ],
            )
        }
    }
}

/// The credential's user and when the credential expires, if it is live: the check and
/// the read in one statement. A Better Auth JWT is live until its `exp` (`jwt_expires_at`)
/// while its user exists in Better Auth's `user` table.
pub(crate) async fn live_user(
    db: &Db,
    credential: &Credential,
    jwt_expires_at: Option<OffsetDateTime>,
) -> Result<Option<(SessionUser, OffsetDateTime)>, DbError> {
    let statement = LIVE_USER.for_kind(&credential.kind());
    let row = match credential {
        Credential::Session { .. } => db.query_opt(&statement, &credential.values()).await?,
        Credential::BetterAuthSession { token, .. } => db.query_opt(&statement, &[token]).await?,
        Credential::BetterAuthJwt { subject, .. } => {
            db.query_opt(&statement, &[subject, &jwt_expires_at])
                .await?
        }
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let Some(expires_at) = row.try_get::<_, Option<OffsetDateTime>>(3)? else {
        return Ok(None);
    };
    let user = SessionUser {
        id: row.try_get(0)?,
        email: row.try_get(1)?,
        name: row.try_get(2)?,
        email_verified: row.try_get(4)?,
    };
    Ok(Some((user, expires_at)))
}

pub static REVOKE: LazyLock<Statement> = LazyLock::new(|| {
    Statement::new(
        "DELETE FROM todo_api.sessions WHERE id = $1 AND user_id = $2",
        [Type::UUID, Type::UUID],
    )
});

/// Ends the session the credential stands for (sign out on this device). Better Auth's
/// sessions are Better Auth's to end: nothing to do for them here.
pub(crate) async fn revoke(db: &Db, credential: &Credential) -> Result<(), DbError> {
    match credential {
        Credential::Session { .. } => db.query(&REVOKE, &credential.values()).await.map(drop),
        Credential::BetterAuthJwt { .. } | Credential::BetterAuthSession { .. } => Ok(()),
    }
}

pub static REVOKE_ALL: LazyLock<Statement> = LazyLock::new(|| {
    let kind = CredentialKind::Session;
    let mut params = kind.params();
    let caller = CallerKeeps {
        session: Some("$1"),
        devices: Some(&params.add(Type::BYTEA_ARRAY)),
    };
    let event = SecurityEvent::SignedOutEverywhere.ctes("SELECT user_id FROM caller", &caller);
    kind.statement(
        &format!("{} SELECT 1", event.trim_end_matches(", ")),
        params,
    )
});

/// Signs the credential's user out everywhere, if the credential is still live (a revoked
/// token cannot sign anybody out): every session ends, and what else the event voids
/// goes (pending links, every device but `caller_devices`, the digests of the caller's
/// own). Only our own accounts.
pub(crate) async fn revoke_all(
    db: &Db,
    credential: &Credential,
    caller_devices: &[Vec<u8>],
) -> Result<(), DbError> {
    match credential {
        Credential::Session { .. } => db
            .query(&REVOKE_ALL, &credential.with_values(&[&caller_devices]))
            .await
            .map(drop),
        Credential::BetterAuthJwt { .. } | Credential::BetterAuthSession { .. } => Ok(()),
    }
}

/// One of a user's live sessions, as `GET /api/auth/sessions` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionSummary {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether it is the session making the request.
    pub current: bool,
}

pub static LIST: LazyLock<Statement> = LazyLock::new(|| {
    let kind = CredentialKind::Session;
    kind.statement(
        &format!(
            "listed AS (
                 SELECT id, created_at, expires_at FROM todo_api.sessions
                  WHERE user_id = (SELECT user_id FROM caller) AND expires_at > now()
             )
             SELECT {LIVE_AND_CALLER}, s.id, s.created_at, s.expires_at, s.id = $1
               FROM (SELECT 1) AS one LEFT JOIN listed s ON true
              ORDER BY s.created_at DESC, s.id"
        ),
        kind.params(),
    )
});

/// The live sessions of the caller's account (one of ours), newest first: the check and
/// the read in one statement.
pub fn list() -> Protected<'static, Vec<SessionSummary>> {
    Protected::session_rows(&LIST, sql_values![], |rows| {
        let mut sessions = Vec::new();
        for row in rows {
            // The one row of a user without sessions has none of their columns.
            let Some(id) = row.try_get::<_, Option<Uuid>>(2)? else {
                continue;
            };
            sessions.push(SessionSummary {
                id,
                created_at: row.try_get(3)?,
                expires_at: row.try_get(4)?,
                current: row.try_get(5)?,
            });
        }
        Ok(sessions)
    })
}

pub static REVOKE_ONE: LazyLock<Statement> = LazyLock::new(|| {
    let kind = CredentialKind::Session;
    let mut params = kind.params();
    let session = params.add(Type::UUID);
    kind.statement(
        &format!(
            "ended AS (
                 DELETE FROM todo_api.sessions
                  WHERE id = {session} AND user_id = (SELECT user_id FROM caller)
                    AND expires_at > now()
                 RETURNING id
             )
             SELECT {LIVE_AND_CALLER}, EXISTS (SELECT 1 FROM ended)"
        ),
        params,
    )
});

/// Ends one live session of the caller's account; whether there was one to end.
pub fn revoke_one(session_id: Uuid) -> Protected<'static, bool> {
    Protected::session_row(&REVOKE_ONE, sql_values![session_id], |row| row.try_get(2))
}
