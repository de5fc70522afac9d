//! Queries on `tasks`. Each is one statement that also checks the caller's credential
//! (the `caller` CTE of [`Credential::ctes`]) and works only on rows the caller owns, so a
//! request costs one round trip, an ended credential changes nothing, and another user's
//! task is simply not found.

use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use super::credentials::{Credential, LIVE_AND_CALLER, Outcome};
use super::{Db, DbError};
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

/// Wraps `op`, a CTE body that reads its owner from `caller`, into the one statement shape:
/// two columns judging the credential (live, may act on the path), then the task columns
/// (NULL when none).
fn statement(credential: &Credential, op: &str, order_by: &str) -> String {
    format!(
        "WITH {}, op AS ({op})
         SELECT {LIVE_AND_CALLER}, {OP_COLUMNS} FROM (SELECT 1) AS one LEFT JOIN op ON true {order_by}",
        credential.ctes()
    )
}

fn task_of(row: &Row) -> Option<Task> {
    let id: Option<i64> = row.get(2);
    Some(Task {
        id: id?,
        user_id: row.get(3),
        title: row.get(4),
        description: row.get(5),
        completed: row.get(6),
        created_at: row.get(7),
        updated_at: row.get(8),
    })
}

/// Runs a statement built by [`statement`] with the credential's parameters first.
async fn run(
    db: &Db,
    credential: &Credential,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Outcome<Vec<Task>>, DbError> {
    let rows = db.query(sql, &credential.with_params(params)).await?;
    let judged = |column| rows.first().is_some_and(|row| row.get::<_, bool>(column));
    Ok(Outcome::judged(judged(0), judged(1), || {
        rows.iter().filter_map(task_of).collect()
    }))
}

async fn run_one(
    db: &Db,
    credential: &Credential,
    op: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Outcome<Option<Task>>, DbError> {
    let sql = statement(credential, op, "");
    Ok(run(db, credential, &sql, params)
        .await?
        .map(|tasks| tasks.into_iter().next()))
}

pub async fn list(
    db: &Db,
    credential: &Credential,
    query: &ListQuery,
) -> Result<Outcome<Vec<Task>>, DbError> {
    let direction = if query.descending { "DESC" } else { "ASC" };
    let completed = match query.status {
        StatusFilter::All => None,
        StatusFilter::Pending => Some(false),
        StatusFilter::Completed => Some(true),
    };
    let pattern = query.search.as_deref().map(like_pattern);

    // `$1` and `$2` are the credential's.
    let mut params: Vec<(&(dyn ToSql + Sync), Type)> =
        vec![(&query.limit, Type::INT8), (&query.offset, Type::INT8)];
    let mut filters = String::new();
    if let Some(completed) = &completed {
        params.push((completed, Type::BOOL));
        filters.push_str(&format!(" AND completed = ${}", params.len() + 2));
    }
    if let Some(pattern) = &pattern {
        params.push((pattern, Type::TEXT));
        let n = params.len() + 2;
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
        "SELECT {COLUMNS} FROM tasks WHERE user_id = {OWNER}{filters} {} LIMIT $3 OFFSET $4",
        order("")
    );
    let sql = statement(credential, &op, &order("op."));
    run(db, credential, &sql, &params).await
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
    credential: &Credential,
    title: &TaskTitle,
    description: &TaskDescription,
) -> Result<Outcome<Option<Task>>, DbError> {
    let op = format!(
        "INSERT INTO tasks (user_id, title, description)
         SELECT user_id, $3, $4 FROM caller RETURNING {COLUMNS}"
    );
    let params: [(&(dyn ToSql + Sync), Type); 2] = [
        (&title.as_str(), Type::TEXT),
        (&description.as_deref(), Type::TEXT),
    ];
    run_one(db, credential, &op, &params).await
}

pub async fn get(
    db: &Db,
    credential: &Credential,
    task_id: i64,
) -> Result<Outcome<Option<Task>>, DbError> {
    let op = format!("SELECT {COLUMNS} FROM tasks WHERE id = $3 AND user_id = {OWNER}");
    run_one(db, credential, &op, &[(&task_id, Type::INT8)]).await
}

pub async fn delete(
    db: &Db,
    credential: &Credential,
    task_id: i64,
) -> Result<Outcome<Option<Task>>, DbError> {
    let op = format!("DELETE FROM tasks WHERE id = $3 AND user_id = {OWNER} RETURNING {COLUMNS}");
    run_one(db, credential, &op, &[(&task_id, Type::INT8)]).await
}

/// Flips `completed` in the statement itself, so concurrent toggles never lose one.
pub async fn toggle(
    db: &Db,
    credential: &Credential,
    task_id: i64,
) -> Result<Outcome<Option<Task>>, DbError> {
    let op = format!(
        "UPDATE tasks SET completed = NOT completed
          WHERE id = $3 AND user_id = {OWNER} RETURNING {COLUMNS}"
    );
    run_one(db, credential, &op, &[(&task_id, Type::INT8)]).await
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
    credential: &Credential,
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
          WHERE id = $3 AND user_id = {OWNER} RETURNING {COLUMNS}"
    );
    let params: [(&(dyn ToSql + Sync), Type); 5] = [
        (&task_id, Type::INT8),
        (&title, Type::TEXT),
        (&set_description, Type::BOOL),
        (&description, Type::TEXT),
        (&changes.completed, Type::BOOL),
    ];
    run_one(db, credential, &op, &params).await
}
