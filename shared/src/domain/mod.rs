//! Validated values: each is parsed once from request input, with the contract's message on
//! failure ([`Invalid`], which the HTTP layer answers with 400), and trusted everywhere
//! after.

use std::borrow::Cow;

mod task;
mod user;

pub use task::{ListQuery, SortKey, StatusFilter, TaskDescription, TaskTitle};
pub use user::{Email, Name, Password};

/// A value refused, with the contract's message for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(Cow<'static, str>);

impl Invalid {
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

/// A required value kept exactly as sent (a password to check, a reset token): present and
/// not empty, else a 400 with `missing`.
pub fn required(raw: Option<String>, missing: &'static str) -> Result<String, Invalid> {
    raw.filter(|value| !value.is_empty())
        .ok_or_else(|| Invalid::new(missing))
}

/// A required free-text field: trimmed, then non-empty, without NUL and at most `max_chars`
/// characters (Unicode scalar values, so any script counts the same).
fn trimmed_text(
    raw: Option<&str>,
    max_chars: usize,
    missing: &'static str,
    too_long: &'static str,
    has_nul: &'static str,
) -> Result<String, Invalid> {
    let text = raw.unwrap_or_default().trim();
    if text.is_empty() {
        return Err(Invalid::new(missing));
    }
    without_nul(text, has_nul)?;
    if text.chars().count() > max_chars {
        return Err(Invalid::new(too_long));
    }
    Ok(text.to_owned())
}

/// PostgreSQL text cannot hold NUL: text that is stored or searched for must be refused
/// here with a 400, or the statement would fail with a 5xx.
fn without_nul(text: &str, message: &'static str) -> Result<(), Invalid> {
    if text.contains('\0') {
        return Err(Invalid::new(message));
    }
    Ok(())
}
