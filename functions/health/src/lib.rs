//! GET /api/health: public; answers ok only when the database answers too.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;
use std::sync::LazyLock;

use shared::db::credentials::CallerKind;
use shared::db::statements::{Plan, Statement};
use shared::state::HttpState;
use shared::{ApiError, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

pub async fn handler(state: &HttpState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |_| health(state)).await
}

static PING: LazyLock<Statement> = LazyLock::new(|| Statement::new("SELECT 1", []));

/// The statements this function sends, which its connection prepares when it opens.
pub fn plan(_kinds: &[CallerKind]) -> Plan {
    Plan::new().with([PING.clone()])
}

async fn health(state: &HttpState) -> Result<Response<Body>, ApiError> {
    state.db.query(&PING, &[]).await?;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "status": "ok", "database": "ok" }),
    ))
}
