//! The one library every function uses: configuration, database, auth and access, HTTP
//! plumbing, domain types and the route table. A function crate is a thin handler over this.
//!
//! **Nothing on a request path panics** (`panic = "abort"` would end the instance): this
//! crate and every function deny `unwrap`, `expect`, `panic!`, indexing and slicing
//! (workspace lints; tests are exempt), and rows are read with `try_get` only (clippy's
//! `disallowed-methods` refuses `Row::get`), so a column of an unexpected type is a 503
//! with its cause logged. What could still panic, and why it does not:
//! - arithmetic overflow: the release profile does not check it (it wraps), and the sums
//!   here are of counters and lengths far below their types' bounds;
//! - allocation failure aborts rather than panics, in every Rust program alike;
//! - the `LazyLock` statements build fixed SQL with `format!`, before any request data;
//! - the dependencies' own code (tokio, hyper, tokio-postgres, serde): their documented
//!   panics are on misuse (a runtime missing, a Row column out of range with `get`), which
//!   the code here avoids by construction.

pub mod access;
pub mod audit;
pub mod auth;
pub mod aws;
pub mod config;
pub mod cors;
pub mod db;
pub mod domain;
pub mod error;
pub mod function;
pub mod http;
pub mod key_store;
pub mod lambda;
pub mod link_request;
pub mod mail;
pub mod routes;
pub mod secrets;
pub mod state;
pub mod task_handlers;
pub mod telemetry;
pub mod tls;

pub use error::ApiError;
pub use state::AppState;
pub use {secrecy, uuid};
