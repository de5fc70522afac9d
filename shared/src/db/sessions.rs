//! Queries on `sessions`: one row per issued token, deleted on sign-out. Protected
//! statements check their session through [`Credential::ctes`].

use std::sync::LazyLock;

use time::OffsetDateTime;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::credentials::Credential;
use super::throttle::{Attempt, Rule};
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
             ), reset_email_ip AS (
                 DELETE FROM throttle_counters WHERE rule = '{email_ip}' AND key = $4
             )
             UPDATE throttle_counters SET attempts = attempts - 1
              WHERE attempts > 0
                AND ((rule = '{email}' AND key = $5) OR (rule = '{ip}' AND key = $6))",
            email_ip = Rule::SigninEmailIp.name(),
            email = Rule::SigninEmail.name(),
            ip = Rule::SigninIp.name(),
        )
    });
    db.query(
        &SQL,
        &[
            (&session_id, Type::UUID),
            (&user_id, Type::UUID),
            (&expires_at, Type::TIMESTAMPTZ),
            (&attempt.key(Rule::SigninEmailIp), Type::BYTEA),
            (&attempt.key(Rule::SigninEmail), Type::BYTEA),
            (&attempt.key(Rule::SigninIp), Type::BYTEA),
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
