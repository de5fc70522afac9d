//! Validated values: each is parsed once from request input, with the contract's message on
//! failure, and trusted everywhere after.

mod user;

pub use user::{Email, Name, Password};
