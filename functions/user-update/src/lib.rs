//! PATCH /api/auth/user: sets the account's name (the signup rules), read back with the
//! session check in one statement. Our accounts only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::json;
use shared::access::{Authenticated, OwnAccount};
use shared::db::users;
use shared::domain::Name;
use shared::error::AuthFailure;
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct UserBody {
    name: Option<String>,
}

shared::declare_function!(
    AppState,
    Access::OwnAccount(|| vec![users::RENAME.clone()]),
    []
);

async fn route(
    _: &AppState,
    request: Authenticated<'_, OwnAccount>,
) -> Result<Response<Body>, ApiError> {
    let name = request
        .input(|req| {
            Ok(Name::parse(
                http::parse_json::<UserBody>(req)?.name.as_deref(),
            )?)
        })
        .await?;
    let user = request
        .run(users::rename(&name))
        .await?
        .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
    Ok(http::json(StatusCode::OK, &json!({ "user": user })))
}
