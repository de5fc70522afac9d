//! PATCH /api/auth/user: sets the account's name (the signup rules), read back with the
//! session check in one statement. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access;
use shared::db::credentials::CallerKind;
use shared::db::statements::Plan;
use shared::db::users;
use shared::domain::Name;
use shared::error::AuthFailure;
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize)]
struct UserBody {
    name: Option<String>,
}

/// The statements this function sends, which its connections prepare when they open.
pub fn plan(_kinds: &[CallerKind]) -> Plan {
    Plan::new().with([CallerKind::Session.check_statement(), users::RENAME.clone()])
}

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| update_user(state, req)).await
}

async fn update_user(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let call = access::own_account(state, &req).await?;
    let parsed =
        http::parse_json::<UserBody>(&req).and_then(|body| Name::parse(body.name.as_deref()));
    let name = call.parsed_or_refused(parsed).await?;
    let user = call
        .answer(users::rename(&state.db, call.credential(), &name).await?)?
        .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
    Ok(http::json(StatusCode::OK, &json!({ "user": user })))
}
