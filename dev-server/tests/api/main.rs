//! Integration tests: the local server on port 0, a fresh database per test, real
//! PostgreSQL over real connections.

mod account;
mod auth;
mod cookies;
mod devices;
mod faults;
mod helpers;
mod jwt_attacks;
mod pgbouncer;
mod races;
mod rotation;
mod samples;
mod schema;
mod security_events;
mod tasks;
mod throttle;
mod tls;
mod verification;
