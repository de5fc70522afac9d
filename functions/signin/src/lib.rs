//! POST /api/auth/signin: unknown email and wrong password give the same answer after the
//! same work (one argon2id verification either way), then a new session is opened. Every
//! attempt counts against the email from this address, the email from everywhere and the
//! address; an attempt a rule refuses gets 429 before any password is looked at, whether
//! or not the email exists, and moves no counter.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::access;
use shared::audit::{self, AuditEvent};
use shared::db::throttle::Attempt;
use shared::db::{sessions, users};
use shared::domain::{Email, required};
use shared::function::Access;
use shared::secrecy::SecretString;
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct SigninBody {
    email: Option<String>,
    password: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::Public(|| vec![
        users::FIND_FOR_SIGNIN.clone(),
        sessions::OPEN_AFTER_SIGNIN.clone()
    ]),
    [TokenLifetime, Cookies]
);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
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
    let found = users::find_for_signin(&state.db, &email, &attempt)
        .await?
        .map_err(|throttled| access::refuse_throttled(state, &req, None, throttled))?;
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
