//! GET /api/health: public; answers ok only when the database answers too.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;
use shared::state::HttpState;
use shared::{ApiError, http};

pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

pub async fn handler(state: &HttpState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |_| health(state)).await
}

async fn health(state: &HttpState) -> Result<Response<Body>, ApiError> {
    state.db.query("SELECT 1", &[]).await?;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "status": "ok", "database": "ok" }),
    ))
}
