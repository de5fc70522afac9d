//! GET /api/health: public; answers ok only when the database answers too.

use std::sync::LazyLock;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::db::statements::Statement;
use shared::state::HttpState;
use shared::{ApiError, http};

static PING: LazyLock<Statement> = LazyLock::new(|| Statement::new("SELECT 1", []));

shared::declare_function!(HttpState, Access::Public(|| vec![PING.clone()]), []);

async fn route(state: &HttpState, _: Request) -> Result<Response<Body>, ApiError> {
    state.db.query(&PING, &[]).await?;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "status": "ok", "database": "ok" }),
    ))
}
