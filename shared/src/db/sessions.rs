//! Queries on `sessions`: one row per issued token, deleted on sign-out. Protected
//! statements check their session through [`Credential::ctes`].

use std::sync::LazyLock;

use time::OffsetDateTime;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::credentials::{Credential, LIVE_AND_CALLER, Outcome};
use super::throttle::{self, Attempt};
use super::{Db, DbError};

/// Opens the session of a successful signin, and in the same statement clears the
/// email's failed attempts from this address and gives back the attempt the signin counted
/// against the email from everywhere and against the address.
pub async fn open_after_signin(
    db: &Db,
    user_id: Uuid,
    session_id: Uuid,
    expires_at: OffsetDateTime,
    attempt: &Attempt,
) -> Result<(), DbError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH new_session AS (
                 INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, $3)
             ), {}
             SELECT 1",
            throttle::success_ctes(4, "true")
        )
    });
    let [email_ip, email, ip] = attempt.success_params();
    db.query(
        &SQL,
        &[
            (&session_id, Type::UUID),
            (&user_id, Type::UUID),
            (&expires_at, Type::TIMESTAMPTZ),
            (&email_ip.0, email_ip.1),
            (&email.0, email.1),
            (&ip.0, ip.1),
        ],
    )
    .await
    .map(drop)
}

/// A session's user as `GET /api/auth/session` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionUser {
    pub id: String,
    pub email: String,
    pub name: String,
}

/// The credential's user and when the credential expires, if it is live: the check and
/// the read in one statement. A Better Auth JWT is live until its `exp` (`jwt_expires_at`)
/// while its user exists in Better Auth's `user` table.
pub async fn live_user(
    db: &Db,
    credential: &Credential,
    jwt_expires_at: Option<OffsetDateTime>,
) -> Result<Option<(SessionUser, OffsetDateTime)>, DbError> {
    let (sql, params): (&str, Vec<(&(dyn ToSql + Sync), Type)>) = match credential {
        Credential::Session {
            session_id,
            user_id,
        } => (
            "SELECT u.id::text, u.email, u.name, s.expires_at
               FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.id = $1 AND s.user_id = $2 AND s.expires_at > now()",
            vec![(session_id, Type::UUID), (user_id, Type::UUID)],
        ),
        Credential::BetterAuthSession { token, .. } => (
            r#"SELECT u.id, u.email, u.name, s."expiresAt"
                 FROM "session" s JOIN "user" u ON u.id = s."userId"
                WHERE s.token = $1 AND s."expiresAt" > now()"#,
            vec![(token, Type::TEXT)],
        ),
        Credential::BetterAuthJwt { subject, .. } => (
            r#"SELECT id, email, name, $2 FROM "user" WHERE id = $1"#,
            vec![(subject, Type::TEXT), (&jwt_expires_at, Type::TIMESTAMPTZ)],
        ),
    };
    let row = db.query_opt(sql, &params).await?;
    Ok(row.and_then(|row| {
        let expires_at: Option<OffsetDateTime> = row.get(3);
        Some((
            SessionUser {
                id: row.get(0),
                email: row.get(1),
                name: row.get(2),
            },
            expires_at?,
        ))
    }))
}

/// Ends the session the credential stands for (sign out on this device). Better Auth's
/// sessions are Better Auth's to end: nothing to do for them here.
pub async fn revoke(db: &Db, credential: &Credential) -> Result<(), DbError> {
    match credential {
        Credential::Session { .. } => db
            .query(
                "DELETE FROM sessions WHERE id = $1 AND user_id = $2",
                &credential.params(),
            )
            .await
            .map(drop),
        Credential::BetterAuthJwt { .. } | Credential::BetterAuthSession { .. } => Ok(()),
    }
}

/// Ends every session of the credential's user, if the credential is still live (a
/// revoked token cannot sign anybody out). Only our own sessions.
pub async fn revoke_all(db: &Db, credential: &Credential) -> Result<(), DbError> {
    match credential {
        Credential::Session { .. } => {
            static SQL: LazyLock<String> = LazyLock::new(|| {
                format!(
                    "WITH {} DELETE FROM sessions WHERE user_id = (SELECT user_id FROM caller)",
                    Credential::Session {
                        session_id: Uuid::nil(),
                        user_id: Uuid::nil()
                    }
                    .ctes()
                )
            });
            db.query(&SQL, &credential.params()).await.map(drop)
        }
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

/// The live sessions of the credential's user (one of ours), newest first: the check and
/// the read in one statement.
pub async fn list(
    db: &Db,
    credential: &Credential,
) -> Result<Outcome<Vec<SessionSummary>>, DbError> {
    let sql = format!(
        "WITH {} SELECT {LIVE_AND_CALLER}, s.id, s.created_at, s.expires_at, s.id = $1
           FROM (SELECT 1) AS one
           LEFT JOIN sessions s ON s.user_id = (SELECT user_id FROM caller) AND s.expires_at > now()
          ORDER BY s.created_at DESC, s.id",
        credential.ctes()
    );
    let rows = db.query(&sql, &credential.params()).await?;
    let judged = |column| rows.first().is_some_and(|row| row.get::<_, bool>(column));
    Ok(Outcome::judged(judged(0), judged(1), || {
        rows.iter()
            .filter_map(|row| {
                Some(SessionSummary {
                    id: row.get::<_, Option<Uuid>>(2)?,
                    created_at: row.get(3),
                    expires_at: row.get(4),
                    current: row.get(5),
                })
            })
            .collect()
    }))
}

/// Ends one live session of the credential's user; whether there was one to end.
pub async fn revoke_one(
    db: &Db,
    credential: &Credential,
    session_id: Uuid,
) -> Result<Outcome<bool>, DbError> {
    let sql = format!(
        "WITH {}, ended AS (
             DELETE FROM sessions
              WHERE id = $3 AND user_id = (SELECT user_id FROM caller) AND expires_at > now()
             RETURNING id
         )
         SELECT {LIVE_AND_CALLER}, EXISTS (SELECT 1 FROM ended)",
        credential.ctes()
    );
    let row = db
        .query_one(&sql, &credential.with_params(&[(&session_id, Type::UUID)]))
        .await?;
    Ok(Outcome::judged(row.get(0), row.get(1), || row.get(2)))
}
