//! A request for a mailed link by email, whichever kind (a password reset, a verification):
//! one statement judges the attempt, stores the link for the account the email names, and
//! says where the link goes.

use std::time::Duration;

use super::statements::Statement;
use super::throttle::{self, Attempt, Judged};
use super::{Db, DbError};

/// Runs `statement`, a request for a mailed link (`$1` the email, `$2`..`$4` the
/// [`Attempt`], `$5` the link's digest, `$6` its lifetime in seconds): the verdict, and
/// where the link goes if one was stored (`password_resets::REQUEST`,
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
