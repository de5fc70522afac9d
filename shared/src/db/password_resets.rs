//! Queries on `password_resets`: reset tokens, kept only as SHA-256 digests, single use,
//! expiring, one live per account (a newer request deletes the older ones).

use std::sync::LazyLock;

use tokio_postgres::types::Type;

use super::security_events::{CallerKeeps, SecurityEvent};
use super::statements::Statement;
use super::{Db, DbError};
use super::{links, throttle};

pub static REQUEST: LazyLock<Statement> = LazyLock::new(|| {
    links::statement(|p| {
        format!(
            "WITH {throttle}, account AS (
                 SELECT id, email FROM todo_api.users
                  WHERE lower(email) = {email}
                    AND (SELECT retry_after FROM throttle_verdict) IS NULL
             ), older AS (
                 DELETE FROM todo_api.password_resets WHERE user_id IN (SELECT id FROM account)
             ), issued AS (
                 INSERT INTO todo_api.password_resets (token_digest, user_id, expires_at)
                 SELECT {digest}, id, now() + make_interval(secs => {ttl}) FROM account
                 RETURNING user_id
             )
             SELECT (SELECT retry_after FROM throttle_verdict), a.email
               FROM (SELECT 1) AS one LEFT JOIN account a ON a.id IN (SELECT user_id FROM issued)",
            throttle = p.throttle,
            email = p.email,
            digest = p.digest,
            ttl = p.ttl,
        )
    })
});

pub static ACCOUNT_OF: LazyLock<Statement> = LazyLock::new(|| {
    Statement::new(
        "SELECT u.email FROM todo_api.password_resets r JOIN todo_api.users u ON u.id = r.user_id
          WHERE r.token_digest = $1 AND r.expires_at > now()",
        [Type::BYTEA],
    )
});

/// The email of the account `token_digest`'s reset token is for, while it is valid:
/// checked before the new password is hashed, so a bad token costs no hash.
pub async fn account_of(db: &Db, token_digest: &[u8]) -> Result<Option<String>, DbError> {
    let row = db.query_opt(&ACCOUNT_OF, &[&token_digest]).await?;
    Ok(row.map(|row| row.try_get(0)).transpose()?)
}

pub static REDEEM: LazyLock<Statement> = LazyLock::new(|| {
    Statement::new(
        format!(
            "WITH used AS (
                 DELETE FROM todo_api.password_resets WHERE token_digest = $1 AND expires_at > now()
                 RETURNING user_id
             ), changed AS (
                 UPDATE todo_api.users SET password_hash = $2 WHERE id IN (SELECT user_id FROM used)
                 RETURNING id
             ), {event}counters_cleared AS (
                 DELETE FROM todo_api.throttle_counters
                  WHERE (rule, key) IN (SELECT * FROM unnest($3::text[], $4::bytea[]))
                    AND EXISTS (SELECT 1 FROM changed)
             )
             SELECT id FROM changed",
            event = SecurityEvent::PasswordReset
                .ctes("SELECT id FROM changed", &CallerKeeps::default()),
        ),
        [Type::BYTEA, Type::TEXT, Type::TEXT_ARRAY, Type::BYTEA_ARRAY],
    )
});

/// Uses the reset token: deletes it (single use), stores the new password hash, does what
/// a password reset does to the account's credentials and links (every session, every
/// other reset link, a pending change of email, every device: whoever held the account
/// before holds nothing of it), and clears the `cleared` throttle counters (the email's:
/// an owner who proved it by mail is locked out no more); the account's id, or `None`
/// when the token is unknown, used or expired. One statement.
pub async fn redeem(
    db: &Db,
    token_digest: &[u8],
    password_hash: &str,
    cleared: &throttle::Counters,
) -> Result<Option<uuid::Uuid>, DbError> {
    let (rules, keys) = cleared.values();
    let row = db
        .query_opt(&REDEEM, &[&token_digest, &password_hash, rules, keys])
        .await?;
    Ok(row.map(|row| row.try_get(0)).transpose()?)
}
