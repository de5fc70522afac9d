//! Queries on `users`.

use std::sync::LazyLock;

use tokio_postgres::types::Type;
use uuid::Uuid;

use super::throttle::{self, Attempt};
use super::{Db, DbError};
use crate::domain::{Email, Name};

#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

pub struct UserWithHash {
    pub user: User,
    pub password_hash: String,
}

/// What the first signup statement found, before any password is hashed.
#[derive(Debug, PartialEq, Eq)]
pub enum SignupCheck {
    /// Counted against the source IP's limit; the email is free.
    Counted,
    /// Counted; the email is already registered.
    EmailTaken,
    /// The source IP is at its signup limit; nothing was written.
    Throttled { retry_after_secs: u64 },
}

/// Judges and counts a signup attempt and looks the email up, in one statement, so a
/// refused or doomed signup costs no password hash.
pub async fn check_signup(
    db: &Db,
    email: &Email,
    attempt: &Attempt,
) -> Result<SignupCheck, DbError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH {throttle}
             SELECT (SELECT retry_after FROM throttle_verdict),
                    EXISTS (SELECT 1 FROM users WHERE lower(email) = $1)",
            throttle = throttle::counting_ctes(2),
        )
    });
    let [rules, keys, limits] = attempt.params();
    let row = db
        .query_one(&SQL, &[(&email.as_str(), Type::TEXT), rules, keys, limits])
        .await?;
    Ok(match throttle::retry_after(row.get(0)) {
        Some(retry_after_secs) => SignupCheck::Throttled { retry_after_secs },
        None if row.get::<_, bool>(1) => SignupCheck::EmailTaken,
        None => SignupCheck::Counted,
    })
}

/// Inserts the user and its first session: one statement. `None` when the email is taken
/// (`ON CONFLICT DO NOTHING` waits for a concurrent insert of the same email, so parallel
/// signups yield exactly one user).
pub async fn create_with_session(
    db: &Db,
    id: Uuid,
    name: &Name,
    email: &Email,
    password_hash: &str,
    session_id: Uuid,
    session_expires_at: time::OffsetDateTime,
) -> Result<Option<User>, DbError> {
    let row = db
        .query_opt(
            "WITH new_user AS (
                 INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)
                 ON CONFLICT ((lower(email))) DO NOTHING
                 RETURNING id, email, name
             ), new_session AS (
                 INSERT INTO sessions (id, user_id, expires_at) SELECT $5, id, $6 FROM new_user
             )
             SELECT id, email, name FROM new_user",
            &[
                (&id, Type::UUID),
                (&email.as_str(), Type::TEXT),
                (&name.as_str(), Type::TEXT),
                (&password_hash, Type::TEXT),
                (&session_id, Type::UUID),
                (&session_expires_at, Type::TIMESTAMPTZ),
            ],
        )
        .await?;
    Ok(row.map(|row| User {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
    }))
}

/// What the first signin statement found.
pub enum SigninLookup {
    /// A limit is reached: answer 429 without looking at the password, whoever the email
    /// is; no counter moved.
    Throttled { retry_after_secs: u64 },
    /// The attempt is counted; the user, if the email is known.
    Counted(Option<UserWithHash>),
}

/// Judges and counts the signin attempt and looks the email up, in one statement.
pub async fn find_for_signin(
    db: &Db,
    email: &str,
    attempt: &Attempt,
) -> Result<SigninLookup, DbError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH {throttle}
             SELECT (SELECT retry_after FROM throttle_verdict), u.id, u.email, u.name, u.password_hash
               FROM (SELECT 1) AS one LEFT JOIN users u ON lower(u.email) = $1",
            throttle = throttle::counting_ctes(2),
        )
    });
    let [rules, keys, limits] = attempt.params();
    let row = db
        .query_one(&SQL, &[(&email, Type::TEXT), rules, keys, limits])
        .await?;
    if let Some(retry_after_secs) = throttle::retry_after(row.get(0)) {
        return Ok(SigninLookup::Throttled { retry_after_secs });
    }
    Ok(SigninLookup::Counted(row.get::<_, Option<Uuid>>(1).map(
        |id| UserWithHash {
            user: User {
                id,
                email: row.get(2),
                name: row.get(3),
            },
            password_hash: row.get(4),
        },
    )))
}
