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

    /// The page cut after the item that brings its JSON past `max_bytes` (at least one item
    /// stays): a page of fifty large items must not make a response of hundreds of
    /// megabytes. A cut page's next one follows on from its last item, with `cursor`.
    pub fn within_bytes(mut self, max_bytes: usize, cursor: impl Fn(&T) -> String) -> Self
    where
        T: serde::Serialize,
    {
        let mut bytes = 0;
        let keep = self
            .data
            .iter()
            .take_while(|item| {
                bytes += serde_json::to_vec(item).map_or(0, |json| json.len());
                bytes <= max_bytes
            })
            .count()
            .max(1);
        if keep < self.data.len() {
            self.data.truncate(keep);
            self.next_cursor = self.data.last().map(cursor);
        }
        self
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
        let cut = Page::of(vec!["a".repeat(10), "b".repeat(10), "c".repeat(10)], 5, String::clone)
            .within_bytes(25, |s| s[..1].into());
        assert_eq!((cut.data.len(), cut.next_cursor.as_deref()), (2, Some("b")));
        let one = Page::of(vec!["a".repeat(100)], 5, String::clone).within_bytes(10, |s| s[..1].into());
        assert_eq!((one.data.len(), one.next_cursor), (1, None), "one item stays, however large");
    }
}
