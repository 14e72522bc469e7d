//! How deep a template nests, found before parsing: liquid's parser recurses once per level,
//! and a template of a thousand nested `{% if %}` overflows the stack of the thread that
//! parses it, which aborts the whole process. Long chains recurse too: `and`/`or` in one
//! condition, `elsif` in one `if`, the parts of one variable (`a.b.c`).

use super::lex::{Kind, elements, position, unquoted};

/// How deep blocks (`if`, `for`, `capture`...) and brackets may nest in a template.
pub const MAX_NESTING: usize = 32;

/// The longest chain of `and`/`or`, `elsif` or variable parts (thousands overflow).
pub(super) const MAX_CHAIN: usize = 256;

/// Tags that open a block closed by `end` + their name.
pub(super) const BLOCKS: &[&str] =
    &["if", "unless", "case", "for", "tablerow", "capture", "comment", "ifchanged", "raw"];

/// Where and how `source` first nests deeper than `limit` (blocks, and brackets or
/// parentheses inside a tag or output) or chains longer than [`MAX_CHAIN`], if it does.
pub(super) fn too_deep(source: &str, limit: usize) -> Option<(usize, usize, String)> {
    let refuse = |at: usize, reason: String| {
        let (line, column) = position(source, at);
        Some((line, column, reason))
    };
    // The `elsif`s of each open block.
    let mut open: Vec<usize> = Vec::new();
    let mut in_raw = false;
    for element in elements(source) {
        let markup = match element.kind {
            Kind::Text => continue,
            // Nothing follows; the parser reports it.
            Kind::Unclosed { .. } => return None,
            // Inside raw nothing is markup but its end (the grammar still cuts it into
            // elements, quoted strings and all, which is how `endraw` is found).
            Kind::Tag { name: "endraw", .. } if in_raw => {
                in_raw = false;
                open.pop();
                continue;
            }
            _ if in_raw => continue,
            Kind::Output { markup } => markup,
            Kind::Tag { name, markup } => {
                if BLOCKS.contains(&name) {
                    open.push(0);
                    in_raw = name == "raw";
                } else if name.strip_prefix("end").is_some_and(|block| BLOCKS.contains(&block)) {
                    open.pop();
                } else if name == "elsif"
                    && let Some(elsifs) = open.last_mut()
                {
                    *elsifs += 1;
                    if *elsifs > MAX_CHAIN {
                        return refuse(element.start, format!("an if has more than {MAX_CHAIN} elsif (the limit)"));
                    }
                }
                markup
            }
        };
        let syntax = unquoted(markup);
        if open.len() + brackets(&syntax) > limit {
            return refuse(
                element.start,
                format!("the template nests blocks or brackets more than {limit} deep (the limit)"),
            );
        }
        if let Some(reason) = long_chain(&syntax) {
            return refuse(element.start, reason);
        }
    }
    None
}

/// The deepest bracket or parenthesis nesting in markup (its strings taken out).
fn brackets(syntax: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in syntax.chars() {
        match c {
            '[' | '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// What in one tag's markup (its strings taken out) chains too long: tests joined by
/// `and`/`or`, or the parts of one variable.
fn long_chain(syntax: &str) -> Option<String> {
    let mut joins = 0;
    for word in syntax.split_whitespace() {
        if matches!(word, "and" | "or") {
            joins += 1;
            if joins > MAX_CHAIN {
                return Some(format!("a condition joins more than {MAX_CHAIN} tests with and/or (the limit)"));
            }
        }
        if word.chars().filter(|c| matches!(c, '.' | '[')).count() > MAX_CHAIN {
            return Some(format!("a variable has more than {MAX_CHAIN} parts (a.b.c; the limit)"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_ifs(levels: usize) -> String {
        "{% if true %}".repeat(levels) + "x" + &"{% endif %}".repeat(levels)
    }

    #[test]
    fn counts_blocks_and_brackets() {
        assert_eq!(too_deep(&nested_ifs(32), 32), None);
        assert_eq!(too_deep(&nested_ifs(33), 32).map(|(l, c, _)| (l, c)), Some((1, 1 + 32 * 13)));
        // Siblings do not add up.
        assert_eq!(too_deep(&nested_ifs(20).repeat(10), 32), None);
        assert!(too_deep(&format!("{{{{ a{}1{} }}}}", "[a".repeat(40), "]".repeat(40)), 32).is_some());
        assert_eq!(too_deep("{{ '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' }}", 32), None);
        assert_eq!(too_deep(&format!("{{% raw %}}{}{{% endraw %}}", nested_ifs(100)), 32), None);
        assert_eq!(too_deep("line\n  {{ x ", 32), None);
    }

    #[test]
    fn a_quoted_close_cannot_hide_the_nesting_after_it() {
        // Both once made the check stop early, and the parser then overflowed the stack.
        let after_assign = format!("{{% assign x = \"%}}{{{{\" %}}{}", nested_ifs(100));
        assert!(too_deep(&after_assign, 32).is_some());
        let after_raw = format!("{{% raw %}}{{{{ \"{{%\" }}}}{{% endraw %}}{}", nested_ifs(100));
        assert!(too_deep(&after_raw, 32).is_some());
    }

    #[test]
    fn counts_chains() {
        let ors = |n: usize| format!("{{% if a{} %}}x{{% endif %}}", " or a".repeat(n));
        assert_eq!(too_deep(&ors(MAX_CHAIN), 32), None);
        assert!(too_deep(&ors(MAX_CHAIN + 1), 32).is_some_and(|(_, _, m)| m.contains("and/or")));
        assert_eq!(too_deep(&format!("{{{{ '{}' }}}}", " or".repeat(1000)), 32), None, "in a string it is text");
        let elsifs = |n: usize| format!("{{% if a %}}{}{{% endif %}}", "{% elsif b %}x".repeat(n));
        assert_eq!(too_deep(&elsifs(MAX_CHAIN), 32), None);
        assert!(too_deep(&elsifs(MAX_CHAIN + 1), 32).is_some_and(|(_, _, m)| m.contains("elsif")));
        // Sibling ifs each have their own elsifs.
        assert_eq!(too_deep(&elsifs(200).repeat(3), 32), None);
        let dots = |n: usize| format!("{{{{ a{} }}}}", ".b".repeat(n));
        assert_eq!(too_deep(&dots(MAX_CHAIN), 32), None);
        assert!(too_deep(&dots(MAX_CHAIN + 1), 32).is_some_and(|(_, _, m)| m.contains("parts")));
    }
}
