//! The one library every function uses: configuration, database, auth and access, HTTP
//! plumbing, domain types and the route table. A function crate is a thin handler over this.

pub mod access;
pub mod account;
pub mod audit;
pub mod auth;
pub mod aws;
pub mod better_auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod lambda;
pub mod mail;
pub mod routes;
pub mod secrets;
pub mod state;
pub mod task_handlers;
pub mod telemetry;

pub use error::ApiError;
pub use state::AppState;
pub use {secrecy, uuid};
