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

/// What a signup statement did.
#[derive(Debug)]
pub enum SignupOutcome {
    Created(User),
    EmailTaken,
    /// The source IP passed its signup limit; nothing was written but the count.
    Throttled {
        retry_after_secs: u64,
    },
}

/// Counts the attempt, then inserts the user and its first session: one statement, one
/// round trip. A taken email inserts nothing (`ON CONFLICT DO NOTHING` waits for a
/// concurrent insert of the same email, so parallel signups yield exactly one user).
#[allow(clippy::too_many_arguments)]
pub async fn create_with_session(
    db: &Db,
    id: Uuid,
    name: &Name,
    email: &Email,
    password_hash: &str,
    session_id: Uuid,
    session_expires_at: time::OffsetDateTime,
    attempt: &Attempt,
) -> Result<SignupOutcome, DbError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH {throttle}, new_user AS (
                 INSERT INTO users (id, email, name, password_hash)
                 SELECT $1, $2, $3, $4 WHERE (SELECT retry_after FROM throttle_verdict) IS NULL
                 ON CONFLICT ((lower(email))) DO NOTHING
                 RETURNING id, email, name
             ), new_session AS (
                 INSERT INTO sessions (id, user_id, expires_at) SELECT $5, id, $6 FROM new_user
             )
             SELECT (SELECT retry_after FROM throttle_verdict), new_user.*
               FROM (SELECT 1) AS one LEFT JOIN new_user ON true",
            throttle = throttle::counting_ctes(7),
        )
    });
    let [rules, keys, limits] = attempt.params();
    let row = db
        .query_one(
            &SQL,
            &[
                (&id, Type::UUID),
                (&email.as_str(), Type::TEXT),
                (&name.as_str(), Type::TEXT),
                (&password_hash, Type::TEXT),
                (&session_id, Type::UUID),
                (&session_expires_at, Type::TIMESTAMPTZ),
                rules,
                keys,
                limits,
            ],
        )
        .await?;
    if let Some(retry_after_secs) = throttle::retry_after(row.get(0)) {
        return Ok(SignupOutcome::Throttled { retry_after_secs });
    }
    Ok(match row.get::<_, Option<Uuid>>(1) {
        Some(id) => SignupOutcome::Created(User {
            id,
            email: row.get(2),
            name: row.get(3),
        }),
        None => SignupOutcome::EmailTaken,
    })
}

/// What the first signin statement found.
pub enum SigninLookup {
    /// A limit is passed: answer 429 without looking at the password, whoever the email is.
    Throttled { retry_after_secs: u64 },
    /// The attempt is counted; the user, if the email is known.
    Counted(Option<UserWithHash>),
}

/// Counts the signin attempt and looks the email up, in one statement.
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
