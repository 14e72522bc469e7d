//! Exact decimal numbers, as Ruby's `BigDecimal` holds the floats of Shopify's arithmetic
//! filters: `0.1 | plus: 0.2` is `0.3` there, not `0.30000000000000004`.

/// `digits / 10^scale`, exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Decimal {
    digits: i128,
    scale: u32,
}

impl Decimal {
    pub const ZERO: Decimal = Decimal { digits: 0, scale: 0 };

    pub fn integer(value: i128) -> Decimal {
        Decimal { digits: value, scale: 0 }
    }

    /// `10^-scale`.
    #[cfg(test)]
    pub fn one_in(scale: u32) -> Decimal {
        Decimal { digits: 1, scale }
    }

    /// `-?digits(.digits)?`, exactly; None for anything else, or when it needs more than
    /// i128 holds.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(unsigned) => (true, unsigned),
            None => (false, text),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        if whole.is_empty() {
            return None;
        }
        let mut digits: i128 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            if !b.is_ascii_digit() {
                return None;
            }
            digits = digits.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        Some(Decimal { digits: if negative { -digits } else { digits }, scale: u32::try_from(fraction.len()).ok()? })
    }

    /// A float as Ruby's `BigDecimal(float.to_s)`: its shortest digits, which Rust prints
    /// without an exponent. None for NaN, infinities and what does not fit.
    pub fn of_float(value: f64) -> Option<Decimal> {
        value.is_finite().then(|| Decimal::parse(&value.to_string())).flatten()
    }

    /// Both at the larger scale: their digits can then be compared, added or divided.
    fn aligned(self, other: Decimal) -> Option<(i128, i128, u32)> {
        let scale = self.scale.max(other.scale);
        let at = |d: Decimal| d.digits.checked_mul(10i128.checked_pow(scale - d.scale)?);
        Some((at(self)?, at(other)?, scale))
    }

    pub fn plus(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Decimal { digits: a.checked_add(b)?, scale })
    }

    pub fn minus(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Decimal { digits: a.checked_sub(b)?, scale })
    }

    pub fn times(self, other: Decimal) -> Option<Decimal> {
        Some(Decimal { digits: self.digits.checked_mul(other.digits)?, scale: self.scale.checked_add(other.scale)? })
    }

    /// The quotient, rounded once to a float. None for a zero divisor.
    pub fn divided_by(self, other: Decimal) -> Option<f64> {
        let (a, b, _) = self.aligned(other)?;
        (b != 0).then(|| a as f64 / b as f64)
    }

    /// The remainder with the divisor's sign, as Ruby's `%`. None for a zero divisor.
    pub fn modulo(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        let r = a.checked_rem(b)?;
        Some(Decimal { digits: if r != 0 && (r < 0) != (b < 0) { r + b } else { r }, scale })
    }

    /// Rounded to `places` digits after the point (before it, when negative), half away from
    /// zero: Ruby's `BigDecimal#round`.
    pub fn round(self, places: i64) -> Decimal {
        if places >= i64::from(self.scale) {
            return self;
        }
        let dropped = i64::from(self.scale).checked_sub(places).and_then(|d| u32::try_from(d).ok()).unwrap_or(u32::MAX);
        let Some(divisor) = 10i128.checked_pow(dropped) else { return Decimal::ZERO };
        let (quotient, remainder) = (self.digits / divisor, self.digits % divisor);
        let away = remainder.unsigned_abs().saturating_mul(2) >= divisor.unsigned_abs();
        let rounded = if away { quotient + self.digits.signum() } else { quotient };
        match u32::try_from(places) {
            Ok(scale) => Decimal { digits: rounded, scale },
            // Tens, hundreds...: back to whole units, as long as they fit.
            Err(_) => {
                let tens = u32::try_from(-places).ok().and_then(|p| 10i128.checked_pow(p));
                tens.and_then(|t| rounded.checked_mul(t)).map_or(Decimal::ZERO, Decimal::integer)
            }
        }
    }

    /// The whole number, when there is no fraction and it fits.
    pub fn to_i64(self) -> Option<i64> {
        (self.scale == 0).then(|| i64::try_from(self.digits).ok()).flatten()
    }

    /// The nearest float.
    pub fn to_f64(self) -> f64 {
        // Digits and a power of ten that floats hold exactly make the nearest float in one
        // division (Clinger's fast path); others go through the parser, which rounds right.
        const EXACT_DIGITS: u128 = 1 << 53;
        const POWERS_OF_TEN: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
            1e19, 1e20, 1e21, 1e22,
        ];
        if let Some(power) = POWERS_OF_TEN.get(self.scale as usize)
            && self.digits.unsigned_abs() <= EXACT_DIGITS
        {
            return self.digits as f64 / power;
        }
        format!("{}e-{}", self.digits, self.scale).parse().unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::Decimal;

    #[test]
    fn decimals_are_exact_and_refuse_what_does_not_fit() {
        let d = |text: &str| Decimal::parse(text).expect("a decimal");
        assert_eq!(d("0.1").plus(d("0.2")).map(Decimal::to_f64), Some(0.3));
        assert_eq!(d("-1.25").plus(d("1")).map(Decimal::to_f64), Some(-0.25));
        assert_eq!(d("1.1").times(d("3")).map(Decimal::to_f64), Some(3.3));
        assert_eq!(d("0.3").minus(d("0.1")).map(Decimal::to_f64), Some(0.2));
        assert_eq!(d("0.3").divided_by(d("0.1")), Some(3.0));
        assert_eq!(d("0.3").modulo(d("0.1")).map(Decimal::to_f64), Some(0.0));
        assert_eq!(d("-5.5").modulo(d("2")).map(Decimal::to_f64), Some(0.5), "floored");
        assert_eq!(d("1").divided_by(Decimal::ZERO), None);
        assert_eq!(d("2.675").round(2), d("2.68"), "half away from zero, on the decimal digits");
        assert_eq!(d("-2.5").round(0), d("-3"));
        assert_eq!(d("0.125").round(2), d("0.13"));
        assert_eq!(d("1234.5").round(-2), d("1200"));
        assert_eq!(d("-1250").round(-2), d("-1300"));
        assert_eq!(d("1.5").round(400), d("1.5"));
        assert_eq!(d("1.5").round(-400), Decimal::ZERO);
        assert_eq!(d("1.5").round(i64::MIN), Decimal::ZERO);
        assert_eq!(Decimal::of_float(1e-7).map(Decimal::to_f64), Some(1e-7));
        assert_eq!(Decimal::of_float(f64::NAN), None);
        assert_eq!(Decimal { digits: i128::MIN, scale: 0 }.to_f64(), -(2f64.powi(127)), "no overflow");
        for refused in ["", "-", ".5", "1e5", "1.2.3", "abc", "1_000"] {
            assert_eq!(Decimal::parse(refused), None, "{refused:?}");
        }
        assert_eq!(Decimal::parse(&"1".repeat(40)), None);
        assert_eq!(d("1.5").plus(Decimal { digits: 1, scale: 60 }), None, "10^59 overflows");
    }
}
