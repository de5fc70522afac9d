//! Queries on `password_resets`: reset tokens, kept only as SHA-256 digests, single use,
//! expiring, one live per account (a newer request deletes the older ones).

use std::sync::LazyLock;
use std::time::Duration;

use tokio_postgres::types::Type;

use super::statements::Statement;
use super::throttle::{self, Attempt, Judged};
use super::{Db, DbError};

/// Where a reset link goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub email: String,
    pub name: String,
}

pub static REQUEST: LazyLock<Statement> = LazyLock::new(|| {
    let mut types = throttle::email_and_attempt_types();
    types.extend([Type::BYTEA, Type::FLOAT8]);
    Statement::new(
        format!(
            "WITH {throttle}, account AS (
                 SELECT id, email, name FROM todo_api.users
                  WHERE lower(email) = $1 AND (SELECT retry_after FROM throttle_verdict) IS NULL
             ), older AS (
                 DELETE FROM todo_api.password_resets WHERE user_id IN (SELECT id FROM account)
             ), issued AS (
                 INSERT INTO todo_api.password_resets (token_digest, user_id, expires_at)
                 SELECT $5, id, now() + make_interval(secs => $6) FROM account
                 RETURNING user_id
             )
             SELECT (SELECT retry_after FROM throttle_verdict), a.email, a.name
               FROM (SELECT 1) AS one LEFT JOIN account a ON a.id IN (SELECT user_id FROM issued)",
            throttle = throttle::counting_ctes(2),
        ),
        types,
    )
});

/// Judges and counts a reset request for `email` and, when it may proceed and the email is
/// registered, stores `token_digest` for its account (deleting older ones), valid for
/// `ttl`: one statement, the same work whether or not the email is registered. Where the
/// link goes, if a token was stored.
pub async fn request(
    db: &Db,
    email: &str,
    token_digest: &[u8],
    ttl: Duration,
    attempt: &Attempt,
) -> Result<Judged<Option<Recipient>>, DbError> {
    let [rules, keys, limits] = attempt.values();
    let ttl_secs = ttl.as_secs_f64();
    let row = db
        .query_one(
            &REQUEST,
            &[&email, rules, keys, limits, &token_digest, &ttl_secs],
        )
        .await?;
    Ok(throttle::judged(&row, 0, || {
        Ok(match row.try_get::<_, Option<String>>(1)? {
            Some(email) => Some(Recipient {
                email,
                name: row.try_get(2)?,
            }),
            None => None,
        })
    })?)
}

pub static IS_VALID: LazyLock<Statement> = LazyLock::new(|| {
    Statement::new(
        "SELECT EXISTS (SELECT 1 FROM todo_api.password_resets WHERE token_digest = $1 AND expires_at > now())",
        [Type::BYTEA],
    )
});

/// Whether `token_digest` names a reset token that is still valid: checked before the new
/// password is hashed, so a bad token costs no hash.
pub async fn is_valid(db: &Db, token_digest: &[u8]) -> Result<bool, DbError> {
    let row = db.query_one(&IS_VALID, &[&token_digest]).await?;
    Ok(row.try_get(0)?)
}

pub static REDEEM: LazyLock<Statement> = LazyLock::new(|| {
    Statement::new(
        "WITH used AS (
             DELETE FROM todo_api.password_resets WHERE token_digest = $1 AND expires_at > now()
             RETURNING user_id
         ), changed AS (
             UPDATE todo_api.users SET password_hash = $2 WHERE id IN (SELECT user_id FROM used)
             RETURNING id
         ), other_links AS (
             DELETE FROM todo_api.password_resets
              WHERE user_id IN (SELECT id FROM changed) AND token_digest <> $1
         ), sessions_ended AS (
             DELETE FROM todo_api.sessions WHERE user_id IN (SELECT id FROM changed)
         )
         SELECT id FROM changed",
        [Type::BYTEA, Type::TEXT],
    )
});

/// Uses the reset token: deletes it (single use), stores the new password hash, ends
/// every session and every other reset token of its account; the account's id, or `None`
/// when the token is unknown, used or expired. One statement.
pub async fn redeem(
    db: &Db,
    token_digest: &[u8],
    password_hash: &str,
) -> Result<Option<uuid::Uuid>, DbError> {
    let row = db
        .query_opt(&REDEEM, &[&token_digest, &password_hash])
        .await?;
    Ok(row.map(|row| row.try_get(0)).transpose()?)
}
