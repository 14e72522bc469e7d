//! Liquid 5's `{% liquid %}` tag: one tag per line, without delimiters. Before parsing, each
//! becomes the tag it stands for, so that every tag and block (and the budget over them)
//! works inside it as outside. The lines keep their places, so that errors after it are
//! reported at their own line.

use std::borrow::Cow;

use super::lex::{Kind, elements};

/// `source` with each `{% liquid %}` tag written out as the tags of its lines (none inside
/// `{% raw %}`). Lines starting with `#` are comments.
pub(super) fn expand(source: &str) -> Cow<'_, str> {
    let mut expanded = String::new();
    let mut copied = 0;
    let mut raw = false;
    for element in elements(source) {
        let Kind::Tag { name, .. } = element.kind else { continue };
        match name {
            "raw" => raw = true,
            "endraw" => raw = false,
            "liquid" if !raw => {
                expanded.push_str(&source[copied..element.start]);
                expanded.push_str(&written_out(&source[element.start..element.end]));
                copied = element.end;
            }
            _ => {}
        }
    }
    if copied == 0 {
        return Cow::Borrowed(source);
    }
    expanded.push_str(&source[copied..]);
    Cow::Owned(expanded)
}

/// One `{% liquid ... %}` tag as its lines' tags, next to each other (no text between them to
/// render), each line's end kept inside a tag's markup, and the tag's whitespace control on
/// the first and the last.
fn written_out(tag: &str) -> String {
    let open = if tag.starts_with("{%-") { "{%-" } else { "{%" };
    let close = if tag.ends_with("-%}") { "-%}" } else { "%}" };
    let inner = &tag[open.len()..tag.len() - close.len()];
    let body = inner.trim_start_matches([' ', '\t']).strip_prefix("liquid").unwrap_or(inner);
    let lines: Vec<&str> = body.split('\n').collect();
    let statements: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| (i, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let last_line = lines.len() - 1;
    let mut out = String::new();
    for (k, &(line, statement)) in statements.iter().enumerate() {
        let before = if k == 0 { line } else { 0 };
        let next = statements.get(k + 1).map_or(last_line, |&(next, _)| next);
        let tag_open = if k == 0 { open } else { "{%" };
        let tag_close = if k + 1 == statements.len() { close } else { "%}" };
        out.push_str(&format!("{tag_open}{} {statement} {}{tag_close}", "\n".repeat(before), "\n".repeat(next - line)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_becomes_its_tag_and_the_lines_keep_their_places() {
        let source = "a {% liquid\n  assign x = 'liq'\n  # a comment\n  echo x | upcase\n%} b\n{{ y }}";
        let expanded = expand(source);
        assert_eq!(expanded, "a {%\n assign x = 'liq' \n\n%}{% echo x | upcase \n%} b\n{{ y }}");
        assert_eq!(expanded.matches('\n').count(), source.matches('\n').count());
    }

    #[test]
    fn whitespace_control_stays_on_the_outer_tags_and_raw_is_left_alone() {
        assert_eq!(expand("{%- liquid echo 1\necho 2 -%}"), "{%- echo 1 \n%}{% echo 2 -%}");
        let raw = "{% raw %}{% liquid echo 1 %}{% endraw %}";
        assert_eq!(expand(raw), raw);
        assert!(matches!(expand("no tags"), Cow::Borrowed(_)));
    }
}
