//! Lists come in pages: a page of values and the cursor of the next one (the contract's
//! list shape, `{"data": [...], "next_cursor": ...}`).

use serde::Serialize;
use utoipa::ToSchema;

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from rows read with `limit + 1`: the extra row only says another page follows,
    /// whose cursor `cursor` makes from this page's last row.
    pub fn of(mut data: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Self {
        let next_cursor = (data.len() > limit as usize).then(|| {
            data.truncate(limit as usize);
            data.last().map(cursor).unwrap_or_default()
        });
        Self { data, next_cursor }
    }

    /// A whole list: no next page.
    pub fn whole(data: Vec<T>) -> Self {
        Self { data, next_cursor: None }
    }

    /// The same page with each value turned into another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { data: self.data.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extra_row_only_says_a_next_page_follows() {
        let page = Page::of(vec![1, 2, 3], 2, i32::to_string);
        assert_eq!(page, Page { data: vec![1, 2], next_cursor: Some("2".into()) });
        let last = Page::of(vec![1, 2], 2, i32::to_string);
        assert_eq!(last, Page { data: vec![1, 2], next_cursor: None });
    }
}
