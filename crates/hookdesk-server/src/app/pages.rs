//! How lists are asked for: `?limit=` (default 50, at most 500) and `?cursor=`, the cursor
//! of the page before; and the time ranges logs are filtered by.

use std::str::FromStr;

use hookdesk_core::{Invalid, Timestamp};
use serde::Deserialize;
use utoipa::IntoParams;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// The longest text a search (`?q=`) looks for.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Text searches run at once, per process (see `App::search_turn`).
pub const SEARCHES_AT_ONCE: usize = 2;

/// `?limit=&cursor=` of a plain list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<u32, Invalid> {
        limit(self.limit)
    }

    /// The cursor of a list paged by integer id: the last id of the page before.
    pub fn id_cursor<Id: FromStr>(&self) -> Result<Option<Id>, Invalid> {
        id_cursor(self.cursor.as_deref())
    }
}

/// `?limit=&cursor=&q=` of a list that can be searched by name.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// Only the rows whose name holds this text, in any case (a user's email too, a webhook's
    /// endpoint too).
    pub q: Option<String>,
}

impl SearchQuery {
    pub fn page(&self) -> PageQuery {
        PageQuery { limit: self.limit, cursor: self.cursor.clone() }
    }

    /// The text searched for; none when blank.
    pub fn text(&self) -> Result<Option<&str>, Invalid> {
        search_text(self.q.as_deref())
    }
}

/// `?q=`, trimmed: none when blank, refused past [`MAX_SEARCH_CHARS`].
pub fn search_text(q: Option<&str>) -> Result<Option<&str>, Invalid> {
    let text = q.map(str::trim).filter(|q| !q.is_empty());
    if text.is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS) {
        return Err(Invalid::new("q", format!("must be at most {MAX_SEARCH_CHARS} characters")));
    }
    Ok(text)
}

/// `?limit=`: default 50, at most 500.
pub fn limit(requested: Option<u32>) -> Result<u32, Invalid> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(Invalid::new("limit", format!("must be 1 to {MAX_LIMIT}"))),
    }
}

/// `?cursor=` of a list paged by integer id (`TicketId`, `UserId`...).
pub fn id_cursor<Id: FromStr>(cursor: Option<&str>) -> Result<Option<Id>, Invalid> {
    cursor.map(|c| c.parse::<Id>().map_err(|_| Invalid::new("cursor", "is not a cursor this API returned"))).transpose()
}

/// An RFC 3339 time given as `field`.
pub fn time(field: &str, text: Option<String>) -> Result<Option<Timestamp>, Invalid> {
    text.map(|t| {
        Timestamp::parse_rfc3339(&t)
            .ok_or_else(|| Invalid::new(field, "must be an RFC 3339 time like 2026-01-31T12:00:00Z"))
    })
    .transpose()
}
