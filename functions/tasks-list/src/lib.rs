//! GET /api/{user_id}/tasks: the caller's tasks, newest first by default, with the
//! contract's status, sort, order, limit, offset and q parameters.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use shared::auth::path_owner;
use shared::db::tasks;
use shared::domain::ListQuery;
use shared::task_routes::{checked, live};
use shared::{ApiError, AppState, http};

pub const FUNCTION: &str = "tasks-list";

pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, Error> {
    http::serve(state, FUNCTION, req, |req| list(state, req)).await
}

async fn list(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let token = path_owner(state, &req, FUNCTION).await?;
    let params = http::query_params(&req);
    let query = checked(
        state,
        &token,
        ListQuery::parse(|name| params.first(name).map(str::to_owned)),
    )
    .await?;
    let tasks = live(tasks::list(&state.db, &token, &query).await?)?;
    Ok(http::json(StatusCode::OK, &tasks))
}
