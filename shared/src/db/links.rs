//! A request for a mailed link by email, whichever kind (a password reset, a verification):
//! one statement judges the attempt, stores the link for the account the email names, and
//! says where the link goes.

use std::time::Duration;

use tokio_postgres::types::Type;

use super::statements::{Params, Statement};
use super::throttle::{self, Attempt, Judged};
use super::{Db, DbError};

/// The placeholders of a link request's statement, numbered in the order
/// [`request_link`] binds its values.
pub(super) struct LinkRequest {
    /// The email the link is asked for.
    pub email: String,
    /// The attempt's `throttle_verdict` CTE.
    pub throttle: String,
    /// The new link's digest, and its lifetime in seconds.
    pub digest: String,
    pub ttl: String,
}

/// A link request's statement, as `sql` writes it with the placeholders.
pub(super) fn statement(sql: impl FnOnce(&LinkRequest) -> String) -> Statement {
    let mut params = Params::new();
    let email = params.add(Type::TEXT);
    let throttle = throttle::counting_ctes(&mut params);
    let digest = params.add(Type::BYTEA);
    let ttl = params.add(Type::FLOAT8);
    params.statement(sql(&LinkRequest {
        email,
        throttle,
        digest,
        ttl,
    }))
}

/// Runs `statement`, a request for a mailed link (written by `links::statement`): the verdict,
/// and where the link goes if one was stored (`password_resets::REQUEST`,
/// `email_verifications::REQUEST`).
pub async fn request_link(
    db: &Db,
    statement: &Statement,
    email: &str,
    token_digest: &[u8],
    ttl: Duration,
    attempt: &Attempt,
) -> Result<Judged<Option<String>>, DbError> {
    let [rules, keys, limits] = attempt.values();
    let ttl_secs = ttl.as_secs_f64();
    let row = db
        .query_one(
            statement,
            &[&email, rules, keys, limits, &token_digest, &ttl_secs],
        )
        .await?;
    Ok(throttle::judged(&row, 0, || row.try_get(1))?)
}
