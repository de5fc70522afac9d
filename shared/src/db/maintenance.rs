//! Housekeeping of rows that no request will read again: expired sessions, throttle
//! counters whose window has passed, expired reset and verification links, and devices
//! unused for their lifetime. Run on a schedule (the `cleanup` function) and by the
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
    pub email_verifications: u64,
}

/// Each table purged, in [`Purged`]'s order: its key, and what makes a row dead.
fn dead_rows() -> [(&'static str, &'static str, String); 5] {
    let expired = || "expires_at <= now()".to_owned();
    [
        ("sessions", "id", expired()),
        (
            "throttle_counters",
            "rule, key",
            format!("window_start <= now() - {WINDOW}"),
        ),
        ("password_resets", "token_digest", expired()),
        ("devices", "token_digest", expired()),
        ("email_verifications", "token_digest", expired()),
    ]
}

pub static PURGE: LazyLock<Statement> = LazyLock::new(|| {
    let tables = dead_rows();
    let ctes: Vec<String> = tables
        .iter()
        .map(|(table, key, dead)| {
            format!(
                "dead_{table} AS (
                     DELETE FROM todo_api.{table} WHERE ({key}) IN (
                         SELECT {key} FROM todo_api.{table} WHERE {dead} LIMIT $1)
                     RETURNING 1
                 )"
            )
        })
        .collect();
    let counts: Vec<String> = tables
        .iter()
        .map(|(table, _, _)| format!("(SELECT count(*) FROM dead_{table})"))
        .collect();
    let sql = format!("WITH {} SELECT {}", ctes.join(", "), counts.join(", "));
    Statement::new(sql, [Type::INT8])
});

/// Deletes every dead row, in batches until none is left.
pub async fn purge_expired(db: &Db) -> Result<Purged, DbError> {
    let mut purged = Purged::default();
    loop {
        let row = db.query_one(&PURGE, &[&BATCH]).await?;
        let mut counts = [0i64; 5];
        for (column, count) in counts.iter_mut().enumerate() {
            *count = row.try_get(column)?;
        }
        let [sessions, counters, resets, devices, verifications] = counts.map(i64::unsigned_abs);
        purged.sessions += sessions;
        purged.throttle_counters += counters;
        purged.password_resets += resets;
        purged.devices += devices;
        purged.email_verifications += verifications;
        if counts.iter().all(|count| *count < BATCH) {
            return Ok(purged);
        }
    }
}
