//! Validated values: each is parsed once from request input, with the contract's message on
//! failure, and trusted everywhere after.

mod task;
mod user;

pub use task::{ListQuery, SortKey, StatusFilter, TaskDescription, TaskTitle};
pub use user::{Email, Name, Password};

/// A required free-text field: trimmed, then non-empty and at most `max_chars` characters
/// (Unicode scalar values, so any script counts the same).
fn trimmed_text(
    raw: Option<&str>,
    max_chars: usize,
    missing: &str,
    too_long: &str,
) -> Result<String, crate::ApiError> {
    let text = raw.unwrap_or_default().trim();
    if text.is_empty() {
        return Err(crate::ApiError::validation(missing));
    }
    if text.chars().count() > max_chars {
        return Err(crate::ApiError::validation(too_long));
    }
    Ok(text.to_owned())
}
