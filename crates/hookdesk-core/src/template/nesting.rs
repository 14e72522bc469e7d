//! How deep a template nests, found before parsing: liquid's parser recurses once per level,
//! and a template of a thousand nested `{% if %}` overflows the stack of the thread that
//! parses it, which aborts the whole process. Long chains recurse too: `and`/`or` in one
//! condition, `elsif` in one `if`, the parts of one variable (`a.b.c`).

/// The longest chain of `and`/`or`, `elsif` or variable parts (thousands overflow).
pub(super) const MAX_CHAIN: usize = 256;

/// Tags that open a block closed by `end` + their name.
const BLOCKS: &[&str] = &["if", "unless", "case", "for", "tablerow", "capture", "comment", "ifchanged", "raw"];

/// Where and how `source` first nests deeper than `limit` (blocks, and brackets or
/// parentheses inside a tag or output) or chains longer than [`MAX_CHAIN`], if it does.
pub(super) fn too_deep(source: &str, limit: usize) -> Option<(usize, usize, String)> {
    let mut depth = 0usize;
    // `elsif`s of each open block.
    let mut chains: Vec<usize> = Vec::new();
    let mut at = 0;
    while let Some(found) = source[at..].find('{') {
        let start = at + found;
        let rest = &source[start..];
        let close = if rest.starts_with("{%") {
            "%}"
        } else if rest.starts_with("{{") {
            "}}"
        } else {
            at = start + 1;
            continue;
        };
        // An unclosed tag is the parser's to report; its brackets still count.
        let Some(end) = rest[2..].find(close).map(|e| start + 2 + e) else {
            return (depth + brackets(&source[start + 2..]) > limit).then(|| refusal(source, start, limit));
        };
        let markup = &source[start + 2..end];
        let mut level = depth;
        if close == "%}" {
            let name = markup.trim_start_matches('-').split_whitespace().next().unwrap_or_default();
            if BLOCKS.contains(&name) {
                depth += 1;
                chains.push(0);
                level = depth;
                if name == "raw" {
                    // Nothing inside raw is markup.
                    match find_end_raw(source, end) {
                        Some(after) => {
                            depth -= 1;
                            chains.pop();
                            at = after;
                            continue;
                        }
                        None => return None,
                    }
                }
            } else if name.strip_prefix("end").is_some_and(|block| BLOCKS.contains(&block)) {
                depth = depth.saturating_sub(1);
                chains.pop();
            } else if name == "elsif"
                && let Some(elsifs) = chains.last_mut()
            {
                *elsifs += 1;
                if *elsifs > MAX_CHAIN {
                    let (line, column) = position(source, start);
                    return Some((line, column, format!("an if has more than {MAX_CHAIN} elsif (the limit)")));
                }
            }
        }
        if level + brackets(markup) > limit {
            return Some(refusal(source, start, limit));
        }
        if let Some(reason) = long_chain(markup) {
            let (line, column) = position(source, start);
            return Some((line, column, reason));
        }
        at = end + 2;
    }
    None
}

/// The deepest bracket or parenthesis nesting in a tag's markup, outside quoted strings.
fn brackets(markup: &str) -> usize {
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None);
    for c in markup.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn refusal(source: &str, at: usize, limit: usize) -> (usize, usize, String) {
    let (line, column) = position(source, at);
    (line, column, format!("the template nests blocks or brackets more than {limit} deep (the limit)"))
}

/// What in one tag's markup chains too long: tests joined by `and`/`or`, or the parts of
/// one variable.
fn long_chain(markup: &str) -> Option<String> {
    let mut joins = 0;
    for word in markup.split_whitespace() {
        if matches!(word, "and" | "or") {
            joins += 1;
            if joins > MAX_CHAIN {
                return Some(format!("a condition joins more than {MAX_CHAIN} tests with and/or (the limit)"));
            }
        }
        let parts = word.chars().filter(|c| matches!(c, '.' | '[')).count();
        if parts > MAX_CHAIN && !word.starts_with(['"', '\'']) {
            return Some(format!("a variable has more than {MAX_CHAIN} parts (a.b.c; the limit)"));
        }
    }
    None
}

/// Where the `{% endraw %}` after `from` ends.
fn find_end_raw(source: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = source[at..].find("{%") {
        let start = at + found;
        let end = start + 2 + source[start + 2..].find("%}")?;
        if source[start + 2..end].trim_matches(|c: char| c == '-' || c.is_whitespace()) == "endraw" {
            return Some(end + 2);
        }
        at = end + 2;
    }
    None
}

fn position(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
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
    fn counts_chains() {
        let ors = |n: usize| format!("{{% if a{} %}}x{{% endif %}}", " or a".repeat(n));
        assert_eq!(too_deep(&ors(MAX_CHAIN), 32), None);
        assert!(too_deep(&ors(MAX_CHAIN + 1), 32).is_some_and(|(_, _, m)| m.contains("and/or")));
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
