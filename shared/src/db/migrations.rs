//! Versioned schema migrations, embedded in the binary and applied in order, once each.
//! Only the `migrate` binary and the local server call this: a cold start never migrates.
//! The API's tables, functions and history live in a schema of their own
//! (`DATABASE_SCHEMA`, `todo_api` by default).
//! Every statement here is unnamed (simple or `*_typed`): named statements are a
//! function's plan alone.

use anyhow::Context as _;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Transaction};

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
    (
        4,
        "throttle_rules_and_keyed_digests",
        include_str!("../../../migrations/V4__throttle_rules_and_keyed_digests.sql"),
    ),
    (
        5,
        "better_auth_identities",
        include_str!("../../../migrations/V5__better_auth_identities.sql"),
    ),
    (
        6,
        "account_lifecycle",
        include_str!("../../../migrations/V6__account_lifecycle.sql"),
    ),
    (
        7,
        "throttle_serialised",
        include_str!("../../../migrations/V7__throttle_serialised.sql"),
    ),
    (
        8,
        "known_devices",
        include_str!("../../../migrations/V8__known_devices.sql"),
    ),
    (
        9,
        "email_verification",
        include_str!("../../../migrations/V9__email_verification.sql"),
    ),
    (
        10,
        "security_events",
        include_str!("../../../migrations/V10__security_events.sql"),
    ),
];

/// FNV-1a of `text`: a stable fingerprint, the same on every platform and release.
fn fnv1a(text: &str) -> i64 {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The fingerprint of a migration's statements (what `schema_migrations.checksum` records), to notice an applied file whose SQL was
/// edited. Whole-line `--` comments are left out, so a comment can be corrected later.
pub fn checksum(sql: &str) -> i64 {
    let statements: Vec<&str> = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect();
    fnv1a(&statements.join("\n"))
}

/// V1 as it was first applied, before its header comment was corrected.
const V1_FIRST_TEXT_CHECKSUM: i64 = -2_622_703_988_677_475_598;

/// Whether `recorded` fingerprints `sql` the way databases migrated before comments were
/// left out did: the whole text, as the file is now or (V1) as it first was.
fn is_whole_text_checksum(version: i32, sql: &str, recorded: i64) -> bool {
    recorded == fnv1a(sql) || (version == 1 && recorded == V1_FIRST_TEXT_CHECKSUM)
}

/// Connects with `db` (TLS as configured) and applies what is missing, in `db`'s schema.
pub async fn run_with(db: &super::Db) -> anyhow::Result<Vec<i32>> {
    let mut connection = db.client().await?;
    run(&mut connection.client, db.schema()).await
}

/// The advisory lock every migrating transaction holds: two deploys migrating at once
/// take turns, so none applies a migration twice or moves tables under another.
const LOCK: &str = "SELECT pg_advisory_xact_lock(7266001)";

/// Applies what is missing in `schema`; returns the versions applied now. Each migration
/// runs in a transaction whose `search_path` is `schema` alone (`SET LOCAL`: it ends with
/// the transaction, and holds behind a transaction-mode pooler), so the migrations create
/// their tables there, never in `public` beside an app's own. A deployment whose tables
/// are still in `public` is moved first (`move_out_of_public`).
pub async fn run(client: &mut Client, schema: &str) -> anyhow::Result<Vec<i32>> {
    let tx = client.transaction().await?;
    tx.batch_execute(&format!("{LOCK}; CREATE SCHEMA IF NOT EXISTS {schema}"))
        .await
        .with_context(|| format!("creating schema {schema}"))?;
    move_out_of_public(&tx, schema).await?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   bigint NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )"
    ))
    .await
    .context("creating schema_migrations")?;
    tx.commit().await?;

    let mut applied_now = Vec::new();
    for &(version, name, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.batch_execute(&format!("{LOCK}; SET LOCAL search_path = {schema}"))
            .await?;
        let recorded = tx
            .query_typed_opt(
                "SELECT checksum FROM schema_migrations WHERE version = $1",
                &[(&version, Type::INT4)],
            )
            .await?;
        match recorded {
            Some(row) => {
                let recorded: i64 = row.try_get(0)?;
                if recorded != checksum(sql) {
                    anyhow::ensure!(
                        is_whole_text_checksum(version, sql, recorded),
                        "migration V{version}__{name} was edited after it was applied; add a new migration instead"
                    );
                    tx.execute_typed(
                        "UPDATE schema_migrations SET checksum = $2 WHERE version = $1",
                        &[(&version, Type::INT4), (&checksum(sql), Type::INT8)],
                    )
                    .await?;
                }
            }
            None => {
                tx.batch_execute(sql)
                    .await
                    .with_context(|| format!("applying V{version}__{name}"))?;
                tx.execute_typed(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[
                        (&version, Type::INT4),
                        (&name, Type::TEXT),
                        (&checksum(sql), Type::INT8),
                    ],
                )
                .await?;
                applied_now.push(version);
            }
        }
        tx.commit().await?;
    }
    Ok(applied_now)
}

/// What migrations created in `public` before the API's tables had a schema of their own.
const PUBLIC_TABLES: [&str; 7] = [
    "users",
    "sessions",
    "tasks",
    "throttle_counters",
    "identities",
    "password_resets",
    "schema_migrations",
];
const PUBLIC_FUNCTIONS: [&str; 2] = ["set_updated_at()", "identity_user_id(text, text)"];

/// Moves a deployment that kept its tables in `public` into `schema`, data, indexes,
/// constraints, triggers and sequences with them: only when `schema` has no migration
/// history yet and `public` holds this API's own (`schema_migrations` with our columns and
/// our first migration), never an app's tables of the same names.
async fn move_out_of_public(tx: &Transaction<'_>, schema: &str) -> anyhow::Result<()> {
    let ours = tx
        .query_typed_one(
            "SELECT to_regclass($1) IS NULL
                AND EXISTS (SELECT 1 FROM information_schema.columns
                             WHERE table_schema = 'public' AND table_name = 'schema_migrations'
                               AND column_name = 'checksum')",
            &[(&format!("{schema}.schema_migrations"), Type::TEXT)],
        )
        .await?
        .try_get::<_, bool>(0)?
        && tx
            .query_typed_one(
                "SELECT EXISTS (SELECT 1 FROM public.schema_migrations
                                 WHERE version = 1 AND name = 'users_and_sessions')",
                &[],
            )
            .await?
            .try_get::<_, bool>(0)?;
    if !ours {
        return Ok(());
    }
    let mut moves: Vec<String> = PUBLIC_TABLES
        .iter()
        .map(|table| format!("ALTER TABLE IF EXISTS public.{table} SET SCHEMA {schema}"))
        .collect();
    // ALTER FUNCTION has no IF EXISTS.
    moves.extend(PUBLIC_FUNCTIONS.iter().map(|function| {
        format!(
            "DO $$ BEGIN
                 IF to_regprocedure('public.{function}') IS NOT NULL THEN
                     ALTER FUNCTION public.{function} SET SCHEMA {schema};
                 END IF;
             END $$"
        )
    }));
    tx.batch_execute(&moves.join(";\n"))
        .await
        .with_context(|| format!("moving the API's tables from public to {schema}"))?;
    tracing::info!(
        schema,
        "the API's tables moved from public to their own schema"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_can_change_and_statements_cannot() {
        let sql = "-- header\nCREATE TABLE t (id int); -- why\n";
        assert_eq!(
            checksum(sql),
            checksum(
                "-- a corrected header\n  -- and a new line\nCREATE TABLE t (id int); -- why\n"
            )
        );
        assert_ne!(
            checksum(sql),
            checksum("-- header\nCREATE TABLE t (id bigint); -- why\n")
        );
        assert_ne!(
            checksum(sql),
            checksum("-- header\nCREATE TABLE t (id int); -- because\n")
        );
    }

    #[test]
    fn databases_migrated_with_whole_text_checksums_are_recognised() {
        let (version, _, sql) = MIGRATIONS[1];
        assert!(is_whole_text_checksum(version, sql, fnv1a(sql)));
        assert!(!is_whole_text_checksum(
            version,
            sql,
            V1_FIRST_TEXT_CHECKSUM
        ));
        let (version, _, sql) = MIGRATIONS[0];
        assert!(is_whole_text_checksum(version, sql, V1_FIRST_TEXT_CHECKSUM));
    }
}
