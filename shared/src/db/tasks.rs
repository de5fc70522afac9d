//! Queries on `tasks`. Each is one statement that also checks the caller's credential
//! (the `caller` CTE of [`CredentialKind::ctes`]) and works only on rows the caller owns, so a
//! request costs one round trip, an ended credential changes nothing, and another user's
//! task is simply not found. Every statement's text depends only on the kind of credential
//! (and the list's sort order), so a task function prepares them all when it connects.

use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::Type;

use super::credentials::{CredentialKind, LIVE_AND_CALLER, PerKind, Protected, sql_values};
use super::statements::{Params, Statement};
use crate::domain::{ListQuery, SortKey, StatusFilter, TaskDescription, TaskTitle};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    /// The id the client knows the owner by (for a Better Auth caller, Better Auth's own).
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "id, user_id, title, description, completed, created_at, updated_at";
/// The same columns, read from the `op` CTE, with the owner as the client knows it.
const OP_COLUMNS: &str = "op.id, (SELECT public_id FROM caller), op.title, op.description, \
                          op.completed, op.created_at, op.updated_at";

/// The caller's user id, inside an `op`: no row, hence no work, once the credential ended.
const OWNER: &str = "(SELECT user_id FROM caller)";

/// The one statement shape around `op`, a CTE body that reads its owner from `caller`: two
/// columns judging the credential (live, may act on the path), then the task columns (NULL
/// when none). `params` are the kind's and `op`'s.
fn statement(kind: &CredentialKind, op: &str, order_by: &str, params: Params) -> Statement {
    kind.statement(
        &format!(
            "op AS ({op})
             SELECT {LIVE_AND_CALLER}, {OP_COLUMNS} FROM (SELECT 1) AS one LEFT JOIN op ON true {order_by}"
        ),
        params,
    )
}

/// A statement on one task by its id, the only parameter of `op` (`{id}` in it).
fn by_id(kind: &CredentialKind, op: &str) -> Statement {
    let mut params = kind.params();
    let id = params.add(Type::INT8);
    statement(kind, &op.replace("{id}", &id), "", params)
}

/// The task in `row`, if it holds one (the one row of a statement that found no task
/// has none of its columns).
fn task_of(row: &Row) -> Result<Option<Task>, tokio_postgres::Error> {
    let Some(id) = row.try_get::<_, Option<i64>>(2)? else {
        return Ok(None);
    };
    Ok(Some(Task {
        id,
        user_id: row.try_get(3)?,
        title: row.try_get(4)?,
        description: row.try_get(5)?,
        completed: row.try_get(6)?,
        created_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
    }))
}

/// The tasks in a statement's rows.
fn tasks_of(rows: &[Row]) -> Result<Vec<Task>, tokio_postgres::Error> {
    rows.iter()
        .filter_map(|row| task_of(row).transpose())
        .collect()
}

/// The one task, if any, in a statement's rows.
fn one_task_of(rows: &[Row]) -> Result<Option<Task>, tokio_postgres::Error> {
    Ok(tasks_of(rows)?.into_iter().next())
}

/// The list's statement for one sort order: filters and paging are parameters (limit,
/// offset, completed or null, search pattern or null).
pub fn list_statement(kind: &CredentialKind, sort: SortKey, descending: bool) -> Statement {
    let direction = if descending { "DESC" } else { "ASC" };
    // Only these fixed fragments are pasted into the SQL; every user value is a parameter.
    let order = |prefix: &str| {
        let key = match sort {
            SortKey::Created => format!("{prefix}created_at"),
            SortKey::Updated => format!("{prefix}updated_at"),
            SortKey::Title => format!("lower({prefix}title)"),
        };
        format!("ORDER BY {key} {direction}, {prefix}id {direction}")
    };
    let mut params = kind.params();
    let limit = params.add(Type::INT8);
    let offset = params.add(Type::INT8);
    let completed = params.add(Type::BOOL);
    let pattern = params.add(Type::TEXT);
    let op = format!(
        "SELECT {COLUMNS} FROM todo_api.tasks
          WHERE user_id = {OWNER}
            AND ({completed}::bool IS NULL OR completed = {completed})
            AND ({pattern}::text IS NULL OR title ILIKE {pattern} OR description ILIKE {pattern})
          {} LIMIT {limit} OFFSET {offset}",
        order("")
    );
    statement(kind, &op, &order("op."), params)
}

/// The list's statements, one per sort key and direction (see [`list_family`]).
static LIST: [PerKind; 6] = [
    PerKind::new(|kind| list_statement(kind, SortKey::Created, true)),
    PerKind::new(|kind| list_statement(kind, SortKey::Created, false)),
    PerKind::new(|kind| list_statement(kind, SortKey::Updated, true)),
    PerKind::new(|kind| list_statement(kind, SortKey::Updated, false)),
    PerKind::new(|kind| list_statement(kind, SortKey::Title, true)),
    PerKind::new(|kind| list_statement(kind, SortKey::Title, false)),
];

/// The list statement of one sort order.
fn list_family(sort: SortKey, descending: bool) -> &'static PerKind {
    let [
        created_desc,
        created_asc,
        updated_desc,
        updated_asc,
        title_desc,
        title_asc,
    ] = &LIST;
    match (sort, descending) {
        (SortKey::Created, true) => created_desc,
        (SortKey::Created, false) => created_asc,
        (SortKey::Updated, true) => updated_desc,
        (SortKey::Updated, false) => updated_asc,
        (SortKey::Title, true) => title_desc,
        (SortKey::Title, false) => title_asc,
    }
}

/// Every list statement for `kind`: one per sort key and direction.
pub fn list_statements(kind: &CredentialKind) -> Vec<Statement> {
    LIST.iter().map(|family| family.for_kind(kind)).collect()
}

/// The caller's tasks as `query` asks for them.
pub fn list(query: &ListQuery) -> Protected<'_, Vec<Task>> {
    let completed = match query.status {
        StatusFilter::All => None,
        StatusFilter::Pending => Some(false),
        StatusFilter::Completed => Some(true),
    };
    let pattern = query.search.as_deref().map(like_pattern);
    Protected::per_kind_rows(
        list_family(query.sort, query.descending),
        sql_values![query.limit, query.offset, completed, pattern],
        tasks_of,
    )
}

/// `%text%` with LIKE's wildcards in `text` escaped, so the search is a plain substring.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn create_statement(kind: &CredentialKind) -> Statement {
    let mut params = kind.params();
    let title = params.add(Type::TEXT);
    let description = params.add(Type::TEXT);
    let op = format!(
        "INSERT INTO todo_api.tasks (user_id, title, description)
         SELECT user_id, {title}, {description} FROM caller RETURNING {COLUMNS}"
    );
    statement(kind, &op, "", params)
}

pub static CREATE: PerKind = PerKind::new(create_statement);
pub static GET: PerKind = PerKind::new(get_statement);
pub static DELETE: PerKind = PerKind::new(delete_statement);
pub static TOGGLE: PerKind = PerKind::new(toggle_statement);
pub static UPDATE: PerKind = PerKind::new(update_statement);

/// A new task of the caller's.
pub fn create<'a>(
    title: &'a TaskTitle,
    description: &'a TaskDescription,
) -> Protected<'a, Option<Task>> {
    Protected::per_kind_rows(
        &CREATE,
        sql_values![title.as_str(), description.as_deref()],
        one_task_of,
    )
}

fn get_statement(kind: &CredentialKind) -> Statement {
    let op =
        format!("SELECT {COLUMNS} FROM todo_api.tasks WHERE id = {{id}} AND user_id = {OWNER}");
    by_id(kind, &op)
}

/// One of the caller's tasks.
pub fn get(task_id: i64) -> Protected<'static, Option<Task>> {
    Protected::per_kind_rows(&GET, sql_values![task_id], one_task_of)
}

fn delete_statement(kind: &CredentialKind) -> Statement {
    let op = format!(
        "DELETE FROM todo_api.tasks WHERE id = {{id}} AND user_id = {OWNER} RETURNING {COLUMNS}"
    );
    by_id(kind, &op)
}

/// Deletes one of the caller's tasks; the task as it was.
pub fn delete(task_id: i64) -> Protected<'static, Option<Task>> {
    Protected::per_kind_rows(&DELETE, sql_values![task_id], one_task_of)
}

fn toggle_statement(kind: &CredentialKind) -> Statement {
    let op = format!(
        "UPDATE todo_api.tasks SET completed = NOT completed
          WHERE id = {{id}} AND user_id = {OWNER} RETURNING {COLUMNS}"
    );
    by_id(kind, &op)
}

/// Flips `completed` in the statement itself, so concurrent toggles never lose one.
pub fn toggle(task_id: i64) -> Protected<'static, Option<Task>> {
    Protected::per_kind_rows(&TOGGLE, sql_values![task_id], one_task_of)
}

/// The fields a write sets; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    /// `Some(None)` clears the description.
    pub description: Option<TaskDescription>,
    pub completed: Option<bool>,
}

fn update_statement(kind: &CredentialKind) -> Statement {
    let mut params = kind.params();
    let id = params.add(Type::INT8);
    let title = params.add(Type::TEXT);
    let set_description = params.add(Type::BOOL);
    let description = params.add(Type::TEXT);
    let completed = params.add(Type::BOOL);
    let op = format!(
        "UPDATE todo_api.tasks SET title = COALESCE({title}, title),
                          description = CASE WHEN {set_description} THEN {description} ELSE description END,
                          completed = COALESCE({completed}, completed)
          WHERE id = {id} AND user_id = {OWNER} RETURNING {COLUMNS}"
    );
    statement(kind, &op, "", params)
}

/// PUT and PATCH: one UPDATE that sets only what was given.
pub fn update(task_id: i64, changes: &TaskChanges) -> Protected<'_, Option<Task>> {
    let title = changes.title.as_ref().map(TaskTitle::as_str);
    let set_description = changes.description.is_some();
    let description = changes
        .description
        .as_ref()
        .and_then(TaskDescription::as_deref);
    Protected::per_kind_rows(
        &UPDATE,
        sql_values![
            task_id,
            title,
            set_description,
            description,
            changes.completed
        ],
        one_task_of,
    )
}
