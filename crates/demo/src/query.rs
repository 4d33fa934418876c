//! The query parameters of a request: filters and page requests.

use crate::reply::{ApiError, code, invalid};

/// The query parameters of a request.
pub(crate) struct Query<'a>(pub(crate) &'a [(String, String)]);

/// A page request: 1-based page number and its size.
#[derive(Clone, Copy)]
pub(crate) struct Page {
    pub(crate) page: u64,
    pub(crate) per_page: u64,
}

impl Query<'_> {
    /// The first value of `key`, if any.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the filter `key` is absent or equals `value`.
    pub(crate) fn matches(&self, key: &str, value: &str) -> bool {
        self.get(key).is_none_or(|wanted| wanted == value)
    }

    /// The whole number `key` holds, else `default`.
    pub(crate) fn number(&self, key: &str, default: u64) -> Result<u64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| {
                invalid(
                    code::INVALID_REQUEST,
                    format!("{key} must be a whole number, not {text:?}"),
                )
            }),
        }
    }

    /// The page asked for, within `max_per_page`.
    pub(crate) fn page(&self, default_per_page: u64, max_per_page: u64) -> Result<Page, ApiError> {
        let page = self.number("page", 1)?;
        let per_page = self.number("per_page", default_per_page)?;
        if page == 0 {
            return Err(invalid(code::INVALID_REQUEST, "page must be at least 1"));
        }
        if !(1..=max_per_page).contains(&per_page) {
            return Err(invalid(
                code::INVALID_REQUEST,
                format!("per_page must be between 1 and {max_per_page}"),
            ));
        }
        Ok(Page { page, per_page })
    }
}
