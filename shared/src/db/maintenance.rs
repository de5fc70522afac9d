//! Housekeeping of rows that no request will read again: expired sessions, throttle
//! counters whose window has passed, expired password-reset tokens and devices unused for
//! their lifetime. Run on a schedule (the `cleanup` function) and by the
//! local server in the background.

use std::sync::LazyLock;

use tokio_postgres::types::Type;

use super::statements::Statement;
use super::throttle::WINDOW;
use super::{Db, DbError};

/// Rows deleted per statement, so a large backlog never holds locks for long.
const BATCH: i64 = 5_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub sessions: u64,
    pub throttle_counters: u64,
    pub password_resets: u64,
    pub devices: u64,
}

pub static PURGE: LazyLock<Statement> = LazyLock::new(|| {
    let sql = format!(
        "WITH expired_sessions AS (
             DELETE FROM todo_api.sessions WHERE id IN (
                 SELECT id FROM todo_api.sessions WHERE expires_at <= now() LIMIT $1)
             RETURNING 1
         ), dead_counters AS (
             DELETE FROM todo_api.throttle_counters WHERE (rule, key) IN (
                 SELECT rule, key FROM todo_api.throttle_counters
                  WHERE window_start <= now() - {WINDOW} LIMIT $1)
             RETURNING 1
         ), expired_resets AS (
             DELETE FROM todo_api.password_resets WHERE token_digest IN (
                 SELECT token_digest FROM todo_api.password_resets WHERE expires_at <= now() LIMIT $1)
             RETURNING 1
         ), expired_devices AS (
             DELETE FROM todo_api.devices WHERE token_digest IN (
                 SELECT token_digest FROM todo_api.devices WHERE expires_at <= now() LIMIT $1)
             RETURNING 1
         )
         SELECT (SELECT count(*) FROM expired_sessions), (SELECT count(*) FROM dead_counters),
                (SELECT count(*) FROM expired_resets), (SELECT count(*) FROM expired_devices)"
    );
    Statement::new(sql, [Type::INT8])
});

/// Deletes expired sessions, dead throttle counters and expired reset tokens, in batches
/// until none is left.
pub async fn purge_expired(db: &Db) -> Result<Purged, DbError> {
    let mut purged = Purged::default();
    loop {
        let row = db.query_one(&PURGE, &[&BATCH]).await?;
        let counts: [i64; 4] = [
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        ];
        let [sessions, counters, resets, devices] = counts.map(i64::unsigned_abs);
        purged.sessions += sessions;
        purged.throttle_counters += counters;
        purged.password_resets += resets;
        purged.devices += devices;
        if counts.iter().all(|count| *count < BATCH) {
            return Ok(purged);
        }
    }
}
