//! Queries on `email_verifications`: mailed verification links for an address (the
//! account's own after a signup, or the one it asked to change to), kept only as SHA-256
//! digests, single use, expiring, one live per account (a newer link deletes the older
//! ones).

use std::sync::LazyLock;
use std::time::Duration;

use tokio_postgres::types::Type;
use uuid::Uuid;

use super::credentials::{CredentialKind, LIVE_AND_CALLER, Protected, borrowed, sql_values};
use super::links;
use super::security_events::{CallerKeeps, SecurityEvent};
use super::statements::{Params, Statement};
use super::throttle::{self, Attempt, Judged, Settlement};
use super::users::{User, user_of};
use super::{Db, DbError};
use crate::domain::Email;

/// What a link verifies: the account's own address, or the one it asked to move to
/// (`email_verifications.purpose`). A newer link voids the older ones of its purpose only,
/// and security events treat the two apart (a password reset cancels a pending change of
/// email, not the signup link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Verify,
    Change,
}

impl Purpose {
    fn name(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Change => "change",
        }
    }
}

/// The SQL that stores a new link of `purpose` for the accounts `account` (a CTE with `id`
/// and `email`) yields, the placeholder `digest` valid `ttl` seconds, after deleting their
/// older links of that purpose; it defines `issued` (`email`: where the link goes).
fn issue_ctes(account: &str, purpose: Purpose, digest: &str, ttl: &str) -> String {
    let purpose = purpose.name();
    format!(
        "older_links AS (
             DELETE FROM todo_api.email_verifications
              WHERE user_id IN (SELECT id FROM {account}) AND purpose = '{purpose}'
         ), issued AS (
             INSERT INTO todo_api.email_verifications (token_digest, user_id, email, purpose, expires_at)
             SELECT {digest}, id, email, '{purpose}', now() + make_interval(secs => {ttl})
               FROM {account}
             RETURNING email
         )"
    )
}

pub static REQUEST: LazyLock<Statement> = LazyLock::new(|| {
    links::statement(|p| {
        format!(
            "WITH {throttle}, account AS (
                 SELECT id, email FROM todo_api.users
                  WHERE lower(email) = {email} AND NOT email_verified
                    AND (SELECT retry_after FROM throttle_verdict) IS NULL
             ), {issue}
             SELECT (SELECT retry_after FROM throttle_verdict), (SELECT email FROM issued)",
            throttle = p.throttle,
            email = p.email,
            issue = issue_ctes("account", Purpose::Verify, &p.digest, &p.ttl),
        )
    })
});

pub static AFTER_REFUSED_SIGNIN: LazyLock<Statement> = LazyLock::new(|| {
    let mut params = Params::new();
    let user = params.add(Type::UUID);
    let throttle =
        throttle::counting_ctes_if(&mut params, "NOT EXISTS (SELECT 1 FROM recent_link)");
    let settled = throttle::success_ctes(&mut params, "true");
    let (digest, ttl) = (params.add(Type::BYTEA), params.add(Type::FLOAT8));
    params.statement(format!(
        "WITH recent_link AS (
             SELECT 1 FROM todo_api.email_verifications
              WHERE user_id = {user} AND purpose = 'verify' AND expires_at > now()
                AND created_at > now() - {window}
         ), {throttle}, {settled}, account AS (
             SELECT id, email FROM todo_api.users
              WHERE id = {user} AND NOT email_verified AND NOT EXISTS (SELECT 1 FROM recent_link)
                AND (SELECT retry_after FROM throttle_verdict) IS NULL
         ), {issue}
         SELECT (SELECT email FROM issued)",
        window = throttle::WINDOW,
        issue = issue_ctes("account", Purpose::Verify, &digest, &ttl),
    ))
});

/// After a right password on an account that must verify its address first: settles the
/// signin's counters as a success does (the password was right) and, at most once a
/// window (`attempt`) and only when no link went out in the last window (the one in the
/// user's inbox keeps working), stores `token_digest` for a fresh link. Where the link goes, if one
/// was stored. One statement.
pub async fn after_refused_signin(
    db: &Db,
    user_id: Uuid,
    attempt: &Attempt,
    settlement: &Settlement,
    token_digest: &[u8],
    ttl: Duration,
) -> Result<Option<String>, DbError> {
    let [rules, keys, limits] = attempt.values();
    let [clear_rules, clear_keys, back_rules, back_keys] = settlement.values();
    let ttl_secs = ttl.as_secs_f64();
    let row = db
        .query_one(
            &AFTER_REFUSED_SIGNIN,
            &[
                &user_id,
                rules,
                keys,
                limits,
                clear_rules,
                clear_keys,
                back_rules,
                back_keys,
                &token_digest,
                &ttl_secs,
            ],
        )
        .await?;
    Ok(row.try_get(0)?)
}

pub static REQUEST_CHANGE: LazyLock<Statement> = LazyLock::new(|| {
    let kind = CredentialKind::Session;
    let mut params = kind.params();
    let new_email = params.add(Type::TEXT);
    let (digest, ttl) = (params.add(Type::BYTEA), params.add(Type::FLOAT8));
    let settled = throttle::success_ctes(&mut params, "EXISTS (SELECT 1 FROM caller)");
    let throttle = throttle::counting_ctes_if(&mut params, "EXISTS (SELECT 1 FROM caller)");
    kind.statement(
        &format!(
            "{throttle}, taken AS (
                 SELECT 1 FROM todo_api.users
                  WHERE lower(email) = {new_email} AND id <> (SELECT user_id FROM caller)
                    AND (SELECT retry_after FROM throttle_verdict) IS NULL
             ), account AS (
                 SELECT id, {new_email}::text AS email FROM todo_api.users
                  WHERE id = (SELECT user_id FROM caller) AND NOT EXISTS (SELECT 1 FROM taken)
                    AND (SELECT retry_after FROM throttle_verdict) IS NULL
             ), {issue}, {settled}
             SELECT {LIVE_AND_CALLER}, (SELECT retry_after FROM throttle_verdict),
                    EXISTS (SELECT 1 FROM taken), EXISTS (SELECT 1 FROM issued)",
            issue = issue_ctes("account", Purpose::Change, &digest, &ttl),
        ),
        params,
    )
});

/// What a change of email found.
#[derive(Debug, PartialEq, Eq)]
pub enum ChangeRequested {
    /// A link for the new address is stored.
    LinkStored,
    /// Another account has the address.
    Taken,
    /// The account went meanwhile.
    AccountGone,
}

/// For the caller's account (ours), whose password was just confirmed: settles the
/// confirmation's counters, judges and counts the request on the change-of-email counters
/// (`attempt`: a refused one looks no address up), and unless another account has
/// `new_email`, stores `token_digest` for a link that switches the account to it (voiding
/// the older pending change). One statement with the liveness check.
pub fn request_change<'a>(
    new_email: &'a Email,
    link: (&'a [u8], Duration),
    settlement: &'a Settlement,
    attempt: &'a Attempt,
) -> Protected<'a, Judged<ChangeRequested>> {
    let (token_digest, ttl) = link;
    let mut values = sql_values![new_email.as_str(), token_digest, ttl.as_secs_f64()];
    values.extend(borrowed(settlement.values()));
    values.extend(borrowed(attempt.values()));
    Protected::session_row(&REQUEST_CHANGE, values, |row| {
        throttle::judged(row, 2, || {
            Ok(match (row.try_get(3)?, row.try_get(4)?) {
                (true, _) => ChangeRequested::Taken,
                (false, true) => ChangeRequested::LinkStored,
                (false, false) => ChangeRequested::AccountGone,
            })
        })
    })
}

pub static REDEEM: LazyLock<Statement> = LazyLock::new(|| {
    Statement::new(
        format!(
            "WITH pending AS (
                 SELECT token_digest, user_id, email FROM todo_api.email_verifications
                  WHERE token_digest = $1 AND expires_at > now()
                  FOR UPDATE
             ), taken AS (
                 SELECT 1 FROM todo_api.users u JOIN pending p ON lower(u.email) = p.email
                  WHERE u.id <> p.user_id
             ), used AS (
                 DELETE FROM todo_api.email_verifications
                  WHERE token_digest IN (SELECT token_digest FROM pending)
                    AND NOT EXISTS (SELECT 1 FROM taken)
                 RETURNING user_id, email
             ), before AS (
                 SELECT u.id, u.email FROM todo_api.users u JOIN used ON u.id = used.user_id
             ), verified AS (
                 UPDATE todo_api.users u SET email = used.email, email_verified = true
                   FROM used WHERE u.id = used.user_id
                 RETURNING u.id, u.email, u.name, u.email_verified
             ), email_changed AS (
                 SELECT b.id FROM before b JOIN used ON used.user_id = b.id
                  WHERE b.email IS DISTINCT FROM used.email
             ), {event}other_verification_links AS (
                 DELETE FROM todo_api.email_verifications
                  WHERE user_id IN (SELECT id FROM verified)
                    AND user_id NOT IN (SELECT id FROM email_changed)
                    AND purpose = 'verify' AND token_digest <> $1
             )
             SELECT EXISTS (SELECT 1 FROM taken), (SELECT email FROM before), verified.*
               FROM (SELECT 1) AS one LEFT JOIN verified ON true",
            event = SecurityEvent::EmailChanged
                .ctes("SELECT id FROM email_changed", &CallerKeeps::default()),
        ),
        [Type::BYTEA],
    )
});

/// What a verification link did.
#[derive(Debug)]
pub enum Redeemed {
    /// The address is verified (and is now the account's): the user as it now is, and
    /// the address it had before, when that was another one.
    Verified {
        user: User,
        former_email: Option<String>,
    },
    /// Another account has taken the address since the link was mailed; the link stays.
    Taken,
    /// Unknown, used or expired.
    Invalid,
}

/// Uses the link `token_digest`: deletes it, makes its address the account's email and
/// marks it verified; when that changed the email, does what an email change does to the
/// account's credentials and links (reset links and other links go: they were mailed to,
/// or verify, the former address), else voids the other links for the same address. One
/// statement. A concurrent use of
/// the same link waits for this one and finds it gone.
pub async fn redeem(db: &Db, token_digest: &[u8]) -> Result<Redeemed, DbError> {
    let row = match db.query_one(&REDEEM, &[&token_digest]).await {
        Ok(row) => row,
        // An account took the address between the check and the switch.
        Err(err) if err.is_unique_violation("users_email_key") => return Ok(Redeemed::Taken),
        Err(err) => return Err(err),
    };
    if row.try_get(0)? {
        return Ok(Redeemed::Taken);
    }
    if row.try_get::<_, Option<Uuid>>(2)?.is_none() {
        return Ok(Redeemed::Invalid);
    }
    let user = user_of(&row, 2)?;
    let before: Option<String> = row.try_get(1)?;
    Ok(Redeemed::Verified {
        former_email: before.filter(|before| *before != user.email),
        user,
    })
}
