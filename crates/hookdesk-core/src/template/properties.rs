//! Property tests of what encodes and decodes, whose inputs are open-ended: what an encoder
//! makes, its decoder gives back, and the decimals of arithmetic round as floats do; and of
//! the rewriting before parsing (comments, docs, blank blocks, `liquid` tags), which no
//! template can make panic.

use proptest::prelude::*;

use super::decimal::Decimal;
use super::{Context, Template};

/// `source` rendered with `s` set to `text`.
fn render(source: &str, text: &str) -> String {
    let context = Context::new().with("s", &serde_json::Value::from(text));
    Template::parse("t", source).expect("parses").render(&context).expect("renders")
}

proptest! {
    #[test]
    fn base64_gives_back_any_text(text in any::<String>()) {
        prop_assert_eq!(render("{{ s | base64_encode | base64_decode }}", &text), text.clone());
        let url_safe = render("{{ s | base64_url_safe_encode }}", &text);
        prop_assert!(!url_safe.contains(['+', '/']), "{}", url_safe);
        prop_assert_eq!(render("{{ s | base64_url_safe_encode | base64_url_safe_decode }}", &text), text);
    }

    #[test]
    fn url_decode_gives_back_what_either_encoder_made(text in any::<String>()) {
        for encoder in ["url_encode", "uri_encode"] {
            let encoded = render(&format!("{{{{ s | {encoder} }}}}"), &text);
            let safe = |c: char| c.is_ascii_alphanumeric() || "-._~%".contains(c) || (c == '+' && encoder == "url_encode");
            prop_assert!(encoded.chars().all(safe), "{} made {}", encoder, encoded);
            prop_assert_eq!(render(&format!("{{{{ s | {encoder} | url_decode }}}}"), &text), text.clone());
        }
    }

    /// A decimal's float is the one Rust's parser reads from the same digits: the nearest.
    /// Digits of up to 2^53 and scales of up to 22 take the one-division path.
    #[test]
    fn decimals_become_the_nearest_float(digits in -(1i64 << 53)..=(1i64 << 53), scale in 0u32..=22) {
        let text = format!("{digits}e-{scale}");
        let decimal = Decimal::parse(&digits.to_string()).expect("digits").times(Decimal::one_in(scale)).expect("fits");
        prop_assert_eq!(decimal.to_f64(), text.parse::<f64>().expect("a float"));
    }

    /// Sums of decimals are exact: adding then removing gives the first back.
    #[test]
    fn decimal_sums_are_exact(a in any::<i64>(), b in any::<i64>(), scale in 0u32..12) {
        let (x, y) = (Decimal::integer(a.into()).times(Decimal::one_in(scale)).expect("fits"), Decimal::integer(b.into()));
        prop_assert_eq!(x.plus(y).and_then(|sum| sum.minus(y)), Some(x));
    }

    /// Templates made of the pieces the rewriting before parsing reads (delimiters with and
    /// without whitespace control, block tags, quotes, multi-byte text) parse or are refused,
    /// never panic, and what parses renders or fails with a message.
    #[test]
    fn no_template_makes_the_rewriting_panic(pieces in proptest::collection::vec(prop_oneof![
        Just("{%"), Just("%}"), Just("{%-"), Just("-%}"), Just("{{"), Just("}}"), Just(" comment "),
        Just(" endcomment "), Just(" doc "), Just(" enddoc "), Just(" raw "), Just(" endraw "), Just(" if a "),
        Just(" endif "), Just(" else "), Just(" elsif b "), Just(" liquid "), Just("\n"), Just(" "), Just("'"),
        Just("\""), Just("#"), Just("é"), Just("\u{1F600}"), Just(" for x in (1..3) "), Just(" endfor "),
        Just(" case a "), Just(" when 1 "), Just(" unless c "), Just(" endunless "), Just(" assign a = 1 "),
        Just(" echo "), Just("x"), Just("["), Just("]"), Just("."),
    ], 0..24)) {
        let source: String = pieces.concat();
        let parsed = std::panic::catch_unwind(|| Template::parse("t", &source).map(|t| t.render(&Context::new())));
        prop_assert!(parsed.is_ok(), "{:?} panicked", source);
    }
}
