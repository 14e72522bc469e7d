//! Outputs that a JSON payload places inside a string literal (`"text": "{{ ticket.subject }}"`)
//! with nothing to escape them. Liquid writes values as they are, so a quote or a backslash in
//! a ticket's text there changes the document's structure (`a", "role": "admin`) or breaks
//! it: whoever writes tickets, an outside form included, writes the payload. `{{ ticket.subject
//! | json }}` in place of the whole quoted string is the escaped form.

use super::lex::{Kind, elements};

/// Filters whose output holds no quote, backslash or control character.
const SAFE_FILTERS: [&str; 19] = [
    "uri_encode",
    "url_encode",
    "url_escape",
    "base64_encode",
    "base64_url_safe_encode",
    "md5",
    "sha1",
    "sha256",
    "hmac_sha1",
    "hmac_sha256",
    "size",
    "plus",
    "minus",
    "times",
    "divided_by",
    "modulo",
    "round",
    "ceil",
    "floor",
];

/// Values that are numbers, ids, names of a closed set or URLs hookdesk makes.
const SAFE_VALUES: [&str; 17] = [
    "ticket.id",
    "ticket.status",
    "ticket.priority",
    "ticket.type",
    "ticket.assignee_id",
    "ticket.requester.id",
    "ticket.created_at",
    "ticket.updated_at",
    "ticket.url",
    "ticket.api_url",
    "current_user.id",
    "current_user.role",
    "trigger.id",
    "webhook.id",
    "event.id",
    "event.type",
    "event.time",
];

/// The markup of each output of `source` that sits inside a JSON string unescaped.
pub fn unescaped_in_json_strings(source: &str) -> Vec<&str> {
    placements(source).into_iter().filter(|p| p.in_string && !is_escaped(p.markup)).map(|p| p.markup).collect()
}

/// `source` with each output that is a whole JSON string by itself (`"{{ ticket.title }}"`)
/// written as the escaped literal (`{{ ticket.title | json }}`), where it is not escaped.
pub fn json_escape_whole_strings(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    for p in placements(source) {
        let whole = p.in_string
            && source[..p.start].ends_with('"')
            && source[p.end..].starts_with('"')
            && !is_escaped(p.markup);
        if whole {
            out.push_str(&source[at..p.start - 1]);
            out.push_str(&format!("{{{{ {} | json }}}}", p.markup));
            at = p.end + 1;
        }
    }
    out.push_str(&source[at..]);
    out
}

struct Placement<'s> {
    start: usize,
    end: usize,
    markup: &'s str,
    in_string: bool,
}

/// Each output of `source`, and whether the text before it left a JSON string open. Tags are
/// read through (both branches of an `if` count as written in order).
fn placements(source: &str) -> Vec<Placement<'_>> {
    let (mut in_string, mut escaped) = (false, false);
    let mut found = Vec::new();
    for element in elements(source) {
        match element.kind {
            Kind::Text => {
                for byte in source[element.start..element.end].bytes() {
                    match byte {
                        _ if escaped => escaped = false,
                        b'\\' if in_string => escaped = true,
                        b'"' => in_string = !in_string,
                        _ => {}
                    }
                }
            }
            // `{% echo x %}` writes as `{{ x }}` does.
            Kind::Output { markup } | Kind::Tag { name: "echo", markup } => {
                found.push(Placement { start: element.start, end: element.end, markup, in_string });
            }
            Kind::Tag { .. } | Kind::Unclosed { .. } => {}
        }
    }
    found
}

/// Whether an output's value cannot hold a quote: a literal, a safe value, or a last filter
/// that escapes.
fn is_escaped(markup: &str) -> bool {
    let mut parts = markup.split('|').map(str::trim);
    let value = parts.next().unwrap_or_default();
    let last_filter = parts.next_back().map(|f| f.split(':').next().unwrap_or_default().trim());
    match last_filter {
        Some(filter) => SAFE_FILTERS.contains(&filter),
        None => SAFE_VALUES.contains(&value) || value.starts_with(|c: char| c.is_ascii_digit() || c == '-'),
    }
}

#[cfg(test)]
mod tests {
    use super::{json_escape_whole_strings, unescaped_in_json_strings};

    #[test]
    fn outputs_inside_strings_are_found_unless_escaped() {
        let payload = r#"{"text": "Case {{ ticket.id }}: {{ ticket.subject }}", "id": {{ ticket.id }},
            "s": {{ ticket.subject | json }}, "u": "{{ ticket.subject | uri_encode }}", "q": "a \" {{ ticket.description }}",
            "n": "{{ ticket.requester.name | upcase }}"}"#;
        assert_eq!(
            unescaped_in_json_strings(payload),
            ["ticket.subject", "ticket.description", "ticket.requester.name | upcase"]
        );
        assert!(unescaped_in_json_strings(r#"{"a": {{ ticket.subject | json }}}"#).is_empty());
        assert_eq!(unescaped_in_json_strings(r#"{"t": "{% echo ticket.subject %}"}"#), ["ticket.subject"]);
    }

    #[test]
    fn whole_strings_become_escaped_literals() {
        assert_eq!(
            json_escape_whole_strings(
                r#"{"title": "{{ticket.title}}", "id": "{{ ticket.id }}", "t": "Re: {{ticket.title}}"}"#
            ),
            r#"{"title": {{ ticket.title | json }}, "id": "{{ ticket.id }}", "t": "Re: {{ticket.title}}"}"#
        );
    }
}
