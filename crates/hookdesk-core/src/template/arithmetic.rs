//! Shopify's arithmetic filters: `plus`, `minus`, `times`, `divided_by`, `modulo`, `abs` and
//! `round`. Two
//! integers give an integer, and one too large for 64 bits is an error (liquid-lib's wrapped
//! or panicked); `divided_by` and `modulo` floor, as Ruby's. With a float on either side the
//! result is computed on exact decimals, as Ruby's `BigDecimal` (`0.1 | plus: 0.2` is `0.3`),
//! and is a float.

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

/// The input and the operand: two integers, or else two floats.
enum Operands {
    Integers(i64, i64),
    Floats(f64, f64),
}

fn operands(filter: &str, input: &dyn ValueView, operand: &dyn ValueView) -> Result<Operands> {
    let not_a_number = |what: &str| liquid_core::Error::with_msg(format!("{filter} needs a number as its {what}"));
    let input = input.as_scalar().ok_or_else(|| not_a_number("input"))?;
    let operand = operand.as_scalar().ok_or_else(|| not_a_number("operand"))?;
    Ok(match (input.to_integer(), operand.to_integer()) {
        (Some(a), Some(b)) => Operands::Integers(a, b),
        _ => match (input.to_float(), operand.to_float()) {
            (Some(a), Some(b)) => Operands::Floats(a, b),
            (None, _) => return Err(not_a_number("input")),
            (_, None) => return Err(not_a_number("operand")),
        },
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
        let operands = operands(name, input, &args.operand)?;
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
        let number = input.as_scalar();
        if let Some(integer) = number.as_ref().and_then(|n| n.to_integer()) {
            return integer
                .checked_abs()
                .map(Value::scalar)
                .ok_or_else(|| liquid_core::Error::with_msg("abs: the result is too large"));
        }
        match number.and_then(|n| n.to_float()) {
            Some(float) => Ok(Value::scalar(float.abs())),
            None => Err(liquid_core::Error::with_msg("abs needs a number as its input")),
        }
    }
}

#[derive(Debug, FilterParameters)]
struct RoundArgs {
    #[parameter(description = "Digits to keep after the point (before it when negative); 0 when not given.")]
    places: Option<Expression>,
}

/// `round` as Ruby's: on the decimal digits, half away from zero (`2.675 | round: 2` is
/// `2.68`, `2.5 | round` is `3`); a whole number without places, a float with them; an
/// integer keeps its digits unless the places are negative (`1234 | round: -2` is `1200`).
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
        let places = match &args.places {
            None => 0,
            Some(places) => places
                .as_scalar()
                .and_then(|p| p.to_integer())
                .ok_or_else(|| liquid_core::Error::with_msg("round needs a whole number of places"))?,
        };
        let number =
            input.as_scalar().ok_or_else(|| liquid_core::Error::with_msg("round needs a number as its input"))?;
        let too_large = || liquid_core::Error::with_msg("round: the result is too large");
        if let Some(integer) = number.to_integer() {
            if places >= 0 {
                return Ok(Value::scalar(integer));
            }
            return Decimal::integer(integer.into()).round(places).to_i64().map(Value::scalar).ok_or_else(too_large);
        }
        let float =
            number.to_float().ok_or_else(|| liquid_core::Error::with_msg("round needs a number as its input"))?;
        let Some(decimal) = Decimal::of_float(float) else {
            if !float.is_finite() {
                // Ruby's FloatDomainError.
                return Err(liquid_core::Error::with_msg(format!("round: {float} has no digits to round")));
            }
            // Too many digits for a decimal: a float this large has no fraction to round.
            return if places == 0 { Err(too_large()) } else { Ok(Value::scalar(float)) };
        };
        let rounded = decimal.round(places);
        if places == 0 {
            return rounded.to_i64().map(Value::scalar).ok_or_else(too_large);
        }
        Ok(Value::scalar(rounded.to_f64()))
    }
}
