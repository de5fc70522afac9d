//! Queries on `users`.

use std::sync::LazyLock;
use std::time::Duration;

use tokio_postgres::types::Type;
use uuid::Uuid;

use super::credentials::{CredentialKind, LIVE_AND_CALLER, Protected, borrowed, owned, sql_values};
use super::security_events::{CallerKeeps, SecurityEvent};
use super::statements::{Params, Statement};
use super::throttle::{
    self, Attempt, Judged, KNOWN_DEVICE_COLUMNS, KnownDevice, PasswordAttempt, Settlement,
};
use super::{Db, DbError};
use crate::domain::{Email, Name};

#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
}

/// The columns of a [`User`], in the order [`user_of`] reads them.
pub(super) const USER_COLUMNS: &str = "id, email, name, email_verified";

/// The user in `row`'s columns `first`.. (id, email, name, email_verified).
pub(super) fn user_of(
    row: &tokio_postgres::Row,
    first: usize,
) -> Result<User, tokio_postgres::Error> {
    Ok(User {
        id: row.try_get(first)?,
        email: row.try_get(first + 1)?,
        name: row.try_get(first + 2)?,
        email_verified: row.try_get(first + 3)?,
    })
}

pub struct UserWithHash {
    pub user: User,
    pub password_hash: String,
}

/// Whether the email of a signup is free, as the first signup statement found it.
#[derive(Debug, PartialEq, Eq)]
pub enum EmailFound {
    Free,
    Taken,
}

pub static CHECK_SIGNUP: LazyLock<Statement> = LazyLock::new(|| {
    let mut params = Params::new();
    let email = params.add(Type::TEXT);
    let throttle = throttle::counting_ctes(&mut params);
    params.statement(format!(
        "WITH {throttle}
         SELECT (SELECT retry_after FROM throttle_verdict),
                EXISTS (SELECT 1 FROM todo_api.users WHERE lower(email) = {email})"
    ))
});

/// Judges and counts a signup attempt and looks the email up, in one statement, so a
/// refused or doomed signup costs no password hash.
pub async fn check_signup(
    db: &Db,
    email: &Email,
    attempt: &Attempt,
) -> Result<Judged<EmailFound>, DbError> {
    let [rules, keys, limits] = attempt.values();
    let row = db
        .query_one(&CHECK_SIGNUP, &[&email.as_str(), rules, keys, limits])
        .await?;
    Ok(throttle::judged(&row, 0, || {
        Ok(match row.try_get::<_, bool>(1)? {
            true => EmailFound::Taken,
            false => EmailFound::Free,
        })
    })?)
}

pub static CREATE_WITH_SESSION: LazyLock<Statement> = LazyLock::new(|| {
    let mut params = Params::new();
    let (id, email) = (params.add(Type::UUID), params.add(Type::TEXT));
    let (name, hash) = (params.add(Type::TEXT), params.add(Type::TEXT));
    let (session, expires_at) = (params.add(Type::UUID), params.add(Type::TIMESTAMPTZ));
    let device = params.add(Type::BYTEA);
    let (link, link_ttl) = (params.add(Type::BYTEA), params.add(Type::FLOAT8));
    params.statement(format!(
        "WITH new_user AS (
             INSERT INTO todo_api.users (id, email, name, password_hash)
             VALUES ({id}, {email}, {name}, {hash})
             ON CONFLICT ((lower(email))) DO NOTHING
             RETURNING {USER_COLUMNS}
         ), new_session AS (
             INSERT INTO todo_api.sessions (id, user_id, expires_at)
             SELECT {session}, id, {expires_at} FROM new_user
         ), new_device AS (
             INSERT INTO todo_api.devices (token_digest, user_id, expires_at)
             SELECT {device}, id, now() + {DEVICE_LIFETIME} FROM new_user
         ), verification_link AS (
             INSERT INTO todo_api.email_verifications (token_digest, user_id, email, purpose, expires_at)
             SELECT {link}, id, email, 'verify', now() + make_interval(secs => {link_ttl})
               FROM new_user
              WHERE {link} IS NOT NULL
         )
         SELECT {USER_COLUMNS} FROM new_user"
    ))
});

/// How long a device is known after its last use: the `todo_device` cookie's `Max-Age`.
pub const DEVICE_LIFETIME_SECS: u64 = 34_560_000;
/// [`DEVICE_LIFETIME_SECS`] as a PostgreSQL interval (400 days).
pub(super) const DEVICE_LIFETIME: &str = "interval '34560000 seconds'";

/// A new account as signup stores it.
pub struct NewAccount<'a> {
    pub id: Uuid,
    pub name: &'a Name,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub session_id: Uuid,
    pub session_expires_at: time::OffsetDateTime,
    pub device_digest: &'a [u8],
    /// The link that verifies the address, and how long it is valid, when signup mails
    /// one.
    pub verification: Option<(&'a [u8], Duration)>,
}

/// Inserts the user, its first session, its first device and its verification link, if
/// any: one statement. `None` when the email is taken (`ON CONFLICT DO NOTHING` waits for
/// a concurrent insert of the same email, so parallel signups yield exactly one user).
pub async fn create_with_session(
    db: &Db,
    account: &NewAccount<'_>,
) -> Result<Option<User>, DbError> {
    let (link_digest, link_ttl_secs) = match account.verification {
        Some((digest, ttl)) => (Some(digest), ttl.as_secs_f64()),
        None => (None, 0.0),
    };
    let row = db
        .query_opt(
            &CREATE_WITH_SESSION,
            &[
                &account.id,
                &account.email.as_str(),
                &account.name.as_str(),
                &account.password_hash,
                &account.session_id,
                &account.session_expires_at,
                &account.device_digest,
                &link_digest,
                &link_ttl_secs,
            ],
        )
        .await?;
    Ok(row.map(|row| user_of(&row, 0)).transpose()?)
}

pub static FIND_FOR_SIGNIN: LazyLock<Statement> = LazyLock::new(|| {
    let mut params = Params::new();
    let email = params.add(Type::TEXT);
    let owner = format!("(SELECT id FROM todo_api.users WHERE lower(email) = {email})");
    let throttle = throttle::password_counting_ctes(&mut params, &owner, "true");
    params.statement(format!(
        "WITH {throttle}
         SELECT (SELECT retry_after FROM throttle_verdict),
                u.id, u.email, u.name, u.email_verified, u.password_hash,
                {KNOWN_DEVICE_COLUMNS}
           FROM (SELECT 1) AS one LEFT JOIN todo_api.users u ON lower(u.email) = {email}"
    ))
});

/// What a signin found: the user, if the email is known, and the known device of that
/// user among those it presented, if any (it was judged by the device's counter).
pub struct SigninFound {
    pub user: Option<UserWithHash>,
    pub known_device: Option<KnownDevice>,
}

/// Judges and counts the signin attempt and looks the email up, in one statement. A
/// refused attempt looked nothing up and moved no counter.
pub async fn find_for_signin(
    db: &Db,
    email: &str,
    attempt: &PasswordAttempt,
) -> Result<Judged<SigninFound>, DbError> {
    let mut values: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&email];
    values.extend(attempt.values());
    let row = db.query_one(&FIND_FOR_SIGNIN, &values).await?;
    Ok(throttle::judged(&row, 0, || {
        let user = match row.try_get::<_, Option<Uuid>>(1)? {
            None => None,
            Some(_) => Some(UserWithHash {
                user: user_of(&row, 1)?,
                password_hash: row.try_get(5)?,
            }),
        };
        Ok(SigninFound {
            user,
            known_device: KnownDevice::of_row(&row, 6)?,
        })
    })?)
}

pub static PASSWORD_CHECK: LazyLock<Statement> = LazyLock::new(|| {
    let kind = CredentialKind::Session;
    let mut params = kind.params();
    let throttle = throttle::password_counting_ctes(
        &mut params,
        "(SELECT user_id FROM caller)",
        "EXISTS (SELECT 1 FROM caller)",
    );
    kind.statement(
        &format!(
            "{throttle}
             SELECT {LIVE_AND_CALLER}, (SELECT retry_after FROM throttle_verdict),
                    (SELECT password_hash FROM todo_api.users WHERE id = (SELECT user_id FROM caller)),
                    {KNOWN_DEVICE_COLUMNS}"
        ),
        params,
    )
});

/// The stored hash a password confirmation is checked against, and the known device of
/// the account among those it presented, if any.
pub struct PasswordOnFile {
    pub hash: String,
    pub known_device: Option<KnownDevice>,
}

/// Judges and counts a password confirmation by the caller (one of our accounts) and
/// reads its stored hash (`None`: the account went meanwhile), in one statement with the
/// liveness check. Only a live session counts an attempt.
pub(crate) fn password_check(
    attempt: &PasswordAttempt,
) -> Protected<'_, Judged<Option<PasswordOnFile>>> {
    Protected::session_row(
        &PASSWORD_CHECK,
        borrowed(attempt.values()).collect(),
        |row| {
            throttle::judged(row, 2, || {
                let Some(hash) = row.try_get::<_, Option<String>>(3)? else {
                    return Ok(None);
                };
                Ok(Some(PasswordOnFile {
                    hash,
                    known_device: KnownDevice::of_row(row, 4)?,
                }))
            })
        },
    )
}

pub static CHANGE_PASSWORD: LazyLock<Statement> = LazyLock::new(|| {
    let kind = CredentialKind::Session;
    let mut params = kind.params();
    let hash = params.add(Type::TEXT);
    let throttle = throttle::success_ctes(&mut params, "EXISTS (SELECT 1 FROM changed)");
    let caller = CallerKeeps {
        session: Some("$1"),
        devices: Some(&params.add(Type::BYTEA_ARRAY)),
    };
    let event = SecurityEvent::PasswordChanged.ctes("SELECT id FROM changed", &caller);
    kind.statement(
        &format!(
            "changed AS (
                 UPDATE todo_api.users SET password_hash = {hash}
                  WHERE id = (SELECT user_id FROM caller)
                 RETURNING id
             ), {event}{throttle}
             SELECT {LIVE_AND_CALLER}"
        ),
        params,
    )
});

/// Stores a new password hash for the caller's account (ours), does what a password
/// change does to the account's credentials and links (the caller keeps its session and
/// `caller_devices`, the digests of its own devices), and settles the confirmation's
/// throttle counters as a successful signin does: one statement.
pub fn change_password<'a>(
    password_hash: &'a str,
    settlement: &'a Settlement,
    caller_devices: Vec<Vec<u8>>,
) -> Protected<'a, ()> {
    let mut values = sql_values![password_hash];
    values.extend(borrowed(settlement.values()));
    values.push(owned(caller_devices));
    Protected::session_row(&CHANGE_PASSWORD, values, |_| Ok(()))
}

pub static RENAME: LazyLock<Statement> = LazyLock::new(|| {
    let kind = CredentialKind::Session;
    let mut params = kind.params();
    let name = params.add(Type::TEXT);
    kind.statement(
        &format!(
            "renamed AS (
                 UPDATE todo_api.users SET name = {name} WHERE id = (SELECT user_id FROM caller)
                 RETURNING {USER_COLUMNS}
             )
             SELECT {LIVE_AND_CALLER}, renamed.* FROM (SELECT 1) AS one LEFT JOIN renamed ON true"
        ),
        params,
    )
});

/// Sets the caller's name; the account as it now is (`None`: it went meanwhile).
pub fn rename(name: &Name) -> Protected<'_, Option<User>> {
    Protected::session_row(&RENAME, sql_values![name.as_str()], |row| {
        if row.try_get::<_, Option<Uuid>>(2)?.is_none() {
            return Ok(None);
        }
        user_of(row, 2).map(Some)
    })
}

pub static DELETE_ACCOUNT: LazyLock<Statement> = LazyLock::new(|| {
    let kind = CredentialKind::Session;
    let mut params = kind.params();
    let throttle = throttle::success_ctes(&mut params, "EXISTS (SELECT 1 FROM deleted)");
    // Every credential and link of the account goes with it (ON DELETE CASCADE).
    let event =
        SecurityEvent::AccountDeleted.ctes("SELECT id FROM deleted", &CallerKeeps::default());
    kind.statement(
        &format!(
            "deleted AS (
                 DELETE FROM todo_api.users WHERE id = (SELECT user_id FROM caller) RETURNING id
             ), {event}{throttle}
             SELECT {LIVE_AND_CALLER}"
        ),
        params,
    )
});

/// Deletes the caller's account: its tasks and every credential and link it held go with
/// it (ON DELETE CASCADE), and the confirmation's throttle counters are settled as a
/// successful signin settles them. One statement.
pub fn delete_account(settlement: &Settlement) -> Protected<'_, ()> {
    Protected::session_row(
        &DELETE_ACCOUNT,
        borrowed(settlement.values()).collect(),
        |_| Ok(()),
    )
}
