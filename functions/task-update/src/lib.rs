//! PATCH /api/{user_id}/tasks/{task_id}: changes only the fields given (at least one);
//! `"description": null` clears the description.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::access::Authenticated;
use shared::db::tasks::{self, TaskChanges};
use shared::domain::{TaskDescription, TaskTitle};
use shared::function::{Access, Function, Setting};
use shared::http::distinguish_null_from_absent;
use shared::task_handlers::{task_id, task_response};
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(default, deserialize_with = "distinguish_null_from_absent")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "distinguish_null_from_absent")]
    description: Option<Option<String>>,
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
            let body: UpdateBody = http::parse_json(req)?;
            if body.title.is_none() && body.description.is_none() && body.completed.is_none() {
                return Err(ApiError::validation(
                    "Provide at least one of title, description, completed",
                ));
            }
            let changes = TaskChanges {
                title: body
                    .title
                    .map(|title| TaskTitle::parse(title.as_deref()))
                    .transpose()?,
                description: body.description.map(TaskDescription::parse).transpose()?,
                completed: body.completed,
            };
            Ok((task_id, changes))
        })
        .await?;
    let updated = tasks::update(&state.db, request.credential(), task_id, &changes).await?;
    task_response(&request, updated, StatusCode::OK)
}
