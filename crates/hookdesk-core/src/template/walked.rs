//! What a loop walks: read from its tag (`item in collection` or a range), and cut as Ruby's
//! `slice_collection` cuts it, for `for` and `tablerow`.

use liquid_core::model::{KStringCow, Value, ValueCow, ValueView};
use liquid_core::parser::TryMatchToken;
use liquid_core::{Expression, Result, Runtime, TagTokenIter};

use super::budget;

/// What a loop walks: a value's items, or a range of whole numbers.
#[derive(Debug)]
pub(super) enum Walked {
    Items(Expression),
    Counted(Expression, Expression),
}

impl Walked {
    /// Reads a loop's `variable in walked`, each word also kept in `words`: the variable's
    /// name, and what it walks.
    pub(super) fn read(arguments: &mut TagTokenIter<'_>, words: &mut Vec<String>) -> Result<(String, Walked)> {
        let variable = arguments.expect_next("Identifier expected.")?;
        words.push(variable.as_str().to_owned());
        let variable = variable.expect_identifier().into_result()?.to_owned();
        let keyword = arguments.expect_next("\"in\" expected.")?;
        words.push(keyword.as_str().to_owned());
        keyword.expect_str("in").into_result_custom_msg("\"in\" expected.")?;
        let walked = arguments.expect_next("Array or range expected.")?;
        words.push(walked.as_str().to_owned());
        let walked = match walked.expect_value() {
            TryMatchToken::Matches(items) => Walked::Items(items),
            TryMatchToken::Fails(token) => match token.expect_range() {
                TryMatchToken::Matches((start, stop)) => Walked::Counted(start, stop),
                TryMatchToken::Fails(token) => return Err(token.raise_error()),
            },
        };
        Ok((variable, walked))
    }
}

/// An attribute's whole number (`limit`, `offset`, `cols`): None when not given or nil, a
/// float's whole part (`cols: 2.6` is 2, as Shopify's), an error for another value (Ruby's
/// "invalid integer").
pub(super) fn whole_number(
    tag: &str,
    name: &str,
    expression: Option<&Expression>,
    runtime: &dyn Runtime,
) -> Result<Option<i64>> {
    let Some(expression) = expression else { return Ok(None) };
    let value = expression.evaluate(runtime)?;
    if value.is_nil() {
        return Ok(None);
    }
    let whole = value.as_scalar().and_then(|s| {
        s.to_integer().or_else(|| {
            let float = s.to_float().filter(|f| s.type_name() == "fractional number" && f.is_finite())?;
            Some(float.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        })
    });
    match whole {
        Some(n) => Ok(Some(n)),
        None => Err(liquid_core::Error::with_msg(format!("{tag}: {name} must be a whole number"))),
    }
}

/// The indexes at `from..to` of `length` things (`to`, if any, excluded; `from` may be
/// negative, which keeps the first ones): computed, not walked to.
fn window(length: i64, from: i64, to: Option<i64>) -> std::ops::Range<i64> {
    let end = to.map_or(length, |to| to.clamp(0, length));
    from.clamp(0, length)..end.max(from.clamp(0, length))
}

/// The window of `length` things, once the budget has counted the whole length (a loop over
/// more than it allows is refused) and the iterations the window makes.
fn counted(length: i64, from: i64, to: Option<i64>) -> Result<std::ops::Range<i64>> {
    let range = window(length, from, to);
    budget::spend_loop(u64::try_from(length).unwrap_or(0), u64::try_from(range.end - range.start).unwrap_or(0))?;
    Ok(range)
}

impl Walked {
    /// Calls `walk` with the items at `from..to`, borrowed from what is walked, once the
    /// budget has counted the loop's length and iterations (before anything is collected: a
    /// range of a billion is refused, not made): an array's,
    /// a range's numbers, an object's `[key, value]` pairs (in key order: liquid's objects
    /// keep no insertion order), a text as one item whatever the window (none when empty),
    /// other values none. `walk` gets None for nil and false, which walk nothing at all.
    pub(super) fn with_segment<T>(
        &self,
        runtime: &dyn Runtime,
        from: i64,
        to: Option<i64>,
        walk: impl FnOnce(Option<Vec<ValueCow<'_>>>) -> Result<T>,
    ) -> Result<T> {
        match self {
            Walked::Items(expression) => {
                let walked = expression.evaluate(runtime)?;
                let value = walked.as_view();
                if value.is_nil() || value.as_scalar().and_then(|s| s.to_bool()) == Some(false) {
                    return walk(None);
                }
                let items = if let Some(array) = value.as_array() {
                    let range = counted(array.size(), from, to)?;
                    range.filter_map(|i| array.get(i)).map(ValueCow::Borrowed).collect()
                } else if let Some(object) = value.as_object() {
                    let range = counted(object.size(), from, to)?;
                    // In the object's own order (its JSON's, as Ruby's Hash keeps it).
                    let pairs: Vec<(KStringCow<'_>, &dyn ValueView)> = object.iter().collect();
                    let pair = |(key, v): &(KStringCow<'_>, &dyn ValueView)| {
                        ValueCow::Owned(Value::Array(vec![Value::scalar(key.clone().into_owned()), v.to_value()]))
                    };
                    pairs[range.start as usize..range.end as usize].iter().map(pair).collect()
                } else if value.as_scalar().is_some_and(|s| s.type_name() == "string" && !s.to_kstr().is_empty()) {
                    budget::spend_loop(1, 1)?;
                    vec![ValueCow::Borrowed(value)]
                } else {
                    vec![]
                };
                walk(Some(items))
            }
            Walked::Counted(start, stop) => {
                // A nil bound is 0, as Ruby's `nil.to_i`.
                let bound = |e: &Expression| -> Result<i64> {
                    let value = e.evaluate(runtime)?;
                    if value.is_nil() {
                        return Ok(0);
                    }
                    value
                        .as_scalar()
                        .and_then(|s| s.to_integer())
                        .ok_or_else(|| liquid_core::Error::with_msg("a range is made of whole numbers"))
                };
                let (start, stop) = (bound(start)?, bound(stop)?);
                let length = if stop < start { 0 } else { stop.saturating_sub(start).saturating_add(1) };
                let numbers = counted(length, from, to)?.map(|i| ValueCow::Owned(Value::scalar(start + i)));
                walk(Some(numbers.collect()))
            }
        }
    }
}
