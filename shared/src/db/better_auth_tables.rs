//! Reads of the app's Better Auth tables outside a route's statement: its JWT public keys,
//! and whether the tables and columns `BETTER_AUTH_SCHEMA` names exist. (Its sessions and
//! users are read inside each route's statement: see `credentials` and `sessions`.)

use tokio_postgres::types::Type;

use super::statements::Statement;
use super::{Db, DbError};
use crate::auth::better_auth::PublishedKey;
use crate::config::BetterAuthSchema;
use crate::config::better_auth_schema::Model;

/// The keys of Better Auth's `jwks` table that may still verify a token: not expired more
/// than 30 days ago. `alg` and `expiresAt` are read through `to_jsonb`, so a Better Auth
/// version without them reads as one whose values are unknown; an expiry without time zone
/// is UTC.
pub async fn published_keys(
    db: &Db,
    schema: &BetterAuthSchema,
) -> Result<Vec<PublishedKey>, DbError> {
    let jwks = &schema.jwks;
    let field = |name: &str| sql_literal(jwks.column_name(name));
    let expires_at = format!("to_jsonb(j) ->> {}", field("expiresAt"));
    // Rare (a cold start, an unknown kid, keys grown old): sent unnamed, not prepared by
    // every connection.
    let statement = Statement::new(
        format!(
            "SELECT j.{id}::text, j.{public_key}::text, to_jsonb(j) ->> {alg}
               FROM {table} j
              WHERE ({expires_at}) IS NULL
                 OR (CASE WHEN ({expires_at}) ~ '(Z|[+-][0-9][0-9](:?[0-9][0-9])?)$'
                          THEN ({expires_at})::timestamptz
                          ELSE ({expires_at})::timestamp AT TIME ZONE 'UTC' END)
                    > now() - interval '30 days'",
            id = jwks.column("id"),
            public_key = jwks.column("publicKey"),
            alg = field("alg"),
            table = jwks.table,
        ),
        [],
    );
    let rows = db.query(&statement, &[]).await?;
    let keys = rows
        .iter()
        .map(|row| {
            let public_key: String = row.try_get(1)?;
            Ok(PublishedKey {
                kid: row.try_get(0)?,
                alg: row.try_get(2)?,
                // A key whose JSON does not parse is left out with the reason, like any
                // other unusable key.
                jwk: serde_json::from_str(&public_key).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok(keys)
}

/// What of `models` is not in the database, as a reader of a log is told it: a table that
/// does not exist, or a column (of the fields the API reads, `alg` and `expiresAt` of
/// `jwks` excepted: a Better Auth version may lack them) its table does not have.
pub async fn missing(db: &Db, models: &[&Model]) -> Result<Vec<String>, DbError> {
    let mut tables = Vec::new();
    let mut columns = Vec::new();
    let mut names = Vec::new();
    for model in models {
        for field in model.fields() {
            if model.display.ends_with("jwks") && matches!(field, "alg" | "expiresAt") {
                continue;
            }
            tables.push(model.table.clone());
            columns.push(model.column_name(field).to_owned());
            names.push((model.display.clone(), model.column_name(field).to_owned()));
        }
    }
    let statement = Statement::new(
        "SELECT to_regclass(t) IS NULL,
                NOT EXISTS (SELECT 1 FROM pg_attribute
                             WHERE attrelid = to_regclass(t) AND attname = c
                               AND attnum > 0 AND NOT attisdropped)
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(t, c, n)
          ORDER BY n",
        [Type::TEXT_ARRAY, Type::TEXT_ARRAY],
    );
    let rows = db.query(&statement, &[&tables, &columns]).await?;
    let mut missing = Vec::new();
    for (row, (table, column)) in rows.iter().zip(names) {
        let (no_table, no_column): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
        let what = if no_table {
            format!("table {table}")
        } else if no_column {
            format!("column {column} of {table}")
        } else {
            continue;
        };
        if !missing.contains(&what) {
            missing.push(what);
        }
    }
    Ok(missing)
}

/// `text` as an SQL string literal (a configured column name, never request data).
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
