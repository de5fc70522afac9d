//! Queries on `tasks`. Each is one statement that also checks the caller's session
//! ([`LIVE_SESSION`]) and filters by the caller's user id, so a request costs one round
//! trip, a revoked token changes nothing, and another user's task is simply not found.
//!
//! Parameters `$1` (session id) and `$2` (user id) are the same in every statement.

use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::sessions::LIVE_SESSION;
use super::{Db, DbError};
use crate::auth::VerifiedToken;
use crate::domain::{ListQuery, SortKey, StatusFilter, TaskDescription, TaskTitle};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub user_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What a task statement found: the session was not live, or it was and here are the rows.
#[derive(Debug)]
pub enum Outcome<T> {
    SessionEnded,
    Done(T),
}

const COLUMNS: &str = "id, user_id, title, description, completed, created_at, updated_at";
/// The same columns, read from the `op` CTE.
const OP_COLUMNS: &str =
    "op.id, op.user_id, op.title, op.description, op.completed, op.created_at, op.updated_at";

/// Wraps `op`, a CTE body that may read `live`, into the one statement shape: a first
/// column telling whether the session is live, then the task columns (NULL when none).
fn statement(op: &str, order_by: &str) -> String {
    format!(
        "WITH live AS ({LIVE_SESSION}), op AS ({op})
         SELECT EXISTS (SELECT 1 FROM live), {OP_COLUMNS} FROM (SELECT 1) AS one LEFT JOIN op ON true {order_by}"
    )
}

fn task_of(row: &Row) -> Option<Task> {
    let id: Option<i64> = row.get(1);
    Some(Task {
        id: id?,
        user_id: row.get(2),
        title: row.get(3),
        description: row.get(4),
        completed: row.get(5),
        created_at: row.get(6),
        updated_at: row.get(7),
    })
}

async fn run(
    db: &Db,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Outcome<Vec<Task>>, DbError> {
    let rows = db.query(sql, params).await?;
    let live = rows.first().is_some_and(|row| row.get::<_, bool>(0));
    if !live {
        return Ok(Outcome::SessionEnded);
    }
    Ok(Outcome::Done(rows.iter().filter_map(task_of).collect()))
}

async fn run_one(
    db: &Db,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Outcome<Option<Task>>, DbError> {
    Ok(match run(db, sql, params).await? {
        Outcome::SessionEnded => Outcome::SessionEnded,
        Outcome::Done(tasks) => Outcome::Done(tasks.into_iter().next()),
    })
}

pub async fn list(
    db: &Db,
    token: &VerifiedToken,
    query: &ListQuery,
) -> Result<Outcome<Vec<Task>>, DbError> {
    let direction = if query.descending { "DESC" } else { "ASC" };
    let completed = match query.status {
        StatusFilter::All => None,
        StatusFilter::Pending => Some(false),
        StatusFilter::Completed => Some(true),
    };
    let pattern = query.search.as_deref().map(like_pattern);

    let mut params: Vec<(&(dyn ToSql + Sync), Type)> = vec![
        (&token.session_id, Type::UUID),
        (&token.user_id, Type::UUID),
        (&query.limit, Type::INT8),
        (&query.offset, Type::INT8),
    ];
    let mut filters = String::new();
    if let Some(completed) = &completed {
        params.push((completed, Type::BOOL));
        filters.push_str(&format!(" AND completed = ${}", params.len()));
    }
    if let Some(pattern) = &pattern {
        params.push((pattern, Type::TEXT));
        let n = params.len();
        filters.push_str(&format!(
            " AND (title ILIKE ${n} OR description ILIKE ${n})"
        ));
    }
    // Only these fixed fragments are pasted into the SQL; every user value is a parameter.
    let order = |prefix: &str| {
        let key = match query.sort {
            SortKey::Created => format!("{prefix}created_at"),
            SortKey::Updated => format!("{prefix}updated_at"),
            SortKey::Title => format!("lower({prefix}title)"),
        };
        format!("ORDER BY {key} {direction}, {prefix}id {direction}")
    };
    let op = format!(
        "SELECT {COLUMNS} FROM tasks WHERE user_id = $2 AND EXISTS (SELECT 1 FROM live){filters} {} LIMIT $3 OFFSET $4",
        order("")
    );
    run(db, &statement(&op, &order("op.")), &params).await
}

/// `%text%` with LIKE's wildcards in `text` escaped, so the search is a plain substring.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub async fn create(
    db: &Db,
    token: &VerifiedToken,
    title: &TaskTitle,
    description: &TaskDescription,
) -> Result<Outcome<Option<Task>>, DbError> {
    let op = format!(
        "INSERT INTO tasks (user_id, title, description) SELECT $2, $3, $4 FROM live RETURNING {COLUMNS}"
    );
    run_one(
        db,
        &statement(&op, ""),
        &[
            (&token.session_id, Type::UUID),
            (&token.user_id, Type::UUID),
            (&title.as_str(), Type::TEXT),
            (&description.as_deref(), Type::TEXT),
        ],
    )
    .await
}

pub async fn get(
    db: &Db,
    token: &VerifiedToken,
    task_id: i64,
) -> Result<Outcome<Option<Task>>, DbError> {
    let op = format!(
        "SELECT {COLUMNS} FROM tasks WHERE id = $3 AND user_id = $2 AND EXISTS (SELECT 1 FROM live)"
    );
    by_id(db, token, task_id, &op).await
}

pub async fn delete(
    db: &Db,
    token: &VerifiedToken,
    task_id: i64,
) -> Result<Outcome<Option<Task>>, DbError> {
    let op = format!(
        "DELETE FROM tasks WHERE id = $3 AND user_id = $2 AND EXISTS (SELECT 1 FROM live) RETURNING {COLUMNS}"
    );
    by_id(db, token, task_id, &op).await
}

/// Flips `completed` in the statement itself, so concurrent toggles never lose one.
pub async fn toggle(
    db: &Db,
    token: &VerifiedToken,
    task_id: i64,
) -> Result<Outcome<Option<Task>>, DbError> {
    let op = format!(
        "UPDATE tasks SET completed = NOT completed
          WHERE id = $3 AND user_id = $2 AND EXISTS (SELECT 1 FROM live) RETURNING {COLUMNS}"
    );
    by_id(db, token, task_id, &op).await
}

async fn by_id(
    db: &Db,
    token: &VerifiedToken,
    task_id: i64,
    op: &str,
) -> Result<Outcome<Option<Task>>, DbError> {
    run_one(
        db,
        &statement(op, ""),
        &[
            (&token.session_id, Type::UUID),
            (&token.user_id, Type::UUID),
            (&task_id, Type::INT8),
        ],
    )
    .await
}

/// The fields a write sets; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    /// `Some(None)` clears the description.
    pub description: Option<TaskDescription>,
    pub completed: Option<bool>,
}

/// PUT and PATCH: one UPDATE that sets only what was given.
pub async fn update(
    db: &Db,
    token: &VerifiedToken,
    task_id: i64,
    changes: &TaskChanges,
) -> Result<Outcome<Option<Task>>, DbError> {
    let title = changes.title.as_ref().map(TaskTitle::as_str);
    let set_description = changes.description.is_some();
    let description = changes
        .description
        .as_ref()
        .and_then(TaskDescription::as_deref);
    let op = format!(
        "UPDATE tasks SET title = COALESCE($4, title),
                          description = CASE WHEN $5 THEN $6 ELSE description END,
                          completed = COALESCE($7, completed)
          WHERE id = $3 AND user_id = $2 AND EXISTS (SELECT 1 FROM live) RETURNING {COLUMNS}"
    );
    run_one(
        db,
        &statement(&op, ""),
        &[
            (&token.session_id, Type::UUID),
            (&token.user_id, Type::UUID),
            (&task_id, Type::INT8),
            (&title, Type::TEXT),
            (&set_description, Type::BOOL),
            (&description, Type::TEXT),
            (&changes.completed, Type::BOOL),
        ],
    )
    .await
}
