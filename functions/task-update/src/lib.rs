//! PATCH /api/{user_id}/tasks/{task_id}: changes only the fields given (at least one);
//! `"description": null` clears the description.

use lambda_http::Request;
use serde::Deserialize;
use shared::db::tasks::{self, TaskChanges};
use shared::domain::{TaskDescription, TaskTitle};
use shared::http::distinguish_null_from_absent;
use shared::task_handlers::update_task;
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(default, deserialize_with = "distinguish_null_from_absent")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "distinguish_null_from_absent")]
    description: Option<Option<String>>,
    completed: Option<bool>,
}

shared::declare_function!(
    AppState,
    Access::PathOwner(|kind| vec![tasks::UPDATE.for_kind(kind)]),
    [],
    |_, request| update_task(request, changes)
);

/// What the body asks to change.
fn changes(req: &Request) -> Result<TaskChanges, ApiError> {
    let body: UpdateBody = http::parse_json(req)?;
    if body.title.is_none() && body.description.is_none() && body.completed.is_none() {
        return Err(ApiError::validation(
            "Provide at least one of title, description, completed",
        ));
    }
    Ok(TaskChanges {
        title: body
            .title
            .map(|title| TaskTitle::parse(title.as_deref()))
            .transpose()?,
        description: body.description.map(TaskDescription::parse).transpose()?,
        completed: body.completed,
    })
}
