//! GET /api/{user_id}/tasks: the caller's tasks, newest first by default, with the
//! contract's status, sort, order, limit, offset and q parameters.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::access::{Authenticated, PathOwner};
use shared::db::tasks;
use shared::domain::ListQuery;
use shared::{ApiError, AppState, http};

shared::declare_function!(AppState, Access::PathOwner(tasks::list_statements), []);

async fn route(
    _: &AppState,
    request: Authenticated<'_, PathOwner>,
) -> Result<Response<Body>, ApiError> {
    let query = request
        .input(|req| {
            let params = http::query_params(req);
            Ok(ListQuery::parse(|name| {
                params.first(name).map(str::to_owned)
            })?)
        })
        .await?;
    let tasks = request.run(tasks::list(&query)).await?;
    Ok(http::json(StatusCode::OK, &tasks))
}
