//! The filters hookdesk adds to Liquid's standard library.

use liquid_core::{Display_filter, Filter, FilterReflection, ParseFilter, Result, Runtime};
use liquid_core::{Value, ValueView};

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

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "url_encode",
    description = "Percent-encodes a value for use in a URL (the same as uri_encode).",
    parsed(UrlEncodeFilter)
)]
pub struct UrlEncode;

#[derive(Debug, Default, Display_filter)]
#[name = "url_encode"]
struct UrlEncodeFilter;

impl Filter for UrlEncodeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(percent_encode(input))
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "uri_encode",
    description = "Percent-encodes a value for use in a URL (the same as url_encode).",
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

fn liquid_to_json(value: &Value) -> serde_json::Value {
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
