//! Shopify's filters that liquid-lib does not have, from Liquid 5: `base64_encode`,
//! `base64_decode`, their URL-safe pair, `sum`, `find`, `find_index`, `has`, `reject`,
//! `remove_last` and `replace_last`, each with Shopify's semantics.

use std::fmt;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE};
use liquid_core::model::{State, ValueViewCmp};
use liquid_core::parser::{FilterArguments, FilterParametersReflection, FilterReflection, ParameterReflection};
use liquid_core::{Display_filter, Expression, Filter, FilterParameters, FromFilterParameters, ParseFilter};
use liquid_core::{Result, Runtime, Value, ValueCow, ValueView};

/// The four base64 filters: strict (Ruby's `strict_encode64`) or URL-safe, each way.
#[derive(Debug, Clone, Copy)]
pub enum Base64 {
    Encode,
    Decode,
    UrlSafeEncode,
    UrlSafeDecode,
}

/// Ruby's `urlsafe_decode64` takes its input with or without padding.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Base64 {
    fn name(self) -> &'static str {
        match self {
            Base64::Encode => "base64_encode",
            Base64::Decode => "base64_decode",
            Base64::UrlSafeEncode => "base64_url_safe_encode",
            Base64::UrlSafeDecode => "base64_url_safe_decode",
        }
    }
}

impl FilterReflection for Base64 {
    fn name(&self) -> &str {
        Base64::name(*self)
    }

    fn description(&self) -> &str {
        match self {
            Base64::Encode => "Encodes text in base64.",
            Base64::Decode => "Decodes base64 into text.",
            Base64::UrlSafeEncode => "Encodes text in URL-safe base64 (- and _ for + and /).",
            Base64::UrlSafeDecode => "Decodes URL-safe base64 into text, padded or not.",
        }
    }

    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }

    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for Base64 {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        if arguments.positional.count() > 0 || arguments.keyword.count() > 0 {
            return Err(liquid_core::Error::with_msg(format!("{} takes no argument", self.name())));
        }
        Ok(Box::new(Base64Filter(*self)))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug)]
struct Base64Filter(Base64);

impl fmt::Display for Base64Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl Filter for Base64Filter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let input = input.to_kstr();
        let decoded = match self.0 {
            Base64::Encode => return Ok(Value::scalar(STANDARD.encode(input.as_bytes()))),
            Base64::UrlSafeEncode => return Ok(Value::scalar(URL_SAFE.encode(input.as_bytes()))),
            Base64::Decode => STANDARD.decode(input.as_bytes()),
            Base64::UrlSafeDecode => URL_SAFE_ANY_PADDING.decode(input.as_bytes()),
        };
        let name = self.0.name();
        let bytes = decoded.map_err(|_| liquid_core::Error::with_msg(format!("invalid base64 provided to {name}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| liquid_core::Error::with_msg(format!("{name}: the decoded bytes are not UTF-8 text")))?;
        Ok(Value::scalar(text))
    }
}

/// The items an array filter goes through, as Ruby's `InputIterator` has them: an array
/// flattened, a single value as itself, nil as nothing. Nil items are left out: they have no
/// property and add nothing to a sum.
fn items(input: &dyn ValueView) -> Vec<&dyn ValueView> {
    let mut found = Vec::new();
    // Iterative, so a deeply nested array cannot exhaust the stack.
    let mut open: Vec<Box<dyn Iterator<Item = &dyn ValueView> + '_>> = vec![Box::new(std::iter::once(input))];
    while let Some(level) = open.last_mut() {
        match level.next() {
            None => {
                open.pop();
            }
            Some(value) => match value.as_array() {
                Some(array) => open.push(array.values()),
                None if value.is_nil() => {}
                None => found.push(value),
            },
        }
    }
    found
}

/// What `find`, `find_index`, `has` and `reject` do with the items that match.
#[derive(Debug, Clone, Copy)]
pub enum Search {
    Find,
    FindIndex,
    Has,
    Reject,
}

#[derive(Debug, FilterParameters)]
struct SearchArgs {
    #[parameter(description = "The property of each item to look at.", arg_type = "str")]
    property: Expression,
    #[parameter(description = "The value it must equal; any truthy value when not given.", arg_type = "any")]
    target_value: Option<Expression>,
}

impl Search {
    fn name(self) -> &'static str {
        match self {
            Search::Find => "find",
            Search::FindIndex => "find_index",
            Search::Has => "has",
            Search::Reject => "reject",
        }
    }
}

impl FilterReflection for Search {
    fn name(&self) -> &str {
        Search::name(*self)
    }

    fn description(&self) -> &str {
        match self {
            Search::Find => {
                "The first item whose property equals the value (is truthy when no value is given), or nil."
            }
            Search::FindIndex => "The index of the first such item, or nil.",
            Search::Has => "Whether any item's property equals the value (is truthy when no value is given).",
            Search::Reject => "The items whose property does not equal the value (is falsy when no value is given).",
        }
    }

    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        SearchArgs::positional_parameters()
    }

    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        SearchArgs::keyword_parameters()
    }
}

impl ParseFilter for Search {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        Ok(Box::new(SearchFilter { search: *self, args: SearchArgs::from_args(arguments)? }))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug)]
struct SearchFilter {
    search: Search,
    args: SearchArgs,
}

impl fmt::Display for SearchFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.search.name(), self.args)
    }
}

/// Whether `item`'s `property` equals `target` (compared as `where` compares), or is truthy
/// when there is no target. An item that is not an object has no property.
fn matches(item: &dyn ValueView, property: &str, target: Option<&ValueCow<'_>>) -> bool {
    let Some(value) = item.as_object().and_then(|object| object.get(property)) else { return false };
    match target {
        None => value.query_state(State::Truthy),
        Some(target) => *target == ValueViewCmp::new(value),
    }
}

impl Filter for SearchFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let items = items(input);
        let mut hits = items.iter().map(|item| (*item, matches(*item, &args.property, args.target_value.as_ref())));
        Ok(match self.search {
            Search::Find => hits.find(|(_, hit)| *hit).map_or(Value::Nil, |(item, _)| item.to_value()),
            Search::FindIndex => hits.position(|(_, hit)| hit).map_or(Value::Nil, |i| Value::scalar(i as i64)),
            Search::Has => Value::scalar(hits.any(|(_, hit)| hit)),
            Search::Reject => Value::Array(hits.filter(|(_, hit)| !hit).map(|(item, _)| item.to_value()).collect()),
        })
    }
}

#[derive(Debug, FilterParameters)]
struct SumArgs {
    #[parameter(
        description = "The property of each item to add up; the items themselves when not given.",
        arg_type = "str"
    )]
    property: Option<Expression>,
}

/// `sum`: the items (or each item's property) as numbers, added up. Text that is a number
/// counts as that number, anything else as 0 (Ruby's `to_number`); a float among them makes
/// the total a float.
#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(
    name = "sum",
    description = "Adds up the items, or a property of each item.",
    parameters(SumArgs),
    parsed(SumFilter)
)]
pub struct Sum;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "sum"]
struct SumFilter {
    #[parameters]
    args: SumArgs,
}

/// A number as `sum` reads it.
enum Number {
    Integer(i64),
    Float(f64),
}

/// Ruby's `Utils.to_number`: a number as itself; text `-?digits.digits` as a float, other
/// text as its leading integer (`"12 apples"` is 12, `"apples"` 0); anything else 0.
fn to_number(value: &dyn ValueView) -> Number {
    let Some(scalar) = value.as_scalar() else { return Number::Integer(0) };
    match scalar.type_name() {
        "whole number" => return Number::Integer(scalar.to_integer().unwrap_or_default()),
        "fractional number" => return Number::Float(scalar.to_float().unwrap_or_default()),
        "string" => {}
        _ => return Number::Integer(0),
    }
    let text = scalar.to_kstr();
    let text = text.trim();
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if unsigned.split_once('.').is_some_and(|(whole, fraction)| digits(whole) && digits(fraction)) {
        return Number::Float(text.parse().unwrap_or_default());
    }
    let sign_len = usize::from(text.starts_with(['-', '+']));
    let leading = sign_len + text[sign_len..].bytes().take_while(u8::is_ascii_digit).count();
    // Ruby's to_i has no upper bound; a number beyond i64 is too large to add up here.
    Number::Integer(text[..leading].parse().unwrap_or(0))
}

impl Filter for SumFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let (mut whole, mut fractional, mut any_float) = (0i64, 0f64, false);
        for item in items(input) {
            let number = match &args.property {
                None => to_number(item),
                Some(property) => match item.as_object().and_then(|object| object.get(property)) {
                    Some(value) => to_number(value),
                    None => Number::Integer(0),
                },
            };
            match number {
                Number::Integer(i) => {
                    whole = whole
                        .checked_add(i)
                        .ok_or_else(|| liquid_core::Error::with_msg("sum: the total is too large"))?;
                }
                Number::Float(f) => {
                    fractional += f;
                    any_float = true;
                }
            }
        }
        Ok(if any_float { Value::scalar(whole as f64 + fractional) } else { Value::scalar(whole) })
    }
}

#[derive(Debug, FilterParameters)]
struct ReplaceLastArgs {
    #[parameter(description = "The text to search.", arg_type = "str")]
    search: Expression,
    #[parameter(description = "The text to put in its place.", arg_type = "str")]
    replace: Expression,
}

/// `replace_last`: the last occurrence only.
#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(
    name = "replace_last",
    description = "Replaces the last occurrence of `search` with `replace`.",
    parameters(ReplaceLastArgs),
    parsed(ReplaceLastFilter)
)]
pub struct ReplaceLast;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "replace_last"]
struct ReplaceLastFilter {
    #[parameters]
    args: ReplaceLastArgs,
}

impl Filter for ReplaceLastFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        Ok(Value::scalar(replace_last(&input.to_kstr(), &args.search, &args.replace)))
    }
}

#[derive(Debug, FilterParameters)]
struct RemoveLastArgs {
    #[parameter(description = "The text to remove.", arg_type = "str")]
    search: Expression,
}

/// `remove_last`: the last occurrence only.
#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(
    name = "remove_last",
    description = "Removes the last occurrence of `search`.",
    parameters(RemoveLastArgs),
    parsed(RemoveLastFilter)
)]
pub struct RemoveLast;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "remove_last"]
struct RemoveLastFilter {
    #[parameters]
    args: RemoveLastArgs,
}

impl Filter for RemoveLastFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        Ok(Value::scalar(replace_last(&input.to_kstr(), &args.search, "")))
    }
}

fn replace_last(input: &str, search: &str, replace: &str) -> String {
    match input.rfind(search) {
        Some(at) => [&input[..at], replace, &input[at + search.len()..]].concat(),
        None => input.to_owned(),
    }
}
