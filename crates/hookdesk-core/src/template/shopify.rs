//! Standard filters as Shopify's Liquid has them, where liquid-lib's differ: `default` takes
//! `allow_false`, `capitalize` lowers the rest, `size`, `truncate` and `slice` count
//! characters, `truncatewords` splits at any whitespace, `split` splits on `""` into
//! characters and on `" "` as Ruby's does, and `date` reads the times hookdesk's templates
//! hold (RFC 3339 strings), e-mail dates, Unix timestamps and other common forms, and shows
//! them in the server's time zone.

use std::sync::OnceLock;

use jiff::civil::{Date as CivilDate, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use liquid_core::{Display_filter, Expression, Filter, FilterParameters, FilterReflection, FromFilterParameters};
use liquid_core::{Result, Runtime, Value, ValueView};

/// The time zone `date` shows times in: set once at start (`--timezone`), UTC until then.
static TIME_ZONE: OnceLock<TimeZone> = OnceLock::new();

/// Sets the time zone of rendered dates, from an IANA name (`Europe/Paris`), `UTC`, or a
/// fixed offset (`+02:00`). It is the process's setting: once set, another zone is refused.
pub fn set_time_zone(name: &str) -> std::result::Result<(), String> {
    let zone = time_zone(name)?;
    let set = TIME_ZONE.get_or_init(|| zone.clone());
    if *set != zone {
        return Err(format!("dates are already shown in another time zone in this process; {name:?} is not used"));
    }
    Ok(())
}

/// The time zone `name` names, or why it names none.
pub fn time_zone(name: &str) -> std::result::Result<TimeZone, String> {
    let name = name.trim();
    let offset = ["%:z", "%z"].iter().find_map(|format| jiff::fmt::strtime::parse(format, name).ok()?.offset());
    if let Some(offset) = offset {
        return Ok(TimeZone::fixed(offset));
    }
    TimeZone::get(name).map_err(|_| {
        format!("{name:?} is not a time zone: give an IANA name (Europe/Paris, America/New_York), UTC, or an offset (+02:00)")
    })
}

fn zone() -> TimeZone {
    TIME_ZONE.get().cloned().unwrap_or(TimeZone::UTC)
}

#[derive(Debug, FilterParameters)]
struct DefaultArgs {
    #[parameter(description = "The value instead (nothing when not given).")]
    default: Option<Expression>,
    #[parameter(
        description = "Whether `false` is kept (only nil and empty are replaced).",
        arg_type = "any",
        mode = "keyword"
    )]
    allow_false: Option<Expression>,
}

/// `default` as Shopify's, with its `allow_false` keyword: the value instead of nil, false
/// (unless `allow_false: true`), or an empty text, list or object.
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(
    name = "default",
    description = "A value instead of nil, false or an empty one.",
    parameters(DefaultArgs),
    parsed(DefaultFilter)
)]
pub struct Default;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "default"]
struct DefaultFilter {
    #[parameters]
    args: DefaultArgs,
}

impl Filter for DefaultFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let is_false = input.as_scalar().and_then(|s| s.to_bool()) == Some(false);
        let allow_false = args.allow_false.is_some_and(|v| v.query_state(liquid_core::model::State::Truthy));
        let replaced = if allow_false {
            input.is_nil() || (!is_false && input.query_state(liquid_core::model::State::DefaultValue))
        } else {
            input.query_state(liquid_core::model::State::DefaultValue)
        };
        Ok(match (replaced, args.default) {
            (true, Some(default)) => default.to_value(),
            (true, None) => Value::scalar(""),
            (false, _) => input.to_value(),
        })
    }
}

/// `capitalize` as Ruby's: the first character upper case, the rest lower case.
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(
    name = "capitalize",
    description = "The first character in upper case, the others in lower case.",
    parsed(CapitalizeFilter)
)]
pub struct Capitalize;

#[derive(Debug, Default, Display_filter)]
#[name = "capitalize"]
struct CapitalizeFilter;

impl Filter for CapitalizeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let text = input.to_kstr();
        let mut chars = text.chars();
        let capitalized = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars.as_str().to_lowercase().chars()).collect::<String>(),
            None => String::new(),
        };
        Ok(Value::scalar(capitalized))
    }
}

/// `size` as Ruby's: a list's or an object's items, a text's characters (liquid-lib counted
/// its bytes); a number's digits, as liquid-lib (Ruby says 8, a machine word's bytes).
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(name = "size", description = "How many items a list or object has, or characters a text.", parsed(SizeFilter))]
pub struct Size;

#[derive(Debug, Default, Display_filter)]
#[name = "size"]
struct SizeFilter;

impl Filter for SizeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let size = if let Some(array) = input.as_array() {
            array.size()
        } else if let Some(object) = input.as_object() {
            object.size()
        } else if input.is_nil() {
            0
        } else {
            // A number's digits, as its `.size` counts them.
            input.to_kstr().chars().count() as i64
        };
        Ok(Value::scalar(size))
    }
}

#[derive(Debug, FilterParameters)]
struct TruncateArgs {
    #[parameter(description = "How many characters, the ellipsis included (50 when not given).", arg_type = "integer")]
    length: Option<Expression>,
    #[parameter(description = "What ends a cut text (`...` when not given).", arg_type = "str")]
    ellipsis: Option<Expression>,
}

/// `truncate` as Ruby's: lengths in characters, the ellipsis's included (liquid-lib counted
/// the ellipsis in bytes, so `…` took three).
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(
    name = "truncate",
    description = "A text cut to a length, the ellipsis included.",
    parameters(TruncateArgs),
    parsed(TruncateFilter)
)]
pub struct Truncate;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "truncate"]
struct TruncateFilter {
    #[parameters]
    args: TruncateArgs,
}

impl Filter for TruncateFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        if input.is_nil() {
            return Ok(Value::Nil);
        }
        let text = input.to_kstr();
        let length = args.length.unwrap_or(50);
        let ellipsis = args.ellipsis.as_deref().unwrap_or("...");
        if i64::try_from(text.chars().count()).unwrap_or(i64::MAX) <= length {
            return Ok(Value::scalar(text.into_owned()));
        }
        let kept = length.saturating_sub(i64::try_from(ellipsis.chars().count()).unwrap_or(i64::MAX)).max(0);
        let kept = usize::try_from(kept).unwrap_or(usize::MAX);
        Ok(Value::scalar(text.chars().take(kept).chain(ellipsis.chars()).collect::<String>()))
    }
}

#[derive(Debug, FilterParameters)]
struct TruncateWordsArgs {
    #[parameter(description = "How many words to keep (15 when not given; at least 1).", arg_type = "integer")]
    words: Option<Expression>,
    #[parameter(description = "What ends a cut text (`...` when not given).", arg_type = "str")]
    ellipsis: Option<Expression>,
}

/// `truncatewords` as Ruby's: words are separated by any run of whitespace (a line break
/// too), at least one word is kept, and a text short enough is left as it is.
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(
    name = "truncatewords",
    description = "The first words of a text, and an ellipsis when there were more.",
    parameters(TruncateWordsArgs),
    parsed(TruncateWordsFilter)
)]
pub struct TruncateWords;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "truncatewords"]
struct TruncateWordsFilter {
    #[parameters]
    args: TruncateWordsArgs,
}

impl Filter for TruncateWordsFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        if input.is_nil() {
            return Ok(Value::Nil);
        }
        let text = input.to_kstr();
        let words = usize::try_from(args.words.unwrap_or(15).max(1)).unwrap_or(usize::MAX);
        let kept: Vec<&str> = text.split_whitespace().take(words.saturating_add(1)).collect();
        if kept.len() <= words {
            return Ok(Value::scalar(text.into_owned()));
        }
        let ellipsis = args.ellipsis.as_deref().unwrap_or("...");
        Ok(Value::scalar(format!("{}{ellipsis}", kept[..words].join(" "))))
    }
}

#[derive(Debug, FilterParameters)]
struct SliceArgs {
    #[parameter(description = "Where to start: from the end when negative.", arg_type = "integer")]
    offset: Expression,
    #[parameter(description = "How many characters or items (1 when not given or nil).")]
    length: Option<Expression>,
}

/// `slice` as Ruby's: in characters (liquid-lib counted a negative offset in bytes), empty
/// where Ruby gives nil (an offset outside, a length below 1), never an overflow.
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(
    name = "slice",
    description = "The characters of a text, or the items of an array, from an offset.",
    parameters(SliceArgs),
    parsed(SliceFilter)
)]
pub struct Slice;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "slice"]
struct SliceFilter {
    #[parameters]
    args: SliceArgs,
}

/// The range Ruby's `slice(offset, length)` takes of `size` things, if any.
fn slice_range(offset: i64, length: i64, size: usize) -> std::ops::Range<usize> {
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let start = if offset < 0 { offset.saturating_add(size) } else { offset };
    if start < 0 || start > size || length < 1 {
        return 0..0;
    }
    let end = start.saturating_add(length).min(size);
    start as usize..end as usize
}

impl Filter for SliceFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        // Nil (an undefined variable) is 1, as Ruby's `length ||= 1`; else a whole number.
        let length = match args.length.filter(|length| !length.is_nil()) {
            None => 1,
            Some(length) => length.as_scalar().and_then(|s| s.to_integer()).ok_or_else(|| {
                liquid_core::Error::with_msg(format!("slice: the length {} is not a whole number", length.source()))
            })?,
        };
        if let Some(array) = input.as_array() {
            let range = slice_range(args.offset, length, array.size() as usize);
            return Ok(Value::Array(
                array.values().skip(range.start).take(range.len()).map(|v| v.to_value()).collect(),
            ));
        }
        let text = input.to_kstr();
        let range = slice_range(args.offset, length, text.chars().count());
        Ok(Value::scalar(text.chars().skip(range.start).take(range.len()).collect::<String>()))
    }
}

#[derive(Debug, FilterParameters)]
struct SplitArgs {
    #[parameter(description = "The separator; empty splits into characters.", arg_type = "str")]
    pattern: Expression,
}

/// `split`: on `""` into characters, on `" "` at runs of whitespace (leading whitespace
/// ignored); trailing empty items dropped: Ruby's `split`.
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(
    name = "split",
    description = "Divides a string into an array at each separator (into characters when it is empty).",
    parameters(SplitArgs),
    parsed(SplitFilter)
)]
pub struct Split;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "split"]
struct SplitFilter {
    #[parameters]
    args: SplitArgs,
}

impl Filter for SplitFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let input = input.to_kstr();
        let pattern = args.pattern.as_str();
        let mut parts: Vec<Value> = if pattern.is_empty() {
            input.chars().map(|c| Value::scalar(c.to_string())).collect()
        } else if pattern == " " {
            input.split_whitespace().map(|s| Value::scalar(s.to_owned())).collect()
        } else {
            input.split(pattern).map(|s| Value::scalar(s.to_owned())).collect()
        };
        while parts.last().is_some_and(|last| last.to_kstr().is_empty()) {
            parts.pop();
        }
        Ok(Value::Array(parts))
    }
}

#[derive(Debug, FilterParameters)]
struct DateArgs {
    #[parameter(description = "The strftime format (`%Y-%m-%d`, `%b %-d`...).", arg_type = "str")]
    format: Expression,
}

/// `date`: a time (RFC 3339 or ISO 8601 text, a Unix timestamp, `now`, `today`) formatted
/// with strftime directives, in the server's time zone. What is not a time is left as it is.
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(
    name = "date",
    description = "Formats a time with strftime directives, in the server's time zone.",
    parameters(DateArgs),
    parsed(DateFilter)
)]
pub struct Date;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "date"]
struct DateFilter {
    #[parameters]
    args: DateArgs,
}

impl Filter for DateFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let format = args.format.as_str();
        let Some(time) = read_time(input) else { return Ok(input.to_value()) };
        if format.is_empty() {
            return Ok(input.to_value());
        }
        // A directive makes at most a few dozen bytes: a format is bounded before it is used.
        if format.len() > MAX_FORMAT_BYTES {
            return Err(liquid_core::Error::with_msg(format!("date: a format is {MAX_FORMAT_BYTES} bytes at most")));
        }
        let format = rubys_directives(format);
        jiff::fmt::strtime::format(format.as_str(), &time).map(Value::scalar).map_err(|e| {
            liquid_core::Error::with_msg(format!("date: the format {:?} is not one it can use: {e}", args.format))
        })
    }
}

const MAX_FORMAT_BYTES: usize = 1024;

/// `format` with Ruby's directives whose layout or meaning jiff's differ written out: `%c`,
/// `%x`, `%X`, `%r` (jiff's follow a locale of its own) and `%L` (milliseconds; jiff has no
/// `%L`). `%%c` is a `%` then a `c`, left alone.
fn rubys_directives(format: &str) -> String {
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('c') => out.push_str("%a %b %e %H:%M:%S %Y"),
            Some('x') => out.push_str("%m/%d/%y"),
            Some('X') => out.push_str("%H:%M:%S"),
            Some('r') => out.push_str("%I:%M:%S %p"),
            Some('L') => out.push_str("%3f"),
            Some(next) => {
                out.push('%');
                out.push(next);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Dates `read_time` also reads, in the server's zone (besides RFC 3339, ISO 8601 and RFC 2822).
const OTHER_FORMS: [&str; 10] = [
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y %H:%M",
];

/// The time `input` holds, in the server's zone; `None` when it holds none.
fn read_time(input: &dyn ValueView) -> Option<Zoned> {
    let zone = zone();
    if input.is_nil() {
        return None;
    }
    // A number, or text of digits only (no sign, as Ruby's `/\A\d+\z/`): a Unix timestamp.
    if let Some(scalar) = input.as_scalar() {
        let text = (scalar.type_name() == "string").then(|| scalar.to_kstr());
        let timestamp = text.as_ref().is_none_or(|text| text.bytes().all(|b| b.is_ascii_digit()));
        if let Some(seconds) = scalar.to_integer().filter(|_| timestamp) {
            return Timestamp::from_second(seconds).ok().map(|t| t.to_zoned(zone));
        }
        if let Some(seconds) = scalar.to_float().filter(|s| timestamp && s.is_finite()) {
            let nanos = (seconds * 1e9).round();
            return (nanos.abs() < 1e27)
                .then(|| Timestamp::from_nanosecond(nanos as i128).ok())
                .flatten()
                .map(|t| t.to_zoned(zone));
        }
    }
    let text = input.to_kstr();
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") || text.eq_ignore_ascii_case("today") {
        return Some(Timestamp::now().to_zoned(zone));
    }
    if text.is_empty() {
        return None;
    }
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Some(instant.to_zoned(zone));
    }
    // liquid's own times print as `2026-03-04 05:06:07 +0000`.
    if let Ok(zoned) = jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", text).and_then(|t| t.to_timestamp()) {
        return Some(zoned.to_zoned(zone));
    }
    // E-mail dates (RFC 2822), as inbound payloads from mail systems carry them.
    if let Ok(zoned) = jiff::fmt::rfc2822::parse(text) {
        return Some(zoned.timestamp().to_zoned(zone));
    }
    // A few more of the forms Ruby's `Time.parse` reads: `2026/03/04`, `March 4, 2026`,
    // `4 Mar 2026`, with or without a time.
    // A year of four digits only: `%Y` would read `1/2/3` as the year 1.
    for format in OTHER_FORMS {
        if let Ok(civil) = jiff::fmt::strtime::parse(format, text).and_then(|t| t.to_datetime())
            && (1000..=9999).contains(&civil.year())
        {
            return civil.to_zoned(zone).ok();
        }
    }
    // Without an offset, a time is the server zone's.
    let civil = text
        .parse::<DateTime>()
        .ok()
        .or_else(|| jiff::fmt::strtime::parse("%Y-%m-%d %H:%M", text).and_then(|t| t.to_datetime()).ok())
        .or_else(|| text.parse::<CivilDate>().ok().map(|d| d.to_datetime(jiff::civil::Time::midnight())))?;
    civil.to_zoned(zone).ok()
}
