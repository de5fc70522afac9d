//! PUT /api/{user_id}/tasks/{task_id}: replaces the title and description (a description
//! left out becomes null); `completed` is set when given and kept otherwise.

use lambda_http::Request;
use serde::Deserialize;
use shared::db::tasks::{self, TaskChanges};
use shared::domain::{TaskDescription, TaskTitle};
use shared::task_handlers::update_task;
use shared::{ApiError, AppState, http};

#[derive(Deserialize)]
struct ReplaceBody {
    title: Option<String>,
    description: Option<String>,
    completed: Option<bool>,
}

shared::declare_function!(
    AppState,
    Access::PathOwner(|kind| vec![tasks::UPDATE.for_kind(kind)]),
    [],
    |_, request| update_task(request, replacement)
);

/// The task as the body has it: its title, its description (left out: none), and
/// `completed` when given.
fn replacement(req: &Request) -> Result<TaskChanges, ApiError> {
    let body: ReplaceBody = http::parse_json(req)?;
    Ok(TaskChanges {
        title: Some(TaskTitle::parse(body.title.as_deref())?),
        description: Some(TaskDescription::parse(body.description)?),
        completed: body.completed,
    })
}
