//! Listings: the page every list endpoint returns, and the page a request asks for.

use crate::{error::ApiError, state::AppState};

/// A listing's query parameters: its own (filters), then the page asked for, `limit` and
/// `cursor`. Unknown parameters are refused.
///
/// ```text
/// shared::page_query! {
///     struct ListQuery {
///         /// Only active (true) or inactive (false) habits.
///         #[serde(default)]
///         is_active: Option<bool>,
///     }
/// }
/// ```
#[macro_export]
macro_rules! page_query {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        #[derive(serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        $vis struct $name {
            $($fields)*
            /// Page size.
            #[serde(default)]
            #[param(minimum = 1, maximum = 100)]
            pub limit: Option<i64>,
            /// `next_cursor` of the previous page.
            #[serde(default)]
            pub cursor: Option<String>,
        }
    };
}

/// A page of a listing, as every list endpoint returns it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PageBody<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page request of a listing: the checked page size and the decoded start key, bound to the
/// listing's `scope` (a cursor from another listing is rejected).
pub struct Paging<'a> {
    cursors: &'a crate::cursor::CursorKey,
    scope: String,
    pub limit: i32,
    /// Where the page starts; take it into the Query.
    pub start: Option<crate::storage::Item>,
}

impl<'a> Paging<'a> {
    pub fn new(
        state: &'a AppState,
        scope: impl Into<String>,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Self, ApiError> {
        let scope = scope.into();
        let limit = page_size(limit)?;
        let start = cursor.map(|c| state.cursors.decode(&scope, c)).transpose()?;
        Ok(Paging { cursors: &state.cursors, scope, limit, start })
    }

    /// The response body: the items and, unless this was the last page, the next cursor.
    pub fn finish<T>(&self, items: Vec<T>, last_key: Option<crate::storage::Item>) -> Result<PageBody<T>, ApiError> {
        let next_cursor = last_key.as_ref().map(|k| self.cursors.encode(&self.scope, k)).transpose()?;
        Ok(PageBody { items, next_cursor })
    }
}

/// Page-size bounds of every listing.
pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// Checks a requested page size (`limit`), defaulting when absent.
pub fn page_size(limit: Option<i64>) -> Result<i32, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=i64::from(MAX_PAGE_SIZE)).contains(&n) => Ok(n as i32),
        Some(_) => Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_PAGE_SIZE}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(Some(100)).unwrap(), 100);
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(101)).is_err());
    }
}
