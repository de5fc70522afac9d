//! GET /api/health: public; answers ok only when the database answers too.

use std::sync::LazyLock;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::db::statements::Statement;
use shared::function::{Access, Function};
use shared::state::HttpState;
use shared::{ApiError, http};

static PING: LazyLock<Statement> = LazyLock::new(|| Statement::new("SELECT 1", []));

pub static FUNCTION: Function<HttpState> = Function {
    name: env!("CARGO_PKG_NAME"),
    access: Access::Public(|| vec![PING.clone()]),
    settings: &[],
    handler: |state, req| {
        Box::pin(http::serve(&state.cors, FUNCTION.name, req, |req| {
            route(state, req)
        }))
    },
};

async fn route(state: &HttpState, _: Request) -> Result<Response<Body>, ApiError> {
    state.db.query(&PING, &[]).await?;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "status": "ok", "database": "ok" }),
    ))
}
