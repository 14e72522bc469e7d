//! The filters hookdesk adds to Liquid's standard library, the budget every filter runs
//! under, and our `replace` and `join`, which know their output's size before making it.

use std::fmt;

use liquid_core::parser::FilterArguments;
use liquid_core::{Display_filter, Expression, Filter, FilterReflection, ParseFilter, Result, Runtime};
use liquid_core::{FilterParameters, FromFilterParameters, Value, ValueView};

use super::budget::{self, MAX_VALUE_BYTES, MAX_WORK_BYTES, size_of};

/// A filter under the render budget: what it reads and what it makes are counted, and a
/// value over the limit stops the render.
#[derive(Clone)]
pub(super) struct Bounded<F>(pub F);

impl<F: ParseFilter + Clone + 'static> ParseFilter for Bounded<F> {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        Ok(Box::new(BoundedFilter(self.0.parse(arguments)?)))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self.0.reflection()
    }
}

#[derive(Debug)]
struct BoundedFilter(Box<dyn Filter>);

impl fmt::Display for BoundedFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Filter for BoundedFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let read = size_of(input, MAX_WORK_BYTES);
        let output = self.0.evaluate(input, runtime)?;
        budget::spend_value(read, size_of(&output, MAX_VALUE_BYTES + 1))?;
        Ok(output)
    }
}

/// The impls a family of filters needs besides its evaluation: filters written as the values
/// of one enum (`Arithmetic::Plus`, `Arithmetic::Minus`...), which share their arguments
/// (`$args`), with inherent `name()` and `description()`. Each parses into
/// `$parsed { member, args }`, which the family's module evaluates.
macro_rules! filter_family {
    ($family:ty, $args:ty, $parsed:ident) => {
        impl liquid_core::parser::FilterReflection for $family {
            fn name(&self) -> &str {
                <$family>::name(*self)
            }

            fn description(&self) -> &str {
                <$family>::description(*self)
            }

            fn positional_parameters(&self) -> &'static [liquid_core::parser::ParameterReflection] {
                <$args as liquid_core::parser::FilterParametersReflection>::positional_parameters()
            }

            fn keyword_parameters(&self) -> &'static [liquid_core::parser::ParameterReflection] {
                <$args as liquid_core::parser::FilterParametersReflection>::keyword_parameters()
            }
        }

        impl liquid_core::ParseFilter for $family {
            fn parse(
                &self,
                arguments: liquid_core::parser::FilterArguments<'_>,
            ) -> liquid_core::Result<Box<dyn liquid_core::Filter>> {
                let args = <$args as liquid_core::FilterParameters>::from_args(arguments)?;
                Ok(Box::new($parsed { member: *self, args }))
            }

            fn reflection(&self) -> &dyn liquid_core::parser::FilterReflection {
                self
            }
        }

        impl std::fmt::Display for $parsed {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}: {}", self.member.name(), self.args)
            }
        }
    };
}
pub(super) use filter_family;

/// Refuses to make a value of `bytes` before making it.
fn check_size(filter: &str, bytes: u128) -> Result<()> {
    if bytes > u128::from(MAX_VALUE_BYTES) {
        budget::spend_value(0, MAX_VALUE_BYTES + 1)?;
        return Err(liquid_core::Error::with_msg(format!("{filter} would make a value over the limit")));
    }
    Ok(())
}

#[derive(Debug, FilterParameters)]
struct ReplaceArgs {
    #[parameter(description = "The text to search.", arg_type = "str")]
    search: Expression,
    #[parameter(description = "The text to put in its place (nothing when not given).", arg_type = "str")]
    replace: Option<Expression>,
}

/// Standard `replace`: replacing `""` inserts between every character, so the output can be
/// the input's size times the replacement's; it is sized first.
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(
    name = "replace",
    description = "Replaces every occurrence of `search` with `replace`.",
    parameters(ReplaceArgs),
    parsed(ReplaceFilter)
)]
pub struct Replace;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "replace"]
struct ReplaceFilter {
    #[parameters]
    args: ReplaceArgs,
}

impl Filter for ReplaceFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let input = input.to_kstr();
        let replace = args.replace.unwrap_or_else(|| "".into());
        let search = args.search.as_str();
        let found = if search.is_empty() { input.chars().count() + 1 } else { input.matches(search).count() };
        let size = input.len() as u128 + found as u128 * replace.len() as u128;
        check_size("replace", size)?;
        Ok(Value::scalar(input.replace(search, replace.as_str())))
    }
}

#[derive(Debug, FilterParameters)]
struct JoinArgs {
    #[parameter(description = "The text between items (a space when not given).", arg_type = "str")]
    separator: Option<Expression>,
}

/// Standard `join`, sized first: the separator repeats once per item.
#[derive(Clone, liquid_core::ParseFilter, FilterReflection)]
#[filter(
    name = "join",
    description = "Combines the items of an array into one text, with the separator between them.",
    parameters(JoinArgs),
    parsed(JoinFilter)
)]
pub struct Join;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "join"]
struct JoinFilter {
    #[parameters]
    args: JoinArgs,
}

impl Filter for JoinFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let separator = args.separator.unwrap_or_else(|| " ".into());
        // Ruby's: nested arrays flattened, a value alone joined as itself.
        let items = super::items::items(input);
        let size = items.iter().map(|item| item.to_kstr().len() as u128).sum::<u128>()
            + items.len() as u128 * separator.len() as u128;
        check_size("join", size)?;
        let texts: Vec<_> = items.iter().map(|item| item.to_kstr().into_owned()).collect();
        Ok(Value::scalar(texts.join(separator.as_str())))
    }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded, so the result is
/// safe in a path segment, a query value or a form field (space is `%20`).
const COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn percent_encode(input: &dyn ValueView) -> Value {
    if input.is_nil() {
        return Value::Nil;
    }
    let text = input.to_kstr();
    Value::scalar(percent_encoding::utf8_percent_encode(text.as_str(), COMPONENT).to_string())
}

/// Shopify's `url_encode` (Ruby's `CGI.escape`): as `uri_encode`, but a space is `+`, as in
/// a form's fields.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "url_encode",
    description = "Encodes a value as a form field or query value: a space is +, the rest percent-encoded.",
    parsed(UrlEncodeFilter)
)]
pub struct UrlEncode;

#[derive(Debug, Default, Display_filter)]
#[name = "url_encode"]
struct UrlEncodeFilter;

impl Filter for UrlEncodeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        // A `%20` in the output is an encoded space: a `%` of the input is `%25`.
        Ok(match percent_encode(input) {
            Value::Nil => Value::Nil,
            encoded => Value::scalar(encoded.to_kstr().replace("%20", "+")),
        })
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "uri_encode",
    description = "Percent-encodes a value for use in a URL: everything but letters, digits and -._~ (a space is %20).",
    parsed(UriEncodeFilter)
)]
pub struct UriEncode;

#[derive(Debug, Default, Display_filter)]
#[name = "uri_encode"]
struct UriEncodeFilter;

impl Filter for UriEncodeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(percent_encode(input))
    }
}

/// An endpoint's placeholder in its path or query: one segment or value, every reserved
/// character encoded (`/`, `?`, `#`, `&`, `=` included), so it cannot reshape the URL.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "url_segment",
    description = "Percent-encodes a value as one URL path segment or query value (endpoints add it).",
    parsed(UrlSegmentFilter)
)]
pub struct UrlSegment;

#[derive(Debug, Default, Display_filter)]
#[name = "url_segment"]
struct UrlSegmentFilter;

impl Filter for UrlSegmentFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(percent_encode(input))
    }
}

/// An endpoint's placeholder in its host: it must render letters, digits, `-` and `.` only.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "url_host",
    description = "Checks that a value can be part of a host name (endpoints add it).",
    parsed(UrlHostFilter)
)]
pub struct UrlHost;

#[derive(Debug, Default, Display_filter)]
#[name = "url_host"]
struct UrlHostFilter;

impl Filter for UrlHostFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let text = input.to_kstr();
        if text.is_empty() || !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return Err(liquid_core::Error::with_msg(format!(
                "a placeholder in the endpoint's host rendered {:?}, which is not part of a host name",
                crate::text::cut(text.as_str(), 64)
            )));
        }
        Ok(Value::scalar(text.into_owned()))
    }
}

/// Asks for an endpoint's placeholder to be left as it renders (a whole path, on purpose);
/// elsewhere it changes nothing.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(name = "raw", description = "The value as it is: in an endpoint, not encoded.", parsed(RawFilter))]
pub struct Raw;

#[derive(Debug, Default, Display_filter)]
#[name = "raw"]
struct RawFilter;

impl Filter for RawFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(input.to_value())
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "json",
    description = "The value as a JSON literal: strings quoted and escaped, nil as null.",
    parsed(JsonFilter)
)]
pub struct Json;

#[derive(Debug, Default, Display_filter)]
#[name = "json"]
struct JsonFilter;

impl Filter for JsonFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let text = serde_json::to_string(&liquid_to_json(&input.to_value()))
            .map_err(|e| liquid_core::Error::with_msg(e.to_string()))?;
        Ok(Value::scalar(text))
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "json_pretty",
    description = "The value as indented JSON (two spaces), nil as null.",
    parsed(JsonPrettyFilter)
)]
pub struct JsonPretty;

#[derive(Debug, Default, Display_filter)]
#[name = "json_pretty"]
struct JsonPrettyFilter;

impl Filter for JsonPrettyFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let text = serde_json::to_string_pretty(&liquid_to_json(&input.to_value()))
            .map_err(|e| liquid_core::Error::with_msg(e.to_string()))?;
        Ok(Value::scalar(text))
    }
}

/// Lets a template build a JSON document in a `capture` and pass it on as a value (to
/// `json_pretty`, for example): Liquid has no object literals. Text that is not JSON is nil.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(name = "parse_json", description = "Parses text as JSON; nil when it is not JSON.", parsed(ParseJsonFilter))]
pub struct ParseJson;

#[derive(Debug, Default, Display_filter)]
#[name = "parse_json"]
struct ParseJsonFilter;

impl Filter for ParseJsonFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let text = input.to_kstr();
        Ok(serde_json::from_str::<serde_json::Value>(text.as_str()).map_or(Value::Nil, |v| super::json_to_liquid(&v)))
    }
}

pub(super) fn liquid_to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Nil | Value::State(_) => J::Null,
        Value::Array(items) => J::Array(items.iter().map(liquid_to_json).collect()),
        Value::Object(map) => {
            // Liquid's objects are hash maps: sorting the keys makes the output the same on
            // every render.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            J::Object(entries.into_iter().map(|(k, v)| (k.to_string(), liquid_to_json(v))).collect())
        }
        Value::Scalar(s) => match s.type_name() {
            "boolean" => s.to_bool().map_or(J::Null, J::Bool),
            "whole number" => s.to_integer().map_or(J::Null, J::from),
            "fractional number" => s.to_float().and_then(serde_json::Number::from_f64).map_or(J::Null, J::Number),
            _ => J::String(s.to_kstr().to_string()),
        },
    }
}
