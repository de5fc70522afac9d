//! GET /api/{user_id}/tasks: the caller's tasks, newest first by default, with the
//! contract's status, sort, order, limit, offset and q parameters.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::access::Authenticated;
use shared::db::tasks;
use shared::domain::ListQuery;
use shared::function::Access;
use shared::{ApiError, AppState, http};

shared::declare_function!(AppState, Access::AnyCredential(tasks::list_statements), []);

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let request = Authenticated::path_owner(state, req).await?;
    let query = request
        .input(|req| {
            let params = http::query_params(req);
            ListQuery::parse(|name| params.first(name).map(str::to_owned))
        })
        .await?;
    let tasks = request.checked(tasks::list(&state.db, request.credential(), &query).await?)?;
    Ok(http::json(StatusCode::OK, &tasks))
}
