//! Reads from the tables of the app's Better Auth server in this database: its JWT public
//! keys. (Its sessions are read inside each route's statement: see `credentials`.)

use super::statements::Statement;
use super::{Db, DbError};
use crate::auth::better_auth::PublishedKey;

/// The keys of Better Auth's `jwks` table that may still verify a token: not expired more
/// than 30 days ago. Read through `to_jsonb`, so a Better Auth version without the `alg`
/// or `expiresAt` column reads as one whose values are unknown.
pub async fn published_keys(db: &Db) -> Result<Vec<PublishedKey>, DbError> {
    // Rare (a cold start, an unknown kid): sent unnamed, not prepared by every connection.
    let statement = Statement::new(
        r#"SELECT j.id, j."publicKey", to_jsonb(j) ->> 'alg'
             FROM jwks j
            WHERE (to_jsonb(j) ->> 'expiresAt') IS NULL
               OR (to_jsonb(j) ->> 'expiresAt')::timestamptz > now() - interval '30 days'"#,
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
