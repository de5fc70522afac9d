//! A task's title and description, and the list query, as the contract accepts them.

use super::Invalid;
use super::{trimmed_text, without_nul};

/// Trimmed, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        trimmed_text(
            raw,
            Self::MAX_CHARS,
            "Title is required",
            "Title must be 200 characters or less",
            "Title must not contain NUL characters",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Optional, at most 1000 characters, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDescription(Option<String>);

impl TaskDescription {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(raw: Option<String>) -> Result<Self, Invalid> {
        if let Some(description) = &raw {
            without_nul(description, "Description must not contain NUL characters")?;
            if description.chars().count() > Self::MAX_CHARS {
                return Err(Invalid::new("Description must be 1000 characters or less"));
            }
        }
        Ok(Self(raw))
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Pending,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Updated,
    Title,
}

/// `GET /api/{user_id}/tasks` parameters, each validated against the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: StatusFilter,
    pub sort: SortKey,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
    /// Case-insensitive substring of title or description; never empty.
    pub search: Option<String>,
}

impl ListQuery {
    pub const MAX_LIMIT: i64 = 100;
    pub const MAX_SEARCH_CHARS: usize = 200;

    /// Reads the parameters through `param`, which returns one query parameter by name.
    pub fn parse(param: impl Fn(&str) -> Option<String>) -> Result<Self, Invalid> {
        let status = match param("status").as_deref() {
            None | Some("all") => StatusFilter::All,
            Some("pending") => StatusFilter::Pending,
            Some("completed") => StatusFilter::Completed,
            Some(_) => {
                return Err(Invalid::new(
                    "status must be one of: all, pending, completed",
                ));
            }
        };
        let sort = match param("sort").as_deref() {
            None | Some("created") => SortKey::Created,
            Some("updated") => SortKey::Updated,
            Some("title") => SortKey::Title,
            Some(_) => {
                return Err(Invalid::new("sort must be one of: created, updated, title"));
            }
        };
        let descending = match param("order").as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(_) => return Err(Invalid::new("order must be one of: asc, desc")),
        };
        let limit = match param("limit") {
            None => Self::MAX_LIMIT,
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|limit| (1..=Self::MAX_LIMIT).contains(limit))
                .ok_or_else(|| Invalid::new("limit must be a whole number from 1 to 100"))?,
        };
        let offset = match param("offset") {
            None => 0,
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|offset| *offset >= 0)
                .ok_or_else(|| Invalid::new("offset must be a whole number of 0 or more"))?,
        };
        let search = param("q").filter(|q| !q.is_empty());
        if let Some(q) = &search {
            without_nul(q, "q must not contain NUL characters")?;
            if q.chars().count() > Self::MAX_SEARCH_CHARS {
                return Err(Invalid::new("q must be 200 characters or less"));
            }
        }
        Ok(Self {
            status,
            sort,
            descending,
            limit,
            offset,
            search,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListQuery::parse(|name| map.get(name).cloned()).map_err(|err| err.to_string())
    }

    #[test]
    fn title_and_description_limits() {
        assert_eq!(
            TaskTitle::parse(Some("  Buy milk ")).unwrap().as_str(),
            "Buy milk"
        );
        assert_eq!(
            TaskTitle::parse(Some(" ")).unwrap_err().to_string(),
            "Title is required"
        );
        assert!(TaskTitle::parse(Some(&"t".repeat(200))).is_ok());
        assert_eq!(
            TaskTitle::parse(Some(&"t".repeat(201)))
                .unwrap_err()
                .to_string(),
            "Title must be 200 characters or less"
        );
        assert_eq!(
            TaskTitle::parse(Some(" a\0b ")).unwrap_err().to_string(),
            "Title must not contain NUL characters"
        );
        assert_eq!(
            TaskDescription::parse(Some("\0".into()))
                .unwrap_err()
                .to_string(),
            "Description must not contain NUL characters"
        );
        assert!(TaskDescription::parse(Some("d".repeat(1000))).is_ok());
        assert_eq!(
            TaskDescription::parse(Some("d".repeat(1001)))
                .unwrap_err()
                .to_string(),
            "Description must be 1000 characters or less"
        );
    }

    #[test]
    fn list_query_defaults_and_refusals() {
        let defaults = query(&[]).unwrap();
        assert_eq!(
            defaults,
            ListQuery {
                status: StatusFilter::All,
                sort: SortKey::Created,
                descending: true,
                limit: 100,
                offset: 0,
                search: None
            }
        );
        assert_eq!(
            query(&[("status", "done")]).unwrap_err(),
            "status must be one of: all, pending, completed"
        );
        assert_eq!(
            query(&[("sort", "id")]).unwrap_err(),
            "sort must be one of: created, updated, title"
        );
        assert_eq!(
            query(&[("order", "up")]).unwrap_err(),
            "order must be one of: asc, desc"
        );
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            assert_eq!(
                query(&[("limit", bad)]).unwrap_err(),
                "limit must be a whole number from 1 to 100"
            );
        }
        assert_eq!(
            query(&[("offset", "-1")]).unwrap_err(),
            "offset must be a whole number of 0 or more"
        );
        assert_eq!(query(&[("q", "")]).unwrap().search, None);
        assert_eq!(
            query(&[("q", "a\0")]).unwrap_err(),
            "q must not contain NUL characters"
        );
    }
}
