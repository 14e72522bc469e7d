//! A webhook's endpoint: an absolute http(s) URL whose placeholders cannot change where it
//! goes. A placeholder in the path or query renders percent-encoded as one segment or value
//! (a subject of `../../admin?x#` stays inside its segment); one in the host must render a
//! host name; and the rendered URL keeps the template's scheme and host. Raw output, for a
//! placeholder that renders a whole path on purpose, is asked for with `| raw`, never in the
//! host.

use crate::Invalid;
use crate::template::{Template, lex};

/// Filters the endpoint's placeholders get, by where they are.
const IN_HOST: &str = "url_host";
const IN_PATH_OR_QUERY: &str = "url_segment";

/// The endpoint: the template as written, and as it renders (placeholders encoded).
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    template: Template,
    /// The host and port every rendering must keep; `None` when the authority has markup
    /// (then only the scheme is fixed, and a placeholder there must render a host name).
    origin: Option<(String, Option<u16>)>,
    scheme: String,
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let lower = text.trim_start().to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(Invalid::new("endpoint", "must be an absolute http:// or https:// URL"));
        }
        if text.len() > 2048 {
            return Err(Invalid::new("endpoint", "must be at most 2048 characters"));
        }
        // Parsed as written first, so that mistakes are reported where they are.
        Template::parse("endpoint", text)?;
        let (rewritten, authority_is_literal) = encode_placeholders(text)?;
        let template = Template::parse_rewritten("endpoint", text, &rewritten)?;
        let scheme = if lower.starts_with("https://") { "https" } else { "http" }.to_owned();
        // An authority that is not a URL's makes every rendering fail anyway (and saving
        // one is refused after a sample render); a stored one still loads.
        let origin = authority_is_literal
            .then(|| check_url(&authority_prefix(text)).ok())
            .flatten()
            .map(|url| (url.host_str().unwrap_or_default().to_owned(), url.port_or_known_default()));
        if !text.contains("{{") && !text.contains("{%") {
            check_url(text).map_err(|m| Invalid::new("endpoint", m))?;
        }
        Ok(Self { template, origin, scheme })
    }

    /// The template as rendered (its source is the endpoint as written).
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Checks a rendering: a valid URL, the template's scheme and host, and no `..` segment
    /// (which a URL parser would resolve, climbing out of the path the template set).
    pub fn check_rendered(&self, rendered: &str) -> Result<url::Url, String> {
        let raw_path = rendered.trim().split_once("://").map_or("", |(_, rest)| {
            let rest = rest.split(['?', '#']).next().unwrap_or_default();
            rest.find('/').map_or("", |at| &rest[at..])
        });
        // As a URL parser reads it: `\` is `/` in http URLs, tabs and newlines vanish.
        let raw_path = raw_path.replace('\\', "/").replace(['\t', '\n', '\r'], "");
        let dot = |segment: &str| {
            let s = segment.to_ascii_lowercase().replace("%2e", ".");
            s == "." || s == ".."
        };
        if raw_path.split('/').any(dot) {
            return Err(format!(
                "{rendered:?} has a . or .. path segment, which would leave the path the endpoint sets"
            ));
        }
        let url = check_url(rendered)?;
        if url.scheme() != self.scheme {
            return Err(format!("{rendered:?} does not keep the endpoint's scheme ({})", self.scheme));
        }
        if let Some((host, port)) = &self.origin
            && (url.host_str() != Some(host.as_str()) || url.port_or_known_default() != *port)
        {
            return Err(format!("{rendered:?} does not keep the endpoint's host ({host})"));
        }
        Ok(url)
    }
}

/// `scheme://authority` of an endpoint as written.
fn authority_prefix(text: &str) -> String {
    let text = text.trim();
    let (scheme, rest) = text.split_once("://").unwrap_or((text, ""));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{authority}/")
}

/// Where in the URL a placeholder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Scheme,
    Authority,
    Rest,
}

/// The endpoint with a filter after each output (`{{ x }}` -> `{{ x | url_segment }}`), or
/// `raw` removed where asked; answers too whether the authority is free of markup.
fn encode_placeholders(source: &str) -> Result<(String, bool), Invalid> {
    let mut out = String::with_capacity(source.len() + 32);
    let mut part = Part::Scheme;
    let mut authority_is_literal = true;
    for element in lex::elements(source) {
        let text = &source[element.start..element.end];
        match element.kind {
            lex::Kind::Text => {
                part = advance(part, text);
                out.push_str(text);
            }
            lex::Kind::Output { markup } => {
                if part != Part::Rest {
                    authority_is_literal = false;
                }
                let (open, close) = lex::delimiters(text);
                out.push_str(&format!("{open} {} {close}", encode_output(markup, part)?));
            }
            // Tags that print, and `liquid`, whose lines may: their output would not be encoded.
            lex::Kind::Tag { name: name @ ("cycle" | "echo" | "liquid"), .. } => {
                return Err(Invalid::new(
                    "endpoint",
                    format!(
                        "{{% {name} %}} is not allowed in an endpoint: its output would not be encoded; use {{{{ }}}}"
                    ),
                ));
            }
            lex::Kind::Tag { .. } | lex::Kind::Unclosed { .. } => {
                if part != Part::Rest {
                    authority_is_literal = false;
                }
                out.push_str(text);
            }
        }
    }
    Ok((out, authority_is_literal))
}

/// Moves through the literal text of a URL: past `://` is the authority, past its first
/// `/`, `?` or `#` the rest.
fn advance(mut part: Part, literal: &str) -> Part {
    let mut text = literal;
    if part == Part::Scheme {
        match text.find("://") {
            Some(at) => {
                part = Part::Authority;
                text = &text[at + 3..];
            }
            None => return part,
        }
    }
    if part == Part::Authority && text.contains(['/', '?', '#']) {
        part = Part::Rest;
    }
    part
}

/// Filters whose output is encoded already: an endpoint written before hookdesk encoded
/// placeholders itself (`{{ ticket.subject | uri_encode }}`) is not encoded twice. (`url_encode`
/// writes a space as `+`: right in a query value, a plus sign in a path.)
const ENCODING: &[&str] = &["url_encode", "uri_encode", IN_PATH_OR_QUERY];

/// One output's markup (`x | f: 1`), with the filter its place needs.
fn encode_output(markup: &str, part: Part) -> Result<String, Invalid> {
    let last = last_filter(markup);
    Ok(match (last, part) {
        (Some((before, "raw")), Part::Rest) => before.trim_end().to_owned(),
        (Some((_, "raw")), _) => {
            return Err(Invalid::new(
                "endpoint",
                "| raw is not allowed in the scheme or host: a placeholder there renders one host name",
            ));
        }
        (Some((_, name)), Part::Rest) if ENCODING.contains(&name) => markup.to_owned(),
        (_, Part::Rest) => format!("{markup} | {IN_PATH_OR_QUERY}"),
        (_, _) => format!("{markup} | {IN_HOST}"),
    })
}

/// A query parameter's template (a notification's `params`): its value is encoded as the URL
/// is built, so an output that encodes itself (`{{ ticket.subject | uri_encode }}`, written
/// for a helpdesk that did not) is not encoded twice: that last filter is left out.
pub fn param_template(field: &str, source: &str) -> Result<Template, Invalid> {
    let mut compiled = String::with_capacity(source.len());
    let mut rewritten = false;
    for element in lex::elements(source) {
        let text = &source[element.start..element.end];
        match (element.kind, last_filter_of(element.kind)) {
            (lex::Kind::Output { .. }, Some((before, "url_encode" | "uri_encode"))) => {
                let (open, close) = lex::delimiters(text);
                compiled.push_str(&format!("{open} {} {close}", before.trim()));
                rewritten = true;
            }
            _ => compiled.push_str(text),
        }
    }
    if rewritten { Template::parse_rewritten(field, source, &compiled) } else { Template::parse(field, source) }
}

fn last_filter_of(kind: lex::Kind<'_>) -> Option<(&str, &str)> {
    match kind {
        lex::Kind::Output { markup } => last_filter(markup),
        _ => None,
    }
}

/// The expression before the last `|` outside quotes, and the name of that last filter.
fn last_filter(expression: &str) -> Option<(&str, &str)> {
    let mut quote = None;
    let mut last_pipe = None;
    for (i, c) in expression.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '|') => last_pipe = Some(i),
            _ => {}
        }
    }
    let at = last_pipe?;
    let name = expression[at + 1..].trim().split([':', ' ']).next().unwrap_or_default();
    Some((&expression[..at], name))
}

/// Checks a (rendered) destination URL: http or https, a host, no credentials in it.
pub fn check_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?} must use http or https"));
    }
    if url.host().is_none() {
        return Err(format!("{text:?} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL are not allowed: use authentication".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::template::Context;

    #[test]
    fn a_parameter_that_encodes_itself_is_not_encoded_twice() {
        let context = Context::new().with("ticket", &json!({"id": 7, "subject": "a b&c"}));
        let source = "Case {{ ticket.id }}: {{- ticket.subject | uri_encode -}}!{{ ticket.subject | url_encode }}";
        let template = param_template("params.text", source).expect("a template");
        assert_eq!(template.source(), source, "shown as written");
        assert_eq!(template.render(&context).expect("renders"), "Case 7:a b&c!a b&c");
        let plain = param_template("params.text", "{{ ticket.subject | upcase }}").expect("a template");
        assert_eq!(plain.render(&context).expect("renders"), "A B&C");
    }

    fn render(endpoint: &str, subject: &str) -> Result<String, String> {
        let endpoint = Endpoint::parse(endpoint).map_err(|e| e.message)?;
        let context = Context::new().with("ticket", &json!({"id": 7, "subject": subject, "sub": "acme"}));
        let rendered = endpoint.template().render(&context).map_err(|e| e.to_string())?;
        endpoint.check_rendered(&rendered).map(String::from)
    }

    #[test]
    fn placeholders_stay_inside_their_segment_and_value() {
        let endpoint = "http://crm.example/api/customers/{{ ticket.subject }}/notes?q={{ ticket.subject }}";
        assert_eq!(
            render(endpoint, "../../admin/users/1?action=delete#").expect("renders"),
            "http://crm.example/api/customers/..%2F..%2Fadmin%2Fusers%2F1%3Faction%3Ddelete%23/notes?q=..%2F..%2Fadmin%2Fusers%2F1%3Faction%3Ddelete%23"
        );
        assert_eq!(
            render(endpoint, "a b&c=d").expect("renders"),
            "http://crm.example/api/customers/a%20b%26c%3Dd/notes?q=a%20b%26c%3Dd"
        );
        // A whole `..` segment would climb out of the path.
        assert!(render(endpoint, "..").is_err_and(|e| e.contains("..")));
        assert_eq!(
            render("http://crm.example/x/{{ ticket.subject }}", "%2e%2E").expect("renders"),
            "http://crm.example/x/%252e%252E"
        );
        assert!(
            render("http://crm.example/x/{{ ticket.subject | raw }}/y", "%2e%2E")
                .is_err_and(|e| e.contains("has a . or .. path segment")),
            "even raw cannot climb"
        );
        // The source shown is the endpoint as written.
        let parsed = Endpoint::parse(endpoint).expect("parses");
        assert_eq!(parsed.template().source(), endpoint);
    }

    #[test]
    fn raw_is_asked_for_and_never_in_the_host() {
        assert_eq!(
            render("http://crm.example/{{ ticket.subject | raw }}", "a/b?c=1").expect("renders"),
            "http://crm.example/a/b?c=1"
        );
        assert_eq!(
            render("http://crm.example/{{- ticket.id | plus: 1 -}}/x", "s").expect("renders"),
            "http://crm.example/8/x"
        );
        let raw_host = Endpoint::parse("http://{{ ticket.sub | raw }}.example.com/").expect_err("raw in the host");
        assert!(raw_host.message.starts_with("| raw is not allowed in the scheme or host"), "{raw_host}");
        // A placeholder in the host must render a host name, and keeps the scheme.
        assert_eq!(
            render("https://{{ ticket.sub }}.zendesk.example/api", "s").expect("renders"),
            "https://acme.zendesk.example/api"
        );
        assert!(
            render("https://{{ ticket.subject }}.zendesk.example/api", "evil.com/x?")
                .is_err_and(|e| e.ends_with("rendered \"evil.com/x?\", which is not part of a host name"))
        );
        // Raw output cannot move the host either: right after the host is still the host.
        assert!(
            render("http://crm.example{{ ticket.subject | raw }}", "@evil.com/")
                .is_err_and(|e| e.starts_with("| raw is not allowed in the scheme or host"))
        );
        assert!(render("http://crm.example/{{ ticket.subject | raw }}", "x").is_ok());
        // Backslashes and tabs are how a URL parser may still read `..`.
        for climbing in ["..\\..\\admin", ".\t."] {
            assert!(
                render("http://crm.example/a/{{ ticket.subject | raw }}/b", climbing)
                    .is_err_and(|e| e.contains("has a . or .. path segment")),
                "{climbing:?}"
            );
        }
    }

    #[test]
    fn markup_the_encoding_cannot_be_led_around() {
        // A quoted `}}` is part of its output: the placeholder after it is encoded too.
        assert_eq!(
            render("http://crm.example/{{ \"}}{%\" }}/{{ ticket.subject }}", "a/b").expect("renders"),
            "http://crm.example/%7D%7D%7B%25/a%2Fb"
        );
        for tag in ["{% cycle ticket.subject %}", "{% echo ticket.subject %}", "{% liquid echo ticket.subject %}"] {
            let refused = Endpoint::parse(&format!("http://crm.example/{tag}")).expect_err("prints raw data");
            assert!(refused.to_string().contains("is not allowed in an endpoint"), "{refused}");
            let in_host = Endpoint::parse(&format!("http://{tag}.example/")).expect_err("in the host");
            assert!(in_host.to_string().contains("is not allowed in an endpoint"), "{tag} in the host: {in_host}");
        }
        // Endpoints that encoded their placeholders themselves are not encoded twice.
        assert_eq!(
            render("http://crm.example/q?s={{ ticket.subject | url_encode }}", "a b").expect("renders"),
            "http://crm.example/q?s=a+b"
        );
        // A tag beside the host is not a host placeholder; the scheme still holds.
        assert_eq!(
            render("https://crm.example{% if ticket.id %}/v2{% endif %}/x", "s").expect("renders"),
            "https://crm.example/v2/x"
        );
    }
}
