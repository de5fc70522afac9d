//! Queries on `users`.

use tokio_postgres::types::Type;
use uuid::Uuid;

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

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("email already registered")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Inserts the user and its first session in one statement (one round trip).
pub async fn create_with_session(
    db: &Db,
    id: Uuid,
    name: &Name,
    email: &Email,
    password_hash: &str,
    session_id: Uuid,
    session_expires_at: time::OffsetDateTime,
) -> Result<User, CreateUserError> {
    let result = db
        .query_one(
            "WITH new_user AS (
                 INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)
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
        .await;
    match result {
        Ok(row) => Ok(User {
            id: row.get(0),
            email: row.get(1),
            name: row.get(2),
        }),
        Err(DbError::UniqueViolation { constraint, .. }) if constraint == "users_email_key" => {
            Err(CreateUserError::EmailTaken)
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<UserWithHash>, DbError> {
    let row = db
        .query_opt(
            "SELECT id, email, name, password_hash FROM users WHERE lower(email) = $1",
            &[(&email, Type::TEXT)],
        )
        .await?;
    Ok(row.map(|row| UserWithHash {
        user: User {
            id: row.get(0),
            email: row.get(1),
            name: row.get(2),
        },
        password_hash: row.get(3),
    }))
}
