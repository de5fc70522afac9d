//! Validated values: each is parsed once from request input, with the contract's message on
//! failure, and trusted everywhere after.

mod task;
mod user;

pub use task::{ListQuery, SortKey, StatusFilter, TaskDescription, TaskTitle};
pub use user::{Email, Name, Password};
