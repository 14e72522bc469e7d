//! Two of Shopify's block rules that liquid-rust's parser does not know, applied to the
//! template's text before parsing (the template is shown as written, and newlines keep their
//! places so that errors further on name their own line):
//!
//! - the bodies of `comment` and `doc` are not parsed: a comment's tags are read only for the
//!   comments and raw blocks nested in it, a doc ends at the first `enddoc`, whatever comes
//!   between (`{% doc %}{{ unclosed {% enddoc %}`);
//! - an `if`, `unless`, `case` or `for` whose branches print nothing but whitespace (only
//!   assignments, captures, comments and blocks as blank) prints no whitespace either, as
//!   Ruby's `Block#blank?` and `remove_blank_strings` decide.

use std::borrow::Cow;

use super::lex::{Kind, delimiters, elements};
use super::nesting::BLOCKS;

/// A `comment` or `doc` that Shopify's refuses: never closed, a doc with arguments or with a
/// doc inside it. `at` is the byte offset of the opening tag, `reason` says what is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refused {
    pub at: usize,
    pub reason: &'static str,
}

const COMMENT_NEVER_CLOSED: &str = "the comment tag is never closed (endcomment is missing, or inside another tag)";
const DOC_NEVER_CLOSED: &str = "the doc tag is never closed (enddoc is missing)";
const DOC_ARGUMENTS: &str = "the doc tag takes no arguments";
const DOC_IN_DOC: &str = "a doc tag cannot hold another";

/// `source` with the bodies of its comments emptied (their newlines kept) and its docs
/// written as empty comments.
pub(super) fn without_unparsed_bodies(source: &str) -> Result<Cow<'_, str>, Refused> {
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    'lexing: while at < source.len() {
        for element in elements(&source[at..]) {
            let (start, end) = (at + element.start, at + element.end);
            match element.kind {
                Kind::Unclosed { .. } => break 'lexing,
                Kind::Tag { name: "raw", .. } => {
                    // Nothing in raw is a tag but its end.
                    let Some((_, after)) = end_tag(source, end, "endraw") else { break 'lexing };
                    at = after;
                    continue 'lexing;
                }
                Kind::Tag { name: "comment", .. } => {
                    let Some((body_end, after)) = comment_end(source, end) else {
                        return Err(Refused { at: start, reason: COMMENT_NEVER_CLOSED });
                    };
                    out.push_str(&source[copied..end]);
                    out.extend(std::iter::repeat_n('\n', newlines(&source[end..body_end])));
                    copied = body_end;
                    at = after;
                    continue 'lexing;
                }
                Kind::Tag { name: "doc", markup } => {
                    if !markup.is_empty() {
                        return Err(Refused { at: start, reason: DOC_ARGUMENTS });
                    }
                    let Some((end_start, after)) = end_tag(source, end, "enddoc") else {
                        return Err(Refused { at: start, reason: DOC_NEVER_CLOSED });
                    };
                    if end_tag(&source[..end_start], end, "doc").is_some() {
                        return Err(Refused { at: start, reason: DOC_IN_DOC });
                    }
                    let (open, _) = delimiters(&source[start..end]);
                    let (_, close) = delimiters(&source[end_start..after]);
                    out.push_str(&source[copied..start]);
                    let lines = "\n".repeat(newlines(&source[start..after]));
                    out.push_str(&format!("{open} comment %}}{lines}{{% endcomment {close}"));
                    copied = after;
                    at = after;
                    continue 'lexing;
                }
                _ => {}
            }
        }
        break;
    }
    if copied == 0 {
        return Ok(Cow::Borrowed(source));
    }
    out.push_str(&source[copied..]);
    Ok(Cow::Owned(out))
}

fn newlines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

/// The first `{% name %}` (with any whitespace control) from `from`, read as raw text is:
/// where it starts and where it ends.
fn end_tag(source: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(found) = source[at..].find("{%") {
        let start = at + found;
        let inner = source[start + 2..].trim_start_matches('-').trim_start();
        if let Some(rest) = inner.strip_prefix(name) {
            let rest = rest.trim_start();
            let rest = rest.strip_prefix('-').unwrap_or(rest);
            if rest.starts_with("%}") {
                return Some((start, source.len() - rest.len() + 2));
            }
        }
        at = start + 2;
    }
    None
}

/// Where the body of a comment whose opening tag ends at `from` ends, and where its
/// `endcomment` ends. The body is cut into tags as Shopify's tokenizer cuts it (a tag ends at
/// the first `%}`, quotes or not); only nested comments and raw blocks count.
fn comment_end(source: &str, from: usize) -> Option<(usize, usize)> {
    let mut depth = 1;
    let mut at = from;
    loop {
        let found = at + source[at..].find('{')?;
        let rest = &source[found..];
        if rest.starts_with("{{") {
            at = rest.find('}').map_or(found + 2, |close| found + close + 1);
            continue;
        }
        if !rest.starts_with("{%") {
            at = found + 1;
            continue;
        }
        let Some(close) = rest.find("%}") else {
            at = found + 2;
            continue;
        };
        let end = found + close + 2;
        let inner = rest[2..].trim_start_matches('-').trim_start();
        let name_len = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
        match &inner[..name_len] {
            "comment" => depth += 1,
            "endcomment" => {
                depth -= 1;
                if depth == 0 {
                    return Some((found, end));
                }
            }
            "raw" => {
                at = end_tag(source, end, "endraw")?.1;
                continue;
            }
            _ => {}
        }
        at = end;
    }
}

/// Blocks whose whitespace goes when they are blank (Ruby's `remove_blank_strings`).
const STRIPPED: &[&str] = &["if", "unless", "case", "for"];

/// Tags that print nothing and may stand in a blank block.
const QUIET: &[&str] = &["assign", "else", "elsif", "when"];

struct Open<'s> {
    name: &'s str,
    /// Whether nothing in it prints so far.
    blank: bool,
    /// The whitespace-only text directly in it.
    texts: Vec<(usize, usize)>,
    /// Where its body starts (for raw, whose blankness is its emptiness).
    body_start: usize,
}

/// `source` without the whitespace of its blank `if`, `unless`, `case` and `for` blocks: each
/// removed text's newlines move into the tag that follows it.
pub(super) fn without_blank_whitespace(source: &str) -> Cow<'_, str> {
    let mut open: Vec<Open<'_>> = Vec::new();
    let mut removed: Vec<(usize, usize)> = Vec::new();
    for element in elements(source) {
        let text = &source[element.start..element.end];
        let in_raw = open.last().is_some_and(|o| o.name == "raw");
        match element.kind {
            Kind::Unclosed { .. } => return Cow::Borrowed(source),
            Kind::Tag { name: "endraw", .. } if in_raw => {
                let raw = open.pop().expect("in raw");
                close(&mut open, &mut removed, raw, element.start);
            }
            _ if in_raw => {}
            Kind::Text => {
                if let Some(top) = open.last_mut() {
                    if text.trim().is_empty() {
                        top.texts.push((element.start, element.end));
                    } else {
                        top.blank = false;
                    }
                }
            }
            Kind::Output { .. } => printing(&mut open),
            Kind::Tag { name, .. } if BLOCKS.contains(&name) => {
                open.push(Open { name, blank: true, texts: Vec::new(), body_start: element.end });
            }
            Kind::Tag { name, .. } if name.strip_prefix("end").is_some_and(|n| BLOCKS.contains(&n)) => {
                match open.pop() {
                    Some(block) if block.name == &name[3..] => close(&mut open, &mut removed, block, element.start),
                    // Left for the parser to refuse.
                    _ => return Cow::Borrowed(source),
                }
            }
            Kind::Tag { name, .. } if QUIET.contains(&name) => {}
            Kind::Tag { .. } => printing(&mut open),
        }
    }
    if removed.is_empty() {
        return Cow::Borrowed(source);
    }
    removed.sort_unstable();
    let mut out = String::with_capacity(source.len());
    let mut copied = 0;
    for (start, end) in removed {
        out.push_str(&source[copied..start]);
        // The element after a text in a blank block is a tag: its opening first, then the
        // text's newlines, as whitespace inside the tag.
        let open = if source[end..].starts_with("{%-") { "{%-" } else { "{%" };
        out.push_str(open);
        out.extend(std::iter::repeat_n('\n', newlines(&source[start..end])));
        copied = end + open.len();
    }
    out.push_str(&source[copied..]);
    Cow::Owned(out)
}

/// Something that prints stands in the innermost open block.
fn printing(open: &mut [Open<'_>]) {
    if let Some(top) = open.last_mut() {
        top.blank = false;
    }
}

/// `block` closed by a tag at `end_start`: its whitespace marked for removal if it is blank
/// and of a kind that strips it, and its blankness passed to the block around it.
fn close<'s>(open: &mut [Open<'s>], removed: &mut Vec<(usize, usize)>, block: Open<'s>, end_start: usize) {
    let blank = match block.name {
        "capture" | "comment" => true,
        "raw" => block.body_start == end_start,
        _ => block.blank,
    };
    if blank && STRIPPED.contains(&block.name) {
        removed.extend(block.texts);
    }
    if !blank {
        printing(open);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_and_doc_bodies_are_not_parsed() {
        assert_eq!(
            without_unparsed_bodies("a{% comment %}{% if x %}\n{%- for ? %}{{ y }}{% endcomment %}b").expect("parses"),
            "a{% comment %}\n{% endcomment %}b"
        );
        assert_eq!(
            without_unparsed_bodies("{% comment %}{% comment %}x{% endcomment %}{% endcomment %}!").expect("parses"),
            "{% comment %}{% endcomment %}!"
        );
        assert_eq!(
            without_unparsed_bodies("{% comment %}{% raw %}{% endcomment %}{% endraw %}{% endcomment %}!")
                .expect("parses"),
            "{% comment %}{% endcomment %}!"
        );
        assert_eq!(
            without_unparsed_bodies("x\n {%- doc %}{{ a\n{% enddoc -%} y").expect("parses"),
            "x\n {%- comment %}\n{% endcomment -%} y"
        );
        assert_eq!(
            without_unparsed_bodies("{% raw %}{% comment %}{% endraw %}").expect("parses"),
            "{% raw %}{% comment %}{% endraw %}"
        );
        assert!(matches!(without_unparsed_bodies("{{ a }} {% if b %}{% endif %}"), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn a_comment_or_doc_never_closed_and_a_doc_with_arguments_or_docs_are_refused() {
        // A tag ends at the first `%}`, quotes or not: the endcomment is inside it.
        assert_eq!(
            without_unparsed_bodies("x{% comment %}{% assign a = '1'{% endcomment %}"),
            Err(Refused { at: 1, reason: COMMENT_NEVER_CLOSED })
        );
        assert_eq!(
            without_unparsed_bodies("{% comment %}{% {{ {%- endcomment %}"),
            Err(Refused { at: 0, reason: COMMENT_NEVER_CLOSED })
        );
        assert_eq!(without_unparsed_bodies("{% doc %}x"), Err(Refused { at: 0, reason: DOC_NEVER_CLOSED }));
        assert_eq!(without_unparsed_bodies("{% doc a %}{% enddoc %}"), Err(Refused { at: 0, reason: DOC_ARGUMENTS }));
        assert_eq!(
            without_unparsed_bodies("{% doc %}{%- doc %}{% enddoc %}"),
            Err(Refused { at: 0, reason: DOC_IN_DOC })
        );
    }

    #[test]
    fn blank_blocks_lose_their_whitespace() {
        assert_eq!(without_blank_whitespace("{% if a %}  {% endif %}"), "{% if a %}{% endif %}");
        assert_eq!(
            without_blank_whitespace("!{% if a %}\n {% assign b = 1 %}\n{% else %} {% endif %}!"),
            "!{% if a %}{%\n assign b = 1 %}{%\n else %}{% endif %}!"
        );
        assert_eq!(
            without_blank_whitespace("{% for i in x %} {% capture c %} {{ i }} {% endcapture %} {% endfor %}"),
            "{% for i in x %}{% capture c %} {{ i }} {% endcapture %}{% endfor %}",
            "a capture is blank, whatever it holds"
        );
        assert_eq!(
            without_blank_whitespace("{% if a %} {% if b %} {% endif %} {%- endif %}"),
            "{% if a %}{% if b %}{% endif %}{%- endif %}"
        );
        for printing in [
            "{% if a %} {{ b }} {% endif %}",
            "{% if a %} x {% endif %}",
            "{% if a %} {% increment c %} {% endif %}",
            "{% if a %} {% raw %}x{% endraw %} {% endif %}",
            "{% capture a %} {% endcapture %}",
            "{% if a %} {% endfor %}",
        ] {
            assert!(matches!(without_blank_whitespace(printing), Cow::Borrowed(_)), "{printing}");
        }
    }
}
