//! Validated values: each is parsed once from request input, with the contract's message on
//! failure, and trusted everywhere after.

mod task;
mod user;

pub use task::{ListQuery, SortKey, StatusFilter, TaskDescription, TaskTitle};
pub use user::{Email, Name, Password};

/// A required value kept exactly as sent (a password to check, a reset token): present and
/// not empty, else a 400 with `missing`.
pub fn required(raw: Option<String>, missing: &str) -> Result<String, crate::ApiError> {
    raw.filter(|value| !value.is_empty())
        .ok_or_else(|| crate::ApiError::validation(missing))
}

/// A required free-text field: trimmed, then non-empty, without NUL and at most `max_chars`
/// characters (Unicode scalar values, so any script counts the same).
fn trimmed_text(
    raw: Option<&str>,
    max_chars: usize,
    missing: &str,
    too_long: &str,
    has_nul: &str,
) -> Result<String, crate::ApiError> {
    let text = raw.unwrap_or_default().trim();
    if text.is_empty() {
        return Err(crate::ApiError::validation(missing));
    }
    without_nul(text, has_nul)?;
    if text.chars().count() > max_chars {
        return Err(crate::ApiError::validation(too_long));
    }
    Ok(text.to_owned())
}

/// PostgreSQL text cannot hold NUL: text that is stored or searched for must be refused
/// here with a 400, or the statement would fail with a 5xx.
fn without_nul(text: &str, message: &str) -> Result<(), crate::ApiError> {
    if text.contains('\0') {
        return Err(crate::ApiError::validation(message));
    }
    Ok(())
}
