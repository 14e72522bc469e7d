//! The array filters as Shopify's Liquid 5 has them, over Ruby's `InputIterator` (arrays
//! flattened, a value alone as a list of itself): those that pick items by a property (its
//! `filter_array`: `where`, `reject`, `find`, `find_index`, `has`), `map`, `reverse`,
//! `uniq` and `sum`. liquid-lib had `where`, `map` and `reverse`, which refused text and nested arrays,
//! and dropped the nils `map` gives for a missing property.

use liquid_core::model::{State, ValueViewCmp};
use liquid_core::{Display_filter, Expression, Filter, FilterParameters, FromFilterParameters};
use liquid_core::{Result, Runtime, Value, ValueCow, ValueView};

use super::arithmetic::{RubyNumber, to_number};
use super::decimal::Decimal;
use super::filters::filter_family;

/// The items an array filter goes through, as Ruby's `InputIterator` has them: an array
/// flattened, nil as nothing, any other value as a list of itself.
pub(super) fn items(input: &dyn ValueView) -> Vec<&dyn ValueView> {
    let mut found = Vec::new();
    if input.is_nil() {
        return found;
    }
    // Iterative, so a deeply nested array cannot exhaust the stack.
    let mut open: Vec<Box<dyn Iterator<Item = &dyn ValueView> + '_>> = vec![Box::new(std::iter::once(input))];
    while let Some(level) = open.last_mut() {
        match level.next() {
            None => {
                open.pop();
            }
            Some(value) => match value.as_array() {
                Some(array) => open.push(array.values()),
                None => found.push(value),
            },
        }
    }
    found
}

/// An item's property as Ruby's `item[property]` reads it.
enum Property<'v> {
    /// An object's value (nil when it has no such key).
    Value(Option<&'v dyn ValueView>),
    /// Text indexed by text: the property itself when the text contains it (`String#[]`).
    Within(bool),
    /// Nil, true or false, or a float: no `[]` at all, so the whole filter gives nil.
    Unreadable,
    /// An integer indexed by text: a type error.
    Refused,
}

fn property_of<'v>(item: &'v dyn ValueView, property: &str) -> Property<'v> {
    if let Some(object) = item.as_object() {
        return Property::Value(object.get(property));
    }
    match item.as_scalar().map(|scalar| scalar.type_name()) {
        Some("string") => Property::Within(item.to_kstr().contains(property)),
        Some("whole number") => Property::Refused,
        _ => Property::Unreadable,
    }
}

/// What `where`, `reject`, `find`, `find_index` and `has` do with the items that match.
#[derive(Debug, Clone, Copy)]
pub enum Search {
    Where,
    Reject,
    Find,
    FindIndex,
    Has,
}

#[derive(Debug, FilterParameters)]
struct SearchArgs {
    #[parameter(description = "The property of each item to look at.", arg_type = "str")]
    property: Expression,
    #[parameter(description = "The value it must equal; any truthy value when not given or nil.", arg_type = "any")]
    target_value: Option<Expression>,
}

impl Search {
    fn name(self) -> &'static str {
        match self {
            Search::Where => "where",
            Search::Reject => "reject",
            Search::Find => "find",
            Search::FindIndex => "find_index",
            Search::Has => "has",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Search::Where => "The items whose property equals the value (is truthy when no value is given).",
            Search::Reject => "The items whose property does not equal the value (is falsy when no value is given).",
            Search::Find => {
                "The first item whose property equals the value (is truthy when no value is given), or nil."
            }
            Search::FindIndex => "The index of the first such item, or nil.",
            Search::Has => "Whether any item's property equals the value (is truthy when no value is given).",
        }
    }
}

filter_family!(Search, SearchArgs, SearchFilter);

#[derive(Debug)]
struct SearchFilter {
    member: Search,
    args: SearchArgs,
}

/// Whether the property read is the target (`==`, a boolean equal only to a boolean), or is
/// truthy when there is no target.
fn matches(property: &Property<'_>, name: &str, target: Option<&ValueCow<'_>>) -> bool {
    match (property, target) {
        (Property::Value(None), None) | (Property::Within(false), _) => false,
        (Property::Value(Some(value)), None) => value.query_state(State::Truthy),
        (Property::Value(None), Some(_)) => false,
        (Property::Value(Some(value)), Some(target)) => *target == ValueViewCmp::new(*value),
        (Property::Within(true), None) => true,
        (Property::Within(true), Some(target)) => {
            target.as_scalar().is_some_and(|t| t.to_kstr() == name) && target.type_name() == "string"
        }
        (Property::Unreadable | Property::Refused, _) => false,
    }
}

impl Filter for SearchFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let name: &str = &args.property;
        // Ruby's `target_value.nil?`: a nil target asks for a truthy property.
        let target = args.target_value.as_ref().filter(|target| !target.is_nil());
        let items = items(input);
        if items.is_empty() {
            return Ok(match self.member {
                Search::Where | Search::Reject => Value::Array(vec![]),
                Search::Find | Search::FindIndex => Value::Nil,
                Search::Has => Value::scalar(false),
            });
        }
        let mut hits = Vec::with_capacity(items.len());
        for item in &items {
            match property_of(*item, name) {
                Property::Unreadable => return Ok(Value::Nil),
                Property::Refused => {
                    return Err(liquid_core::Error::with_msg(format!("cannot select the property '{name}'")));
                }
                property => hits.push(matches(&property, name, target)),
            }
        }
        let mut found = items.iter().zip(hits);
        Ok(match self.member {
            Search::Where => Value::Array(found.filter(|(_, hit)| *hit).map(|(item, _)| item.to_value()).collect()),
            Search::Reject => Value::Array(found.filter(|(_, hit)| !hit).map(|(item, _)| item.to_value()).collect()),
            Search::Find => found.find(|(_, hit)| *hit).map_or(Value::Nil, |(item, _)| item.to_value()),
            Search::FindIndex => found.position(|(_, hit)| hit).map_or(Value::Nil, |i| Value::scalar(i as i64)),
            Search::Has => Value::scalar(found.any(|(_, hit)| hit)),
        })
    }
}

/// The optional argument of `sum` and `uniq`.
#[derive(Debug, FilterParameters)]
struct PropertyArgs {
    #[parameter(
        description = "The property of each item to use; the items themselves when not given.",
        arg_type = "str"
    )]
    property: Option<Expression>,
}

/// `sum`: the items (or each item's property) as numbers, added up as Ruby's `BigDecimal`s
/// (`0.1` and `0.2` make `0.3`). Text that is a number counts as that number, other text as
/// its leading integer, anything else as 0 (Ruby's `to_number`); a float among them makes
/// the total a float.
#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(
    name = "sum",
    description = "Adds up the items, or a property of each item.",
    parameters(PropertyArgs),
    parsed(SumFilter)
)]
pub struct Sum;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "sum"]
struct SumFilter {
    #[parameters]
    args: PropertyArgs,
}

const TOO_LARGE: &str = "sum: the total is too large";

impl Filter for SumFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let mut values = Vec::new();
        for item in items(input) {
            let Some(name) = &args.property else {
                values.push(item);
                continue;
            };
            match property_of(item, name) {
                Property::Value(Some(value)) => values.extend(items(value)),
                Property::Refused => {
                    return Err(liquid_core::Error::with_msg(format!("cannot select the property '{name}'")));
                }
                // Text holding the property gives the property's name, which is not a number.
                Property::Value(None) | Property::Within(_) | Property::Unreadable => {}
            }
        }
        let too_large = || liquid_core::Error::with_msg(TOO_LARGE);
        let (mut whole, mut exact, mut approximate, mut any_float) = (0i128, Some(Decimal::ZERO), 0f64, false);
        for value in values {
            super::arithmetic::refuse_unless_number(value)?;
            match to_number(value).ok_or_else(too_large)? {
                RubyNumber::Integer(i) => whole = whole.checked_add(i).ok_or_else(too_large)?,
                RubyNumber::Float(decimal, float) => {
                    any_float = true;
                    exact = exact.zip(decimal).and_then(|(sum, d)| sum.plus(d));
                    approximate += float;
                }
            }
        }
        if !any_float {
            return i64::try_from(whole).map(Value::scalar).map_err(|_| too_large());
        }
        Ok(Value::scalar(match exact.zip(Some(Decimal::integer(whole))).and_then(|(sum, whole)| sum.plus(whole)) {
            Some(total) => total.to_f64(),
            None => approximate + whole as f64,
        }))
    }
}

#[derive(Debug, FilterParameters)]
struct MapArgs {
    #[parameter(description = "The property to take from each item.", arg_type = "str")]
    property: Expression,
}

/// `map`: each item's property, nil where it has none (so `map` keeps the list's length).
#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(name = "map", description = "Each item's property.", parameters(MapArgs), parsed(MapFilter))]
pub struct Map;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "map"]
struct MapFilter {
    #[parameters]
    args: MapArgs,
}

impl Filter for MapFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let name: &str = &args.property;
        let mut mapped = Vec::new();
        for item in items(input) {
            mapped.push(match property_of(item, name) {
                Property::Value(value) => value.map_or(Value::Nil, |v| v.to_value()),
                Property::Within(true) => Value::scalar(name.to_owned()),
                Property::Within(false) | Property::Unreadable => Value::Nil,
                Property::Refused => {
                    return Err(liquid_core::Error::with_msg(format!("cannot select the property '{name}'")));
                }
            });
        }
        Ok(Value::Array(mapped))
    }
}

/// `first` and `last` as Ruby's (`array.first if array.respond_to?(:first)`): a list's first
/// or last item; a hash's first pair (`[key, value]`), it has no last; anything else, nil
/// (a text is no list of characters there, nil is nothing).
#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(name = "first", description = "The first item of a list (a hash's first pair).", parsed(FirstFilter))]
pub struct First;

#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(name = "last", description = "The last item of a list.", parsed(LastFilter))]
pub struct Last;

#[derive(Debug, Default, Display_filter)]
#[name = "first"]
struct FirstFilter;

#[derive(Debug, Default, Display_filter)]
#[name = "last"]
struct LastFilter;

impl Filter for FirstFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        if let Some(list) = input.as_array() {
            return Ok(list.first().map_or(Value::Nil, |item| item.to_value()));
        }
        if let Some(hash) = input.as_object() {
            let pair = hash.iter().next().map(|(key, value)| vec![Value::scalar(key.into_owned()), value.to_value()]);
            return Ok(pair.map_or(Value::Nil, Value::Array));
        }
        refuse_unless_list(input, "first")?;
        Ok(Value::Nil)
    }
}

impl Filter for LastFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        if input.as_object().is_none() {
            refuse_unless_list(input, "last")?;
        }
        Ok(input.as_array().and_then(|list| list.last().map(|item| item.to_value())).unwrap_or(Value::Nil))
    }
}

/// In a strict render, a text, number or boolean given to `filter`, which takes a list: an
/// error, where a lax render gives nil as Ruby does.
fn refuse_unless_list(input: &dyn ValueView, filter: &str) -> Result<()> {
    if super::budget::strict() && input.as_array().is_none() && !input.is_nil() {
        return Err(liquid_core::Error::with_msg(format!(
            "`{filter}` takes a list, not {} (the template mode is strict)",
            input.source()
        )));
    }
    Ok(())
}

/// `reverse`: the items in reverse order (a text alone is a list of itself, as in Ruby).
#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(name = "reverse", description = "The items in reverse order.", parsed(ReverseFilter))]
pub struct Reverse;

#[derive(Debug, Default, Display_filter)]
#[name = "reverse"]
struct ReverseFilter;

impl Filter for ReverseFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(Value::Array(items(input).into_iter().rev().map(|item| item.to_value()).collect()))
    }
}

/// Standard `uniq` in linear time: liquid-lib's compares every item with every other one, so
/// 100,000 items took minutes. Items (or their `property`, as Shopify's `uniq: "type"`) are
/// told apart by value: numbers by number (1 and 1.0 are one), text by text, lists and
/// objects by their JSON. Arrays are flattened first, as Ruby's.
#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(
    name = "uniq",
    description = "Removes duplicate items (or items with a duplicate property) of an array.",
    parameters(PropertyArgs),
    parsed(UniqFilter)
)]
pub struct Uniq;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "uniq"]
struct UniqFilter {
    #[parameters]
    args: PropertyArgs,
}

impl Filter for UniqFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let mut seen = std::collections::HashSet::new();
        let mut unique = Vec::new();
        for item in items(input) {
            let value = item.to_value();
            // By the property as Ruby's `item[property]` reads it (see `map`).
            let key = match &args.property {
                None => identity(&value),
                Some(property) => match property_of(item, property) {
                    Property::Value(picked) => identity(&picked.map_or(Value::Nil, |v| v.to_value())),
                    Property::Within(true) => identity(&Value::scalar(property.to_string())),
                    Property::Within(false) => identity(&Value::Nil),
                    Property::Unreadable => return Ok(Value::Nil),
                    Property::Refused => {
                        return Err(liquid_core::Error::with_msg(format!("cannot select the property '{property}'")));
                    }
                },
            };
            if seen.insert(key) {
                unique.push(value);
            }
        }
        Ok(Value::Array(unique))
    }
}

/// What makes two values the same item for `uniq`.
fn identity(value: &Value) -> String {
    match value {
        Value::Scalar(s) => match s.type_name() {
            "whole number" | "fractional number" => format!("n:{}", s.to_float().unwrap_or_default()),
            kind => format!("{kind}:{}", s.to_kstr()),
        },
        Value::Nil => "nil".to_owned(),
        other => format!("j:{}", super::filters::liquid_to_json(other)),
    }
}
