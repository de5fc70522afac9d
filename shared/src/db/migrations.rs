//! Versioned schema migrations, embedded in the binary and applied in order, once each.
//! Only the `migrate` binary and the local server call this: a cold start never migrates.

use anyhow::Context as _;
use tokio_postgres::Client;

/// Every migration, in order. Adding a file means adding a line here.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "users_and_sessions",
        include_str!("../../../migrations/V1__users_and_sessions.sql"),
    ),
    (
        2,
        "tasks",
        include_str!("../../../migrations/V2__tasks.sql"),
    ),
    (
        3,
        "throttle",
        include_str!("../../../migrations/V3__throttle.sql"),
    ),
];

/// A stable fingerprint of a migration's text (FNV-1a), to notice an applied file edited.
fn checksum(sql: &str) -> i64 {
    let hash = sql.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Connects with `db` (TLS as configured) and applies what is missing.
pub async fn run_with(db: &super::Db) -> anyhow::Result<Vec<i32>> {
    let mut client = db.client().await?;
    run(&mut client).await
}

/// Applies what is missing; returns the versions applied now. Concurrent runs serialise on
/// an advisory lock, so two deploys cannot apply one migration twice.
pub async fn run(client: &mut Client) -> anyhow::Result<Vec<i32>> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   bigint NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .context("creating schema_migrations")?;

    let mut applied_now = Vec::new();
    for &(version, name, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock(7266001)", &[])
            .await?;
        let recorded = tx
            .query_opt(
                "SELECT checksum FROM schema_migrations WHERE version = $1",
                &[&version],
            )
            .await?;
        match recorded {
            Some(row) => {
                let recorded: i64 = row.get(0);
                anyhow::ensure!(
                    recorded == checksum(sql),
                    "migration V{version}__{name} was edited after it was applied; add a new migration instead"
                );
            }
            None => {
                tx.batch_execute(sql)
                    .await
                    .with_context(|| format!("applying V{version}__{name}"))?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[&version, &name, &checksum(sql)],
                )
                .await?;
                applied_now.push(version);
            }
        }
        tx.commit().await?;
    }
    Ok(applied_now)
}
