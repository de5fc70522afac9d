//! Queries on `sessions`: one row per issued token, deleted on sign-out.
//!
//! Every protected statement checks its own session with the fragment [`LIVE_SESSION`]
//! (parameters `$1` = session id, `$2` = user id), so the check costs no extra round trip.

use std::sync::LazyLock;

use time::OffsetDateTime;
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::throttle::{self, Rule};
use super::users::User;
use super::{Db, DbError};
use crate::auth::VerifiedToken;

/// A subquery that yields a row while the token's session is live.
pub const LIVE_SESSION: &str =
    "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND expires_at > now()";

/// Opens the session of a successful signin, and in the same statement clears the email's
/// failed attempts and gives back the attempt counted against the source IP.
pub async fn open_after_signin(
    db: &Db,
    user_id: Uuid,
    session_id: Uuid,
    expires_at: OffsetDateTime,
    email: &str,
    source_ip: Option<&str>,
) -> Result<(), DbError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH new_session AS (
                 INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, $3)
             ), reset_email AS (
                 DELETE FROM throttle_counters WHERE rule = '{email_rule}' AND key = {email_key}
             )
             UPDATE throttle_counters SET attempts = attempts - 1
              WHERE rule = '{ip_rule}' AND key = {ip_key} AND attempts > 0",
            email_rule = Rule::SigninEmail.name(),
            email_key = throttle::key_digest("$4::text"),
            ip_rule = Rule::SigninIp.name(),
            ip_key = throttle::key_digest("$5::text"),
        )
    });
    db.query(
        &SQL,
        &[
            (&session_id, Type::UUID),
            (&user_id, Type::UUID),
            (&expires_at, Type::TIMESTAMPTZ),
            (&email, Type::TEXT),
            (&source_ip, Type::TEXT),
        ],
    )
    .await
    .map(drop)
}

/// The token's user, if its session is live: the session check and the read in one statement.
pub async fn live_user(
    db: &Db,
    token: &VerifiedToken,
) -> Result<Option<(User, OffsetDateTime)>, DbError> {
    let row = db
        .query_opt(
            "SELECT u.id, u.email, u.name, s.expires_at
               FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.id = $1 AND s.user_id = $2 AND s.expires_at > now()",
            &[
                (&token.session_id, Type::UUID),
                (&token.user_id, Type::UUID),
            ],
        )
        .await?;
    Ok(row.map(|row| {
        (
            User {
                id: row.get(0),
                email: row.get(1),
                name: row.get(2),
            },
            row.get(3),
        )
    }))
}

/// Whether the token's session is live; for requests refused before their own statement ran.
pub async fn is_live(db: &Db, token: &VerifiedToken) -> Result<bool, DbError> {
    static SQL: LazyLock<String> = LazyLock::new(|| format!("SELECT EXISTS ({LIVE_SESSION})"));
    let row = db
        .query_one(
            &SQL,
            &[
                (&token.session_id, Type::UUID),
                (&token.user_id, Type::UUID),
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// Ends the token's session (sign out on this device).
pub async fn revoke(db: &Db, token: &VerifiedToken) -> Result<(), DbError> {
    db.query(
        "DELETE FROM sessions WHERE id = $1 AND user_id = $2",
        &[
            (&token.session_id, Type::UUID),
            (&token.user_id, Type::UUID),
        ],
    )
    .await
    .map(drop)
}

/// Ends every session of the token's user, if the token's own session is still live (a
/// revoked token cannot sign anybody out).
pub async fn revoke_all(db: &Db, token: &VerifiedToken) -> Result<(), DbError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("DELETE FROM sessions WHERE user_id = $2 AND EXISTS ({LIVE_SESSION})")
    });
    db.query(
        &SQL,
        &[
            (&token.session_id, Type::UUID),
            (&token.user_id, Type::UUID),
        ],
    )
    .await
    .map(drop)
}
