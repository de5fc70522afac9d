//! The API's tables in a schema of their own (`DATABASE_SCHEMA`, `todo_api` by default):
//! beside an app's own `users`, `sessions` and `tasks` in `public`, in a schema of the
//! operator's choosing, and a deployment that kept them in `public` moved out, data kept.

use reqwest::StatusCode;
use serde_json::json;
use shared::db::migrations::{MIGRATIONS, checksum};

use crate::helpers::{PASSWORD, TestApp, admin_url, migrate_into};

/// A raw client of `url`'s database.
async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("a client");
    tokio::spawn(connection);
    client
}

/// Every row of `table`, as JSON text, in a stable order.
async fn rows(client: &tokio_postgres::Client, table: &str) -> Vec<String> {
    client
        .query(
            &format!("SELECT row_to_json(t)::text FROM {table} t ORDER BY 1"),
            &[],
        )
        .await
        .expect("rows")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// A user signs up, signs in, and keeps a task: the API works.
async fn the_api_works(app: &TestApp) {
    let ada = app.signup("ada@example.com").await;
    let task = app.create_task(&ada, "Buy milk", None).await;
    let (status, tasks) = app.list_tasks(&ada, "").await;
    assert_eq!((status, tasks), (StatusCode::OK, json!([task])));
    app.signin("ada@example.com").await;
}

#[tokio::test]
async fn beside_an_apps_own_users_sessions_and_tasks_the_api_migrates_works_and_leaves_them_alone()
{
    let url = dev_server::fixtures::create_database(&admin_url(), "test")
        .await
        .expect("a database");
    let app_tables = client(&url).await;
    // Tables of the app's own ORM, with the names the API would pick and other columns.
    app_tables
        .batch_execute(
            "CREATE TABLE public.users (id serial PRIMARY KEY, handle text NOT NULL UNIQUE);
             CREATE TABLE public.sessions (sid text PRIMARY KEY, data jsonb);
             CREATE TABLE public.tasks (id serial PRIMARY KEY, owner int REFERENCES public.users,
                                        body text);
             INSERT INTO public.users (handle) VALUES ('grace');
             INSERT INTO public.sessions VALUES ('s1', '{\"cart\": 1}');
             INSERT INTO public.tasks (owner, body) VALUES (1, 'the app''s own');",
        )
        .await
        .expect("the app's tables");
    let before = [
        rows(&app_tables, "public.users").await,
        rows(&app_tables, "public.sessions").await,
        rows(&app_tables, "public.tasks").await,
    ];

    migrate_into(&url, "todo_api").await;
    let app = TestApp::on_database(url, &[]).await;
    the_api_works(&app).await;

    let after = [
        rows(&app_tables, "public.users").await,
        rows(&app_tables, "public.sessions").await,
        rows(&app_tables, "public.tasks").await,
    ];
    assert_eq!(after, before, "the app's own tables are untouched");
    assert_eq!(app.count("todo_api.users").await, 1);
    assert_eq!(app.count("todo_api.tasks").await, 1);
}

#[tokio::test]
async fn the_api_lives_in_the_schema_database_schema_names() {
    let app = TestApp::spawn_with(&[("DATABASE_SCHEMA", "app_api")]).await;
    the_api_works(&app).await;
    assert_eq!(app.count("app_api.users").await, 1);
    let (_, in_default): (_, bool) = (
        (),
        app.db
            .query_one("SELECT to_regclass('todo_api.users') IS NOT NULL", &[])
            .await
            .expect("query")
            .get(0),
    );
    assert!(!in_default, "nothing in todo_api");
}

#[tokio::test]
async fn a_deployment_with_its_tables_in_public_moves_to_its_schema_with_its_data() {
    let url = dev_server::fixtures::create_database(&admin_url(), "test")
        .await
        .expect("a database");
    let old = client(&url).await;
    // The layout of a deployment migrated before the schema: V1 to V6 in public, with the
    // history in public.schema_migrations.
    old.batch_execute(
        "CREATE TABLE public.schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL, checksum bigint NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .expect("history");
    for (version, name, sql) in MIGRATIONS.iter().take(6) {
        old.batch_execute(sql).await.expect("an old migration");
        old.execute(
            "INSERT INTO public.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[version, name, &checksum(sql)],
        )
        .await
        .expect("its history");
    }
    // Its data: an account (whose password is PASSWORD), a session and a task.
    let hash = shared::auth::password::hash(shared::secrecy::SecretString::from(PASSWORD))
        .await
        .expect("hash");
    let user_id = uuid::Uuid::new_v4();
    old.execute(
        "INSERT INTO public.users (id, email, name, password_hash)
         VALUES ($1, 'ada@example.com', 'Ada', $2)",
        &[&user_id, &hash],
    )
    .await
    .expect("a user");
    old.execute(
        "INSERT INTO public.tasks (user_id, title) VALUES ($1, 'kept across the move')",
        &[&user_id],
    )
    .await
    .expect("a task");
    let tasks_before = rows(&old, "public.tasks").await;

    migrate_into(&url, "todo_api").await;
    for table in ["users", "sessions", "tasks", "schema_migrations"] {
        let left: bool = old
            .query_one(
                &format!("SELECT to_regclass('public.{table}') IS NULL"),
                &[],
            )
            .await
            .expect("query")
            .get(0);
        assert!(left, "public.{table} moved");
    }
    assert_eq!(rows(&old, "todo_api.tasks").await, tasks_before);
    let history: i64 = old
        .query_one("SELECT count(*) FROM todo_api.schema_migrations", &[])
        .await
        .expect("history")
        .get(0);
    assert_eq!(history, MIGRATIONS.len() as i64, "the rest applied after");

    // The account signs in with its old password and finds its task.
    let app = TestApp::on_database(url, &[]).await;
    let ada = app.signin("ada@example.com").await;
    let (status, tasks) = app.list_tasks(&ada, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks[0]["title"], "kept across the move");
    // Migrating again changes nothing.
    migrate_into(&app.database_url, "todo_api").await;
    assert_eq!(app.count("todo_api.tasks").await, 1);
}
