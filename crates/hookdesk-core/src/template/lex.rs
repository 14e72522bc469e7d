//! A template cut into its elements as liquid's grammar cuts it: text, outputs (`{{ }}`) and
//! tags (`{% %}`), a quoted string inside markup being part of it whatever it holds (`{%
//! assign x = "%}" %}` is one tag). The checks that run before liquid's own parser (nesting,
//! what is unclosed) and the endpoint's encoding all read templates through this one lexer,
//! so that none of them can be led to see other elements than the parser will.

/// One element of a template, by byte offsets into its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Element<'s> {
    pub start: usize,
    pub end: usize,
    pub kind: Kind<'s>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind<'s> {
    Text,
    /// `{{ markup }}`, whitespace control (`-`) and spaces trimmed.
    Output {
        markup: &'s str,
    },
    /// `{% name rest %}`.
    Tag {
        name: &'s str,
        markup: &'s str,
    },
    /// An element that never ends: `{{`, `{%` without their close, or a quote left open
    /// (`open` says which). It runs to the end of the source; nothing follows it.
    Unclosed {
        open: &'static str,
        close: &'static str,
    },
}

/// The elements of `source`, in order.
pub(crate) fn elements(source: &str) -> Elements<'_> {
    Elements { source, at: 0 }
}

pub(crate) struct Elements<'s> {
    source: &'s str,
    at: usize,
}

impl<'s> Iterator for Elements<'s> {
    type Item = Element<'s>;

    fn next(&mut self) -> Option<Element<'s>> {
        let source = self.source;
        let start = self.at;
        if start >= source.len() {
            return None;
        }
        // One scan from here to the next opening: searching for `{{` and `{%` apart would
        // read to the end for the one that does not come, at every element.
        let markup_at = source.as_bytes()[start..]
            .windows(2)
            .position(|pair| pair[0] == b'{' && (pair[1] == b'{' || pair[1] == b'%'))
            .map(|i| start + i);
        let Some(open_at) = markup_at.filter(|&at| at == start) else {
            let end = markup_at.unwrap_or(source.len());
            self.at = end;
            return Some(Element { start, end, kind: Kind::Text });
        };
        let (open, close) = if source[open_at..].starts_with("{{") { ("{{", "}}") } else { ("{%", "%}") };
        let body = &source[open_at + 2..];
        // An inline comment (`{% # note %}`, `{%# note %}`) ends at the first `%}`, quotes
        // or not, as in Shopify's Liquid.
        let comment = open == "{%" && body.trim_start_matches('-').trim_start().starts_with('#');
        let mut quote: Option<(char, usize)> = None;
        for (i, c) in body.char_indices() {
            match quote {
                Some((q, _)) if c == q => quote = None,
                Some(_) => {}
                None if (c == '"' || c == '\'') && !comment => quote = Some((c, i)),
                None if body[i..].starts_with(close) => {
                    let end = open_at + 2 + i + 2;
                    self.at = end;
                    let markup = body[..i].trim_start_matches('-').trim_end_matches('-').trim();
                    let kind = if open == "{{" {
                        Kind::Output { markup }
                    } else {
                        let name = markup.split(|c: char| c.is_whitespace()).next().unwrap_or_default();
                        Kind::Tag { name, markup: markup[name.len()..].trim() }
                    };
                    return Some(Element { start, end, kind });
                }
                None => {}
            }
        }
        self.at = source.len();
        let kind = match quote {
            Some(('"', _)) => Kind::Unclosed { open: "\"", close: "\"" },
            Some(_) => Kind::Unclosed { open: "'", close: "'" },
            None => Kind::Unclosed { open, close },
        };
        Some(Element { start, end: source.len(), kind })
    }
}

/// The opening and the closing of an output or a tag as written (`{{-` and `}}`, `{%` and
/// `-%}`...): its whitespace control kept when it is written again.
/// Empty for what has none (text).
pub(crate) fn delimiters(text: &str) -> (&str, &str) {
    let open = ["{{-", "{%-", "{{", "{%"].into_iter().find(|open| text.starts_with(open)).unwrap_or("");
    let close = ["-}}", "-%}", "}}", "%}"].into_iter().find(|close| text[open.len()..].ends_with(close)).unwrap_or("");
    (open, close)
}

/// `markup` without its quoted strings' contents: what is left is the markup's own syntax.
pub(crate) fn unquoted(markup: &str) -> String {
    let mut out = String::with_capacity(markup.len());
    let mut quote = None;
    for c in markup.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => {}
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// The 1-based line and column of byte `offset` in `source`.
pub(crate) fn position(source: &str, offset: usize) -> (usize, usize) {
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_keep_their_whitespace_control() {
        assert_eq!(delimiters("{{- x }}"), ("{{-", "}}"));
        assert_eq!(delimiters("{% if a -%}"), ("{%", "-%}"));
        assert_eq!(delimiters("{%- # note -%}"), ("{%-", "-%}"));
        assert_eq!(delimiters("\u{941C1}\u{37FC3}t"), ("", ""), "text has none, whatever its characters");
        assert_eq!(delimiters("{%}"), ("{%", ""));
    }

    fn kinds(source: &str) -> Vec<Kind<'_>> {
        elements(source).map(|e| e.kind).collect()
    }

    #[test]
    fn cuts_as_the_grammar_does() {
        assert_eq!(
            kinds("a {{ x | f: 'a }}b' }} {%- if y -%}c{% endif %}"),
            [
                Kind::Text,
                Kind::Output { markup: "x | f: 'a }}b'" },
                Kind::Text,
                Kind::Tag { name: "if", markup: "y" },
                Kind::Text,
                Kind::Tag { name: "endif", markup: "" },
            ]
        );
        // A quoted close belongs to the string.
        assert_eq!(kinds(r#"{% assign x = "%}{{" %}"#), [Kind::Tag { name: "assign", markup: r#"x = "%}{{""# }]);
        assert_eq!(kinds("{{ x"), [Kind::Unclosed { open: "{{", close: "}}" }]);
        assert_eq!(kinds("{{ 'x }}"), [Kind::Unclosed { open: "'", close: "'" }]);
        assert_eq!(unquoted(r#"a == "x or y" or 'b'"#), r#"a == "" or ''"#);
        assert_eq!(position("ab\ncd", 4), (2, 2));
    }
}
