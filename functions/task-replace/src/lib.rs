//! PUT /api/{user_id}/tasks/{task_id}: replaces the title and description (a description
//! left out becomes null); `completed` is set when given and kept otherwise.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::access::Authenticated;
use shared::db::tasks::{self, TaskChanges};
use shared::domain::{TaskDescription, TaskTitle};
use shared::function::{Access, Function, Setting};
use shared::task_handlers::{task_id, task_response};
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct ReplaceBody {
    title: Option<String>,
    description: Option<String>,
    completed: Option<bool>,
}

pub static FUNCTION: Function<AppState> = Function {
    name: env!("CARGO_PKG_NAME"),
    access: Access::AnyCredential(|kind| vec![tasks::update_statement(kind)]),
    settings: &[
        Setting::Signing,
        Setting::TokenLifetime,
        Setting::BetterAuth,
    ],
    handler: |state, req| {
        Box::pin(http::serve(&state.cors, FUNCTION.name, req, |req| {
            route(state, req)
        }))
    },
};

async fn route(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let request = Authenticated::path_owner(state, req).await?;
    let (task_id, changes) = request
        .input(|req| {
            let task_id = task_id(req)?;
            let body: ReplaceBody = http::parse_json(req)?;
            let changes = TaskChanges {
                title: Some(TaskTitle::parse(body.title.as_deref())?),
                description: Some(TaskDescription::parse(body.description)?),
                completed: body.completed,
            };
            Ok((task_id, changes))
        })
        .await?;
    let replaced = tasks::update(&state.db, request.credential(), task_id, &changes).await?;
    task_response(&request, replaced, StatusCode::OK)
}
