//! Times on pages: `<time datetime="ISO">2026-12-07 05:30:44 UTC</time>`, readable without a
//! script; `app.js` rewrites the text to the reader's "2 min ago" with the exact local time in
//! a title.

use std::fmt;

use hookdesk_core::Timestamp;

/// A time as pages show it. Its `Display` is markup: templates write it with `|safe` (it
/// holds only digits and fixed characters), and `text()` in attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment(pub Timestamp);

impl Moment {
    /// `2026-12-07 05:30:44 UTC`: the time in UTC to the second.
    pub fn text(&self) -> String {
        let iso = self.0.to_string();
        match (iso.get(..10), iso.get(11..19)) {
            (Some(day), Some(time)) => format!("{day} {time} UTC"),
            _ => iso,
        }
    }
}

impl From<Timestamp> for Moment {
    fn from(at: Timestamp) -> Self {
        Self(at)
    }
}

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, r#"<time datetime="{}">{}</time>"#, self.0, self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moment_is_a_time_element_readable_in_utc() {
        let at = Timestamp::from_millis(1_796_621_444_123);
        assert_eq!(Moment(at).text(), "2026-12-07 05:30:44 UTC");
        assert_eq!(
            Moment(at).to_string(),
            r#"<time datetime="2026-12-07T05:30:44.123Z">2026-12-07 05:30:44 UTC</time>"#
        );
    }
}
