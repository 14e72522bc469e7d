//! Liquid 5's `{% liquid %}` tag: one tag per line, without delimiters. Before parsing, each
//! becomes the tag it stands for, so that every tag and block (and the budget over them)
//! works inside it as outside. The lines keep their places, so that errors after it are
//! reported at their own line.

use std::borrow::Cow;

use super::lex::{Kind, elements};
use super::nesting::BLOCKS;

/// A `{% liquid %}` tag refused, with the 1-based line of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refused {
    /// A line whose quote is not closed on it: the tag's end was found by reading that quote
    /// as open (an apostrophe in a `#` comment counts), so the parser would not see the tags
    /// the author wrote.
    OpenQuote(usize),
    /// A line that closes or continues a block the tag did not open (`{% if a %}{% liquid
    /// endif %}`): as in Shopify's, a tag's lines are a body of their own.
    Outside { line: usize, tag: String },
}

/// `source` with each `{% liquid %}` tag written out as the tags of its lines (none inside
/// `{% raw %}`). Lines starting with `#` are comments.
pub(super) fn expand(source: &str) -> Result<Cow<'_, str>, Refused> {
    let mut expanded = String::new();
    let mut copied = 0;
    let mut raw = false;
    // Lines are counted as the elements go: counting from the start at each tag would read
    // the template again for every tag.
    let mut lines = LineCounter::default();
    for element in elements(source) {
        if let Kind::Unclosed { .. } = element.kind
            && !raw
            && opens_liquid_tag(&source[element.start..])
        {
            // Never closed, because a quote on one of its lines is read as open.
            let first_line = lines.line_at(source, element.start);
            let open = source[element.start..].split('\n').position(|line| !quotes_balanced(line)).unwrap_or(0);
            return Err(Refused::OpenQuote(first_line + open));
        }
        let Kind::Tag { name, .. } = element.kind else { continue };
        match name {
            "raw" => raw = true,
            "endraw" => raw = false,
            "liquid" if !raw => {
                expanded.push_str(&source[copied..element.start]);
                let first_line = lines.line_at(source, element.start);
                let tag = written_out(&source[element.start..element.end]).map_err(|refused| match refused {
                    Refused::OpenQuote(line) => Refused::OpenQuote(first_line + line),
                    Refused::Outside { line, tag } => Refused::Outside { line: first_line + line, tag },
                })?;
                expanded.push_str(&tag);
                copied = element.end;
            }
            _ => {}
        }
    }
    if copied == 0 {
        return Ok(Cow::Borrowed(source));
    }
    expanded.push_str(&source[copied..]);
    Ok(Cow::Owned(expanded))
}

/// The 1-based line of increasing offsets into one source, each newline read once.
#[derive(Default)]
struct LineCounter {
    counted_to: usize,
    newlines: usize,
}

impl LineCounter {
    fn line_at(&mut self, source: &str, offset: usize) -> usize {
        self.newlines += source.as_bytes()[self.counted_to..offset].iter().filter(|&&b| b == b'\n').count();
        self.counted_to = offset;
        self.newlines + 1
    }
}

/// Whether `text` starts with a `{% liquid` tag.
fn opens_liquid_tag(text: &str) -> bool {
    let inner = text.strip_prefix("{%").map(|t| t.strip_prefix('-').unwrap_or(t)).unwrap_or_default();
    inner.trim_start().split(|c: char| c.is_whitespace() || c == '%').next() == Some("liquid")
}

/// Whether `line` closes every quote it opens.
fn quotes_balanced(line: &str) -> bool {
    let mut quote = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {}
        }
    }
    quote.is_none()
}

/// One `{% liquid ... %}` tag as its lines' tags, next to each other (no text between them to
/// render), each line's end kept inside a tag's markup, and the tag's whitespace control on
/// the first and the last. A line may be a `liquid` tag itself (`liquid echo x` is `echo
/// x`); `comment` to `endcomment` are left out. Lines are counted from 0.
fn written_out(tag: &str) -> Result<String, Refused> {
    let (open, close) = super::lex::delimiters(tag);
    let inner = &tag[open.len()..tag.len() - close.len()];
    let leading = inner.len() - inner.trim_start().len();
    let body = inner.trim_start().strip_prefix("liquid").unwrap_or(inner);
    // The lines' indexes count from the tag's first line.
    let skipped = inner[..leading].matches('\n').count();
    let lines: Vec<&str> = body.split('\n').collect();
    if let Some(open_quote) = lines.iter().position(|line| !quotes_balanced(line)) {
        return Err(Refused::OpenQuote(skipped + open_quote));
    }
    let mut statements: Vec<(usize, &str)> = Vec::new();
    let mut comments = 0;
    let mut blocks: Vec<&str> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let mut statement = line.trim();
        while let Some(rest) =
            statement.strip_prefix("liquid").filter(|r| r.is_empty() || r.starts_with(char::is_whitespace))
        {
            statement = rest.trim_start();
        }
        if statement.is_empty() || statement.starts_with('#') {
            continue;
        }
        let name = statement.split(char::is_whitespace).next().unwrap_or_default();
        match name {
            "comment" => comments += 1,
            "endcomment" if comments > 0 => comments -= 1,
            _ if comments > 0 => {}
            // A comment is read above; a raw block cannot be one of a liquid tag's lines.
            _ if BLOCKS.contains(&name) && name != "raw" => {
                blocks.push(name);
                statements.push((i, statement));
            }
            _ if name
                .strip_prefix("end")
                .is_some_and(|block| BLOCKS.contains(&block) && !matches!(block, "raw" | "comment")) =>
            {
                if blocks.pop() != Some(&name[3..]) {
                    return Err(Refused::Outside { line: skipped + i, tag: name.to_owned() });
                }
                statements.push((i, statement));
            }
            "else" | "elsif" | "when" if blocks.is_empty() => {
                return Err(Refused::Outside { line: skipped + i, tag: name.to_owned() });
            }
            _ => statements.push((i, statement)),
        }
    }
    let last_line = lines.len() - 1;
    if statements.is_empty() {
        // Nothing to run: a comment keeps the tag's whitespace control and its lines.
        return Ok(format!("{open} comment {}%}}{{% endcomment {close}", "\n".repeat(skipped + last_line)));
    }
    let mut out = String::new();
    for (k, &(line, statement)) in statements.iter().enumerate() {
        let before = if k == 0 { skipped + line } else { 0 };
        let next = statements.get(k + 1).map_or(last_line, |&(next, _)| next);
        let tag_open = if k == 0 { open } else { "{%" };
        let tag_close = if k + 1 == statements.len() { close } else { "%}" };
        out.push_str(&format!("{tag_open}{} {statement} {}{tag_close}", "\n".repeat(before), "\n".repeat(next - line)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_becomes_its_tag_and_the_lines_keep_their_places() {
        let source = "a {% liquid\n  assign x = 'liq'\n  # a comment\n  echo x | upcase\n%} b\n{{ y }}";
        let expanded = expand(source).expect("expands");
        assert_eq!(expanded, "a {%\n assign x = 'liq' \n\n%}{% echo x | upcase \n%} b\n{{ y }}");
        assert_eq!(expanded.matches('\n').count(), source.matches('\n').count());
    }

    #[test]
    fn a_quote_left_open_on_a_line_is_refused_and_an_empty_tag_keeps_its_whitespace_control() {
        assert_eq!(expand("x\n{% liquid\n# don't\necho 1\n%}"), Err(Refused::OpenQuote(3)));
        assert_eq!(expand("{% liquid echo \"a\nb\" %}"), Err(Refused::OpenQuote(1)));
        assert_eq!(
            expand("a {%- liquid\n# nothing\n -%} b").expect("expands"),
            "a {%- comment \n\n%}{% endcomment -%} b"
        );
    }

    #[test]
    fn liquid_lines_nest_comments_go_and_blocks_stay_inside() {
        assert_eq!(expand("{% liquid liquid liquid echo 1\nliquid\n%}").expect("expands"), "{% echo 1 \n\n%}");
        assert_eq!(
            expand("{% liquid\ncomment a\nif ]\nendcomment\necho 2 %}").expect("expands"),
            "{%\n\n\n\n echo 2 %}"
        );
        assert_eq!(expand("{% if a %}\n{% liquid endif %}"), Err(Refused::Outside { line: 2, tag: "endif".into() }));
        assert_eq!(expand("{% liquid if a\nelse\nendif %}").expect("expands"), "{% if a \n%}{% else \n%}{% endif %}");
        assert_eq!(expand("{% liquid\nelse %}"), Err(Refused::Outside { line: 2, tag: "else".into() }));
    }

    #[test]
    fn whitespace_control_stays_on_the_outer_tags_and_raw_is_left_alone() {
        assert_eq!(expand("{%- liquid echo 1\necho 2 -%}").expect("expands"), "{%- echo 1 \n%}{% echo 2 -%}");
        let raw = "{% raw %}{% liquid echo 1 %}{% endraw %}";
        assert_eq!(expand(raw).expect("expands"), raw);
        assert!(matches!(expand("no tags"), Ok(Cow::Borrowed(_))));
    }
}
