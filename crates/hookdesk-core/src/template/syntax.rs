//! Shopify's Liquid syntax that liquid-rust's grammar refuses, written before parsing into
//! what it takes (the template is shown as written): inline comments (`{% # note %}`,
//! `{%# note %}`) become empty `comment` blocks; a range literal as a value
//! (`{{ (1..5) | join: "," }}`, `{% assign r = (a..b) %}`) becomes the value the range
//! filter makes; commas between a `for` loop's arguments go. Newlines keep their places, so
//! that errors further on name their own line.

use std::borrow::Cow;

use super::lex::{Kind, delimiters, elements};

/// The filter a range literal is written as (`(a..b)` is `a | hookdesk_range: b`).
pub(super) const RANGE_FILTER: &str = "hookdesk_range";

/// `source` with the syntax above rewritten; as it is when there is none.
pub(super) fn rewrite(source: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut raw = false;
    for element in elements(source) {
        let text = &source[element.start..element.end];
        let (open, close) = delimiters(text);
        let replacement = match element.kind {
            Kind::Tag { name: "raw", .. } => {
                raw = true;
                None
            }
            Kind::Tag { name: "endraw", .. } => {
                raw = false;
                None
            }
            _ if raw => None,
            // An inline comment: each of its lines must be one, else the parser refuses it.
            Kind::Tag { name, .. }
                if name.starts_with('#') && every_line_a_comment(&text[open.len()..text.len() - close.len()]) =>
            {
                Some(format!("{open} comment %}}{{% endcomment {close}"))
            }
            Kind::Output { markup } => range_value(markup).map(|value| format!("{open} {value} {close}")),
            Kind::Tag { name: "assign", markup } => markup.split_once('=').and_then(|(variable, value)| {
                range_value(value.trim()).map(|value| format!("{open} assign {variable}= {value} {close}"))
            }),
            Kind::Tag { name: "for", markup } if has_unquoted(markup, ',') => {
                Some(format!("{open} for {} {close}", without_unquoted_commas(markup)))
            }
            _ => None,
        };
        if let Some(replacement) = replacement {
            out.push_str(&source[copied..element.start]);
            // The newlines the element held, inside it before its close (outside they would
            // print), so that the lines after it stay where they were.
            let lost = text.matches('\n').count().saturating_sub(replacement.matches('\n').count());
            let (_, close) = delimiters(&replacement);
            out.push_str(&replacement[..replacement.len() - close.len()]);
            out.extend(std::iter::repeat_n('\n', lost));
            out.push_str(close);
            copied = element.end;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(source);
    }
    out.push_str(&source[copied..]);
    Cow::Owned(out)
}

/// Whether each line of an inline comment's inside starts with `#`, as Shopify's requires.
fn every_line_a_comment(inside: &str) -> bool {
    inside.lines().map(str::trim).filter(|line| !line.is_empty()).all(|line| line.starts_with('#'))
}

/// `(a..b) rest` as `a | hookdesk_range: b rest`; none when `value` does not start with a
/// range.
fn range_value(value: &str) -> Option<String> {
    let inner_and_rest = value.strip_prefix('(')?;
    let close = inner_and_rest.find(')')?;
    let (inner, rest) = (&inner_and_rest[..close], &inner_and_rest[close + 1..]);
    let (from, to) = inner.split_once("..")?;
    let (from, to) = (from.trim(), to.trim());
    let simple = |end: &str| !end.is_empty() && !end.contains(['(', ')', '|', '"', '\'']);
    (simple(from) && simple(to)).then(|| format!("{from} | {RANGE_FILTER}: {to}{rest}"))
}

fn has_unquoted(markup: &str, wanted: char) -> bool {
    super::lex::unquoted(markup).contains(wanted)
}

/// `markup` with its commas outside quotes made spaces.
fn without_unquoted_commas(markup: &str) -> String {
    let mut out = String::with_capacity(markup.len());
    let mut quote = None;
    for c in markup.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ',' => {
                out.push(' ');
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopifys_syntax_is_written_as_liquid_rust_reads_it() {
        assert_eq!(rewrite("a {%# note %} b"), "a {% comment %}{% endcomment %} b");
        assert_eq!(rewrite("{%- # x -%}"), "{%- comment %}{% endcomment -%}");
        assert_eq!(rewrite("{%# some \"comment %}x"), "{% comment %}{% endcomment %}x");
        assert_eq!(rewrite("{%-\n # one\n # two\n-%}y"), "{%- comment %}{% endcomment \n\n\n-%}y");
        assert_eq!(rewrite("{{ (1..5) | join: '#' }}"), "{{ 1 | hookdesk_range: 5 | join: '#' }}");
        assert_eq!(rewrite("{{ ( \n\t1..5) }}"), "{{ 1 | hookdesk_range: 5 \n}}");
        assert_eq!(rewrite("{% assign r = (a..b) %}"), "{% assign r = a | hookdesk_range: b %}");
        assert_eq!(rewrite("{% for i in (1..6), limit: 4, offset: 2 %}"), "{% for i in (1..6)  limit: 4  offset: 2 %}");
        assert_eq!(rewrite("{% raw %}{%# kept %}{% endraw %}"), "{% raw %}{%# kept %}{% endraw %}");
        assert_eq!(rewrite("{%-\n # one\n two\n-%}"), "{%-\n # one\n two\n-%}", "every line a comment, or none");
        assert!(matches!(rewrite("{{ x }} {% if a %}b{% endif %}"), Cow::Borrowed(_)));
        // Text of characters of four bytes (the fuzzer's, which panicked a slice).
        assert!(matches!(rewrite("\u{941C1}\u{37FC3}t {{ x }}"), Cow::Borrowed(_)));
    }
}
