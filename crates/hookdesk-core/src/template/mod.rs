//! Liquid templates as helpdesk admins expect them: a missing variable renders empty (never
//! an error), `url_encode`/`uri_encode` and `json` filters, and parse errors that say where.

mod filters;
mod lax;

use std::sync::{Arc, LazyLock};

use liquid::model::{Object, Value};
use serde::{Serialize, Serializer};

use crate::Invalid;

static PARSER: LazyLock<liquid::Parser> = LazyLock::new(|| {
    liquid::ParserBuilder::with_stdlib()
        .filter(filters::UrlEncode)
        .filter(filters::UriEncode)
        .filter(filters::Json)
        .filter(filters::JsonPretty)
        .filter(filters::ParseJson)
        .build()
        .expect("the standard library and our filters register without conflict")
});

/// A parsed template with its source. Parsing happens once, when a rule is saved or loaded.
#[derive(Clone)]
pub struct Template {
    source: Arc<str>,
    compiled: Arc<liquid::Template>,
}

impl Template {
    /// Parses `source`; the error names `field` and the line and column of the problem.
    pub fn parse(field: &str, source: &str) -> Result<Self, Invalid> {
        match PARSER.parse(source) {
            Ok(compiled) => Ok(Self { source: source.into(), compiled: Arc::new(compiled) }),
            Err(error) => Err(parse_error(field, source, &error.to_string())),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders against `context`. Unknown variables are nil; what can still fail is a filter
    /// given arguments it cannot use (`{{ 1 | divided_by: 0 }}`).
    pub fn render(&self, context: &Context) -> Result<String, RenderError> {
        self.compiled.render(lax::Root::new(&context.0)).map_err(|e| RenderError(first_line(&e.to_string())))
    }
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template error: {0}")]
pub struct RenderError(pub String);

/// The variables a template sees: `ticket`, `current_user`, `trigger`, `webhook`, `event`...
#[derive(Debug, Clone, Default)]
pub struct Context(Value);

impl Context {
    pub fn new() -> Self {
        Self(Value::Object(Object::new()))
    }

    /// Adds a top-level variable from any JSON value.
    #[must_use]
    pub fn with(mut self, name: &str, value: &serde_json::Value) -> Self {
        if let Value::Object(globals) = &mut self.0 {
            globals.insert(name.to_owned().into(), json_to_liquid(value));
        }
        self
    }
}

fn json_to_liquid(value: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match value {
        J::Null => Value::Nil,
        J::Bool(b) => Value::scalar(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::scalar(i),
            (None, Some(f)) => Value::scalar(f),
            (None, None) => Value::scalar(n.to_string()),
        },
        J::String(s) => Value::scalar(s.clone()),
        J::Array(items) => Value::Array(items.iter().map(json_to_liquid).collect()),
        J::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone().into(), json_to_liquid(v))).collect()),
    }
}

fn first_line(message: &str) -> String {
    message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("error").to_owned()
}

/// liquid reports grammar errors as `--> LINE:COL` followed by `= reason`; unknown filters
/// and tags come without a position but name what was requested. Turn either into one
/// sentence with a line and column.
fn parse_error(field: &str, source: &str, message: &str) -> Invalid {
    let lines: Vec<&str> = message.lines().map(str::trim).collect();
    let position = lines.iter().find_map(|line| {
        let (_, rest) = line.split_once("-->")?;
        let (l, c) = rest.trim().split_once(':')?;
        Some((l.trim().parse::<usize>().ok()?, c.trim().parse::<usize>().ok()?))
    });
    let requested = lines.iter().find_map(|l| {
        l.strip_prefix("requested filter=")
            .map(|name| ("filter", name))
            .or_else(|| l.strip_prefix("requested=").map(|name| ("tag", name)))
    });
    let reason = match requested {
        Some((kind, name)) => format!("unknown {kind} `{name}`"),
        None => lines
            .iter()
            .find_map(|l| l.strip_prefix("= "))
            .or_else(|| lines.first().map(|l| l.trim_start_matches("liquid:").trim()))
            .filter(|r| !r.is_empty())
            .unwrap_or("syntax error")
            .to_owned(),
    };
    let (line, column) = position
        .or_else(|| requested.and_then(|(_, name)| offset_to_position(source, find_word(source, name)?)))
        .unwrap_or((1, 1));
    Invalid {
        field: field.to_owned(),
        message: format!("Liquid syntax error at line {line}, column {column}: {reason}"),
        line: Some(line),
        column: Some(column),
    }
}

fn find_word(source: &str, word: &str) -> Option<usize> {
    source.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = source[..i].chars().next_back();
        let after = source[i + word.len()..].chars().next();
        let is_ident = |c: char| c.is_alphanumeric() || c == '_';
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

fn offset_to_position(source: &str, offset: usize) -> Option<(usize, usize)> {
    let before = source.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(source: &str, ticket: serde_json::Value) -> String {
        let context = Context::new().with("ticket", &ticket);
        Template::parse("t", source).expect("parses").render(&context).expect("renders")
    }

    #[test]
    fn missing_variables_render_empty_and_default_applies() {
        let t = json!({"id": 7, "subject": "Hi"});
        assert_eq!(render("[{{ ticket.missing }}]", t.clone()), "[]");
        assert_eq!(render("{{ ticket.missing | default: 'n/a' }}", t.clone()), "n/a");
        assert_eq!(render("{{ nothere.x.y | default: 'n/a' }}", t.clone()), "n/a");
        assert_eq!(render("{% if ticket.missing %}yes{% else %}no{% endif %}", t.clone()), "no");
        assert_eq!(render("{{ ticket.id }}-{{ ticket.subject }}", t), "7-Hi");
    }

    #[test]
    fn a_captured_document_parses_and_prints_pretty() {
        let t = json!({"id": 7, "tags": ["a"]});
        // Keys come out sorted: Liquid's objects have no order of their own.
        let source = r#"{% capture doc %}{"tags": {{ ticket.tags | json }}, "id": {{ ticket.id }}}{% endcapture %}{{ doc | parse_json | json_pretty }}"#;
        assert_eq!(render(source, t.clone()), "{\n  \"id\": 7,\n  \"tags\": [\n    \"a\"\n  ]\n}");
        assert_eq!(render("{{ 'not json' | parse_json | json }}", t.clone()), "null");
        assert_eq!(render("{{ ticket.missing | json_pretty }}", t), "null");
    }

    #[test]
    fn arrays_stay_lenient_and_iterable() {
        let t = json!({"tags": ["a", "b"], "comments": [{"body": "x"}]});
        assert_eq!(render("{% for tag in ticket.tags %}{{ tag }},{% endfor %}", t.clone()), "a,b,");
        assert_eq!(render("{{ ticket.tags.size }} {{ ticket.tags.first }}", t.clone()), "2 a");
        assert_eq!(render("[{{ ticket.comments[0].missing }}]", t.clone()), "[]");
        assert_eq!(render("[{{ ticket.comments[5].body }}]", t), "[]");
    }

    #[test]
    fn encode_filters_are_the_same_and_encode_components() {
        let t = json!({"subject": "Printer on fire & smoke/help? ü~"});
        let expected = "Printer%20on%20fire%20%26%20smoke%2Fhelp%3F%20%C3%BC~";
        assert_eq!(render("{{ ticket.subject | url_encode }}", t.clone()), expected);
        assert_eq!(render("{{ ticket.subject | uri_encode }}", t), expected);
    }

    #[test]
    fn json_filter_quotes_and_escapes() {
        let t = json!({"subject": "Say \"hi\"\n", "tags": ["a"], "n": 3});
        assert_eq!(render("{{ ticket.subject | json }}", t.clone()), r#""Say \"hi\"\n""#);
        assert_eq!(render("{{ ticket.tags | json }}", t.clone()), r#"["a"]"#);
        assert_eq!(render("{{ ticket.n | json }}", t.clone()), "3");
        assert_eq!(render("{{ ticket.missing | json }}", t), "null");
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = Template::parse("payload", "{\n  \"a\": {{ ticket.id \n}").expect_err("bad");
        assert_eq!(err.field, "payload");
        assert_eq!(err.line, Some(2), "{err:?}");
        assert!(err.column.is_some());
        assert!(err.message.contains("line 2"), "{}", err.message);

        let err = Template::parse("payload", "ok\n{{ x | no_such_filter }}").expect_err("bad");
        assert_eq!((err.line, err.column), (Some(2), Some(8)), "{err:?}");
        assert!(err.message.contains("no_such_filter"), "{}", err.message);

        let err = Template::parse("payload", "{% if x %}open").expect_err("bad");
        assert!(err.message.contains("endif"), "{err:?}");
        let err = Template::parse("payload", "{% bogus %}").expect_err("bad");
        assert_eq!((err.line, err.column), (Some(1), Some(4)), "{err:?}");
        assert!(err.message.contains("unknown tag `bogus`"), "{err:?}");
    }
}
