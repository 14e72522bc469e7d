//! Instants as milliseconds since the Unix epoch, shown as RFC 3339 UTC, and the clock that
//! reads them: the system's, or one a test moves forward.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A UTC instant with millisecond precision. The core's logic reads no clock: callers pass
/// `Timestamp`s in, from a [`Clock`] or [`Timestamp::now`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Now, by the system's clock. The delivery queue always runs on it.
    pub fn now() -> Self {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Self(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    #[must_use]
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok().map(Self)
    }

    /// Parses an HTTP-date (RFC 9110 IMF-fixdate), as `Retry-After` may carry.
    pub fn parse_http_date(text: &str) -> Option<Self> {
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let at = time::PrimitiveDateTime::parse(text.trim(), &format).ok()?.assume_utc();
        Some(Self(at.unix_timestamp() * 1000))
    }

    fn to_offset(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Always three fraction digits, so times sort as text and line up in logs.
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        let text = self.to_offset().format(&format).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 date-time"))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

/// The clock tickets and automations read: the system's, or one a test moves forward, so
/// automations that wait hours can be tested in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system time; `None` for the plain system clock.
    skew: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that [`Clock::advance`] moves forward.
    pub fn adjustable() -> Self {
        Self { skew: Some(Arc::default()) }
    }

    /// Moves an adjustable clock (and every clone of it) forward; no effect on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(skew) = &self.skew {
            skew.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::Relaxed);
        }
    }

    pub fn now(&self) -> Timestamp {
        let skew = self.skew.as_ref().map_or(0, |s| s.load(Ordering::Relaxed));
        Timestamp::now().plus_millis(skew)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_millis() {
        let t = Timestamp::parse_rfc3339("2026-11-23T01:02:03.456Z").expect("parses");
        assert_eq!(t.to_string(), "2026-11-23T01:02:03.456Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t));
    }

    #[test]
    fn http_date_parses() {
        let t = Timestamp::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").expect("parses");
        assert_eq!(t.to_string(), "2015-10-21T07:28:00.000Z");
        assert_eq!(Timestamp::parse_http_date("yesterday"), None);
    }
}
