//! POST /api/auth/signin: unknown email and wrong password give the same answer after the
//! same work (one argon2id verification either way), then a new session is opened. Every
//! attempt counts against the email from this address, the email from everywhere and the
//! address; an attempt a rule refuses gets 429 before any password is looked at, whether
//! or not the email exists, and moves no counter.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use shared::access;
use shared::audit::{self, AuditEvent};
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::throttle::Attempt;
use shared::db::users::SigninLookup;
use shared::db::{sessions, users};
use shared::domain::{Email, required};
use shared::secrecy::SecretString;
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize)]
struct SigninBody {
    email: Option<String>,
    password: Option<String>,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(_kinds: &[CallerKind]) -> Plan {
    Plan::new().with([
        users::FIND_FOR_SIGNIN.clone(),
        sessions::OPEN_AFTER_SIGNIN.clone(),
    ])
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| signin(state, req)).await
}

async fn signin(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let body: SigninBody = http::parse_json(&req)?;
    let email = Email::normalise(body.email.as_deref())
        .ok_or_else(|| ApiError::validation("Email is required"))?;
    let password = required(body.password, "Password is required")?;

    let source_ip = http::source_ip(&req);
    let attempt = Attempt::password_check(
        &state.config.throttle,
        &state.digests,
        &email,
        source_ip.as_deref(),
    );
    let found = match users::find_for_signin(&state.db, &email, &attempt).await? {
        SigninLookup::Counted(found) => found,
        SigninLookup::Throttled { retry_after_secs } => {
            audit::record(state, &req, AuditEvent::Throttled, None);
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
    };
    let stored_hash = found.as_ref().map(|found| found.password_hash.clone());
    let matches = state
        .passwords
        .verify(SecretString::from(password), stored_hash)
        .await?;
    let user = match found {
        Some(found) if matches => found.user,
        found => {
            let user_id = found.map(|found| found.user.id.to_string());
            audit::record(state, &req, AuditEvent::SigninFailed, user_id.as_deref());
            return Err(ApiError::validation("Invalid email or password"));
        }
    };

    let issued = state.tokens.issue(user.id, &user.email, &user.name)?;
    sessions::open_after_signin(
        &state.db,
        user.id,
        issued.session_id,
        issued.expires_at,
        &attempt,
    )
    .await?;
    audit::record(
        state,
        &req,
        AuditEvent::SigninSucceeded,
        Some(&user.id.to_string()),
    );
    Ok(access::signed_in(state, StatusCode::OK, &user, &issued))
}
