//! Pages of a list the app reads whole (rules, macros, inbound webhooks: their titles only, a
//! few hundred at most): `?page=N`, numbered from 1, `PER_PAGE` rows each.

use super::PER_PAGE;

/// Where a page stands, and the links to its neighbours (with the list's other filters kept).
pub struct Pager {
    pub page: usize,
    pub pages: usize,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// `?q=&page=` of a list searched by title or name.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NameFilter {
    #[serde(default)]
    pub q: String,
    pub page: Option<usize>,
}

impl NameFilter {
    /// Whether `name` holds the text searched for (any case).
    pub fn matches(&self, name: &str) -> bool {
        let needle = self.q.trim().to_lowercase();
        needle.is_empty() || name.to_lowercase().contains(&needle)
    }

    /// The page asked for of the rows that match, `base` the list's URL.
    pub fn page<T>(&self, rows: Vec<T>, base: &str) -> (Vec<T>, Pager) {
        page_of(rows, self.page, |n| link(base, &[("q", self.q.as_str())], n))
    }
}

/// Page `page` of `rows` (the last one when past the end); `link(n)` is page n's URL.
pub fn page_of<T>(rows: Vec<T>, page: Option<usize>, link: impl Fn(usize) -> String) -> (Vec<T>, Pager) {
    let per_page = PER_PAGE as usize;
    let pages = rows.len().div_ceil(per_page).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let shown = rows.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let previous = (page > 1).then(|| link(page - 1));
    let next = (page < pages).then(|| link(page + 1));
    (shown, Pager { page, pages, previous, next })
}

/// `base?q=...&page=n`, with the filters given (blank ones left out).
pub fn link(base: &str, filters: &[(&str, &str)], page: usize) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in filters.iter().filter(|(_, value)| !value.is_empty()) {
        query.append_pair(key, value);
    }
    query.append_pair("page", &page.to_string());
    format!("{base}?{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hold_per_page_rows_and_link_their_neighbours() {
        let rows: Vec<usize> = (0..250).collect();
        let (shown, pager) = page_of(rows.clone(), Some(2), |n| link("/ui/macros", &[("q", "a b")], n));
        assert_eq!(shown.first(), Some(&100));
        assert_eq!(shown.len(), 100);
        assert_eq!((pager.page, pager.pages), (2, 3));
        assert_eq!(pager.previous.as_deref(), Some("/ui/macros?q=a+b&page=1"));
        assert_eq!(pager.next.as_deref(), Some("/ui/macros?q=a+b&page=3"));
        let (last, pager) = page_of(rows, Some(99), |n| link("/ui/macros", &[("q", "")], n));
        assert_eq!((last.len(), pager.page, pager.next), (50, 3, None));
        let (none, pager) = page_of(Vec::<u8>::new(), None, |n| link("/x", &[], n));
        assert!(none.is_empty() && pager.pages == 1 && pager.previous.is_none());
    }
}
