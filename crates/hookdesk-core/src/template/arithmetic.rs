//! Shopify's arithmetic filters: `plus`, `minus`, `times`, `divided_by`, `modulo`, `abs`,
//! `round`, `ceil`, `floor`, `at_least` and `at_most`. Their inputs and operands are read as
//! Ruby's Liquid reads them (`Utils.to_number`): a number as it is, a text as the number it
//! starts with (`"3.5"` is 3.5, `"12 apples"` is 12, `"apples"` is 0), anything else (nil,
//! a list) as 0. Two integers give an integer, and one too large for 64 bits is an error
//! (liquid-lib's wrapped or panicked); `divided_by` and `modulo` floor, as Ruby's. With a
//! float on either side the result is computed on exact decimals, as Ruby's `BigDecimal`
//! (`0.1 | plus: 0.2` is `0.3`), and is a float.

use liquid_core::{Display_filter, Expression, Filter, FilterParameters, FilterReflection, ParseFilter};
use liquid_core::{Result, Runtime, Value, ValueView};

use super::decimal::Decimal;
use super::filters::filter_family;

#[derive(Debug, Clone, Copy)]
pub enum Arithmetic {
    Plus,
    Minus,
    Times,
    DividedBy,
    Modulo,
}

/// The one argument of every arithmetic filter.
#[derive(Debug, FilterParameters)]
struct OperandArgs {
    #[parameter(description = "The other number.")]
    operand: Expression,
}

impl Arithmetic {
    fn name(self) -> &'static str {
        match self {
            Arithmetic::Plus => "plus",
            Arithmetic::Minus => "minus",
            Arithmetic::Times => "times",
            Arithmetic::DividedBy => "divided_by",
            Arithmetic::Modulo => "modulo",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Arithmetic::Plus => "Adds the operand to the input.",
            Arithmetic::Minus => "Subtracts the operand from the input.",
            Arithmetic::Times => "Multiplies the input by the operand.",
            Arithmetic::DividedBy => {
                "Divides the input by the operand: an integer (floored) for two integers, else a float."
            }
            Arithmetic::Modulo => {
                "The remainder of dividing the input by the operand, with the operand's sign (Ruby's)."
            }
        }
    }
}

filter_family!(Arithmetic, OperandArgs, ArithmeticFilter);

#[derive(Debug)]
struct ArithmeticFilter {
    member: Arithmetic,
    args: OperandArgs,
}

/// A value as arithmetic reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Integer(i64),
    Float(f64),
}

impl Number {
    fn to_float(self) -> f64 {
        match self {
            Number::Integer(n) => n as f64,
            Number::Float(f) => f,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Number::Integer(n) => Value::scalar(n),
            Number::Float(f) => Value::scalar(f),
        }
    }
}

/// A value as Ruby's Liquid reads a number (`Utils.to_number`), for arithmetic and `sum`.
pub(super) enum RubyNumber {
    Integer(i128),
    /// A float, exactly as its shortest text says (Ruby's `BigDecimal(float.to_s)`) when
    /// that fits, and as itself.
    Float(Option<Decimal>, f64),
}

/// Ruby's `Utils.to_number`: a number as itself; text `-?digits.digits` as that decimal,
/// other text as `String#to_i` reads it, its leading integer (`"12 apples"` is 12,
/// `"1_000"` 1000, `"apples"` 0); anything else (nil, a boolean, a list) 0. None: a text's
/// leading integer beyond 128 bits.
pub(super) fn to_number(value: &dyn ValueView) -> Option<RubyNumber> {
    let Some(scalar) = value.as_scalar() else { return Some(RubyNumber::Integer(0)) };
    match scalar.type_name() {
        "whole number" => return Some(RubyNumber::Integer(scalar.to_integer().unwrap_or_default().into())),
        "fractional number" => {
            let float = scalar.to_float().unwrap_or_default();
            return Some(RubyNumber::Float(Decimal::of_float(float), float));
        }
        "string" => {}
        _ => return Some(RubyNumber::Integer(0)),
    }
    let text = scalar.to_kstr();
    let text = text.trim();
    if is_decimal(text.strip_prefix('-').unwrap_or(text)) {
        return Some(RubyNumber::Float(Decimal::parse(text), text.parse().unwrap_or_default()));
    }
    // `String#to_i`: a sign, then digits with underscores between them; the rest ignored.
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'-') => ("-", &text[1..]),
        Some(b'+') => ("", &text[1..]),
        _ => ("", text),
    };
    let leading: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '_').filter(|c| *c != '_').collect();
    if leading.is_empty() {
        return Some(RubyNumber::Integer(0));
    }
    format!("{sign}{leading}").parse().ok().map(RubyNumber::Integer)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `digits.digits`, unsigned.
fn is_decimal(text: &str) -> bool {
    text.split_once('.').is_some_and(|(whole, fraction)| is_digits(whole) && is_digits(fraction))
}

/// In a strict render, `value` unless it is a number or text that is one (`"12"`, `"-1.5"`):
/// nil, `"12 apples"` or a list fail the filter, where a lax render reads them as Ruby does.
pub(super) fn refuse_unless_number(value: &dyn ValueView) -> Result<()> {
    if !super::budget::strict() {
        return Ok(());
    }
    let number = value.as_scalar().is_some_and(|scalar| match scalar.type_name() {
        "whole number" | "fractional number" => true,
        "string" => {
            let text = scalar.to_kstr();
            let text = text.trim();
            let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
            is_digits(unsigned) || is_decimal(unsigned)
        }
        _ => false,
    });
    if number {
        return Ok(());
    }
    Err(liquid_core::Error::with_msg(format!("{} is not a number (the template mode is strict)", value.source())))
}

/// `value` as arithmetic reads it ([`to_number`]): an integer beyond 64 bits as a float, one
/// beyond 128 bits an error.
fn number(value: &dyn ValueView) -> Result<Number> {
    refuse_unless_number(value)?;
    match to_number(value) {
        Some(RubyNumber::Integer(n)) => Ok(i64::try_from(n).map_or(Number::Float(n as f64), Number::Integer)),
        Some(RubyNumber::Float(_, f)) => Ok(Number::Float(f)),
        None => Err(liquid_core::Error::with_msg("a number of more than 128 bits")),
    }
}

/// The input and the operand: two integers, or else two floats.
enum Operands {
    Integers(i64, i64),
    Floats(f64, f64),
}

fn operands(input: &dyn ValueView, operand: &dyn ValueView) -> Result<Operands> {
    Ok(match (number(input)?, number(operand)?) {
        (Number::Integer(a), Number::Integer(b)) => Operands::Integers(a, b),
        (a, b) => Operands::Floats(a.to_float(), b.to_float()),
    })
}

/// Ruby's floored division and remainder of two integers.
fn floored(a: i64, b: i64) -> (Option<i64>, i64) {
    let r = a.wrapping_rem(b);
    let q = a.checked_div(b).map(|q| if r != 0 && (r < 0) != (b < 0) { q - 1 } else { q });
    (q, if r != 0 && (r < 0) != (b < 0) { r + b } else { r })
}

impl Filter for ArithmeticFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let name = self.member.name();
        let operands = operands(input, &args.operand)?;
        let divides = matches!(self.member, Arithmetic::DividedBy | Arithmetic::Modulo);
        if divides && matches!(operands, Operands::Integers(_, 0))
            || matches!(operands, Operands::Floats(_, b) if divides && b == 0.0)
        {
            return Err(liquid_core::Error::with_msg(format!("{name} by zero")));
        }
        match operands {
            Operands::Integers(a, b) => {
                let result = match self.member {
                    Arithmetic::Plus => a.checked_add(b),
                    Arithmetic::Minus => a.checked_sub(b),
                    Arithmetic::Times => a.checked_mul(b),
                    Arithmetic::DividedBy => floored(a, b).0,
                    Arithmetic::Modulo => Some(floored(a, b).1),
                };
                result
                    .map(Value::scalar)
                    .ok_or_else(|| liquid_core::Error::with_msg(format!("{name}: the result is too large")))
            }
            Operands::Floats(a, b) => {
                // Exact when both have a decimal form that fits; as floats otherwise.
                let exact = Decimal::of_float(a).zip(Decimal::of_float(b));
                let on_decimals = |op: fn(Decimal, Decimal) -> Option<Decimal>| {
                    exact.and_then(|(x, y)| op(x, y)).map(Decimal::to_f64)
                };
                Ok(Value::scalar(match self.member {
                    Arithmetic::Plus => on_decimals(Decimal::plus).unwrap_or(a + b),
                    Arithmetic::Minus => on_decimals(Decimal::minus).unwrap_or(a - b),
                    // A zero product keeps its sign, as BigDecimal's does (`0 | times: -1.0` is -0.0).
                    Arithmetic::Times => on_decimals(Decimal::times).filter(|r| *r != 0.0).unwrap_or(a * b),
                    Arithmetic::DividedBy => exact.and_then(|(x, y)| x.divided_by(y)).unwrap_or(a / b),
                    Arithmetic::Modulo => on_decimals(Decimal::modulo).unwrap_or_else(|| {
                        let r = a % b;
                        if r != 0.0 && (r < 0.0) != (b < 0.0) { r + b } else { r }
                    }),
                }))
            }
        }
    }
}

/// `abs`: an integer stays one, and `abs` of the smallest one is an error, not a wrap.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(name = "abs", description = "The absolute value of a number.", parsed(AbsFilter))]
pub struct Abs;

#[derive(Debug, Default, Display_filter)]
#[name = "abs"]
struct AbsFilter;

impl Filter for AbsFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        match number(input)? {
            Number::Integer(integer) => integer
                .checked_abs()
                .map(Value::scalar)
                .ok_or_else(|| liquid_core::Error::with_msg("abs: the result is too large")),
            Number::Float(float) => Ok(Value::scalar(float.abs())),
        }
    }
}

/// `ceil` and `floor`: the whole number above or below (an integer stays itself).
#[derive(Debug, Clone, Copy)]
pub enum Rounding {
    Ceil,
    Floor,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(name = "ceil", description = "The smallest whole number not below the input.", parsed(CeilFilter))]
pub struct Ceil;

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(name = "floor", description = "The largest whole number not above the input.", parsed(FloorFilter))]
pub struct Floor;

#[derive(Debug, Default, Display_filter)]
#[name = "ceil"]
struct CeilFilter;

#[derive(Debug, Default, Display_filter)]
#[name = "floor"]
struct FloorFilter;

fn whole(input: &dyn ValueView, rounding: Rounding) -> Result<Value> {
    let float = match number(input)? {
        Number::Integer(n) => return Ok(Value::scalar(n)),
        Number::Float(f) => f,
    };
    let rounded = match rounding {
        Rounding::Ceil => float.ceil(),
        Rounding::Floor => float.floor(),
    };
    // Within i64 the cast is exact for a whole float; beyond, an error as for other results.
    if rounded.is_finite() && rounded.abs() < 9.2e18 {
        Ok(Value::scalar(rounded as i64))
    } else {
        Err(liquid_core::Error::with_msg("the result is too large"))
    }
}

impl Filter for CeilFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        whole(input, Rounding::Ceil)
    }
}

impl Filter for FloorFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        whole(input, Rounding::Floor)
    }
}

#[derive(Debug, FilterParameters)]
struct BoundArgs {
    #[parameter(description = "The bound.")]
    bound: Expression,
}

/// `at_least` and `at_most`: the input, or the bound when the input is beyond it.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    AtLeast,
    AtMost,
}

impl Bound {
    fn name(self) -> &'static str {
        match self {
            Bound::AtLeast => "at_least",
            Bound::AtMost => "at_most",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Bound::AtLeast => "The input, or the bound when the input is below it.",
            Bound::AtMost => "The input, or the bound when the input is above it.",
        }
    }
}

filter_family!(Bound, BoundArgs, BoundFilter);

#[derive(Debug)]
struct BoundFilter {
    member: Bound,
    args: BoundArgs,
}

impl Filter for BoundFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let (input, bound) = (number(input)?, number(&args.bound)?);
        let keep = match self.member {
            Bound::AtLeast => input.to_float() >= bound.to_float(),
            Bound::AtMost => input.to_float() <= bound.to_float(),
        };
        Ok(if keep { input.into_value() } else { bound.into_value() })
    }
}

#[derive(Debug, FilterParameters)]
struct RoundArgs {
    #[parameter(description = "Digits to keep after the point (before it when negative); 0 when not given.")]
    places: Option<Expression>,
}

/// `round` as Ruby's: on the decimal digits, half away from zero (`2.675 | round: 2` is
/// `2.68`, `2.5 | round` is `3`); a whole number without places or with negative ones
/// (`5.666 | round: -1` is `10`), a float with places; an integer keeps its digits unless
/// the places are negative (`1234 | round: -2` is `1200`).
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "round",
    description = "Rounds a number, half away from zero, to a number of digits after the point.",
    parameters(RoundArgs),
    parsed(RoundFilter)
)]
pub struct Round;

#[derive(Debug, liquid_core::FromFilterParameters, Display_filter)]
#[name = "round"]
struct RoundFilter {
    #[parameters]
    args: RoundArgs,
}

impl Filter for RoundFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        // Read as Ruby reads it (`to_number`): a float's whole part, a text's number, nil 0.
        let places = match args.places.as_ref().map(|places| number(places)).transpose()? {
            None => 0,
            Some(Number::Integer(n)) => n,
            Some(Number::Float(f)) => f.trunc().clamp(-1e6, 1e6) as i64,
        };
        let too_large = || liquid_core::Error::with_msg("round: the result is too large");
        let float = match number(input)? {
            Number::Integer(integer) if places >= 0 => return Ok(Value::scalar(integer)),
            Number::Integer(integer) => {
                return Decimal::integer(integer.into())
                    .round(places)
                    .to_i64()
                    .map(Value::scalar)
                    .ok_or_else(too_large);
            }
            Number::Float(float) => float,
        };
        let Some(decimal) = Decimal::of_float(float) else {
            if !float.is_finite() {
                // Ruby's FloatDomainError.
                return Err(liquid_core::Error::with_msg(format!("round: {float} has no digits to round")));
            }
            // Too many digits for a decimal: a float this large has no fraction to round.
            return if places == 0 { Err(too_large()) } else { Ok(Value::scalar(float)) };
        };
        let rounded = decimal.round(places);
        // Ruby's `Float#round` answers an integer for no places or negative ones.
        if places <= 0 {
            return rounded.to_i64().map(Value::scalar).ok_or_else(too_large);
        }
        Ok(Value::scalar(rounded.to_f64()))
    }
}

#[derive(Debug, FilterParameters)]
struct RangeArgs {
    #[parameter(description = "The last whole number.")]
    to: Expression,
}

/// A range literal as a value (`{{ (1..5) | join: "," }}`, `{% assign r = (a..b) %}`),
/// which the template is rewritten to before parsing: the whole numbers from the input to the
/// argument, each end read as arithmetic reads it (a float's whole part).
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "hookdesk_range",
    description = "The whole numbers from the input to the argument (a range literal as a value).",
    parameters(RangeArgs),
    parsed(RangeFilter)
)]
pub struct Range;

#[derive(Debug, liquid_core::FromFilterParameters, Display_filter)]
#[name = "hookdesk_range"]
struct RangeFilter {
    #[parameters]
    args: RangeArgs,
}

impl Filter for RangeFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let whole = |n: Number| match n {
            Number::Integer(i) => i,
            Number::Float(f) => f.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64,
        };
        let (from, to) = (whole(number(input)?), whole(number(&args.to)?));
        if to < from {
            return Ok(Value::Array(vec![]));
        }
        let length = to.abs_diff(from).saturating_add(1);
        if length > super::MAX_RANGE {
            return Err(liquid_core::Error::with_msg(format!(
                "a range of {length} numbers (the limit is {})",
                super::MAX_RANGE
            )));
        }
        Ok(Value::Array((from..=to).map(Value::scalar).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Context, Template};

    fn render(source: &str) -> String {
        let context = Context::new().with("n", &serde_json::json!(7)).with("list", &serde_json::json!([1, 2]));
        Template::parse("t", source).expect("parses").render(&context).expect("renders")
    }

    #[test]
    fn what_is_not_a_number_reads_as_ruby_reads_it() {
        let read = |text: &str| number(&Value::scalar(text.to_owned())).expect("a number");
        assert_eq!(read(" 12 apples"), Number::Integer(12));
        assert_eq!(read("-3.5"), Number::Float(-3.5));
        assert_eq!(read("1_000"), Number::Integer(1000));
        assert_eq!(read("apples"), Number::Integer(0));
        assert_eq!(read("3."), Number::Integer(3));
        for (source, expected) in [
            ("{{ 'abc' | plus: 2 }}", "2"),
            ("{{ nothing | times: 3 }}", "0"),
            ("{{ '3.5' | plus: 1 }}", "4.5"),
            ("{{ '12 apples' | minus: 2 }}", "10"),
            ("{{ n | plus: 'x' }}", "7"),
            ("{{ list | plus: 1 }}", "1"),
            ("{{ true | plus: 1 }}", "1"),
            ("{{ nothing | abs }}", "0"),
            ("{{ '-4.5' | abs }}", "4.5"),
            ("{{ 'x' | ceil }}", "0"),
            ("{{ '4.2' | ceil }}", "5"),
            ("{{ 4.2 | floor }}", "4"),
            ("{{ nothing | at_least: 5 }}", "5"),
            ("{{ 9 | at_most: 'x' }}", "0"),
            ("{{ 4.5 | at_most: 5 }}", "4.5"),
            ("{{ nothing | round }}", "0"),
            ("{{ '5.666' | round: 1 }}", "5.7"),
        ] {
            assert_eq!(render(source), expected, "{source}");
        }
    }
}
