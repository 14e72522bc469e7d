//! Liquid templates as helpdesk admins expect them: Shopify's semantics (`shopify`, `inline`;
//! `parity` holds the table), a missing variable renders empty (never an error), our
//! `uri_encode` and `json` filters, and parse and render errors that say where and what.
//! Every render runs under a budget (`budget`): no template can take the process down.

mod arithmetic;
mod blocks;
mod budget;
mod case;
mod cost;
mod decimal;
mod filters;
mod for_loop;
mod inline;
mod items;
mod json_strings;
mod lax;
pub(crate) mod lex;
mod nesting;
#[cfg(test)]
mod parity;
#[cfg(test)]
mod properties;
mod recent;
mod shopify;
mod syntax;
mod tablerow;
mod tags;
mod walked;

use std::sync::{Arc, LazyLock};

use liquid::model::{Object, Value};
use liquid_lib::stdlib;
use serde::{Serialize, Serializer};

use crate::{Invalid, text};
pub use budget::{
    Budget, MAX_ITERATIONS, MAX_OUTPUT_BYTES, MAX_RANGE, MAX_RENDER_TIME, MAX_VALUE_BYTES, MAX_WORK_BYTES,
};
pub use cost::{Offload, offloaded, set_offload};
use filters::Bounded;
pub use json_strings::{json_escape_whole_strings, unescaped_in_json_strings};
pub use nesting::MAX_NESTING;
pub use shopify::{set_time_zone, time_zone};
use tags::Checked;

static PARSER: LazyLock<liquid::Parser> = LazyLock::new(|| {
    let parser = liquid::ParserBuilder::new()
        .tag(tags::Assign)
        .tag(tags::Echo)
        .tag(Checked(stdlib::BreakTag))
        .tag(Checked(stdlib::ContinueTag))
        .tag(Checked(stdlib::CycleTag))
        .tag(Checked(stdlib::IncrementTag))
        .tag(Checked(stdlib::DecrementTag))
        .block(Checked(stdlib::RawBlock))
        .block(Checked(stdlib::IfBlock))
        .block(Checked(stdlib::UnlessBlock))
        .block(tags::IfChanged)
        .block(Checked(for_loop::ForBlock))
        .block(Checked(tablerow::TableRowBlock))
        .block(Checked(stdlib::CommentBlock))
        .block(tags::Capture)
        .block(Checked(case::CaseBlock))
        .filter(Bounded(arithmetic::Abs))
        .filter(Bounded(stdlib::Append))
        .filter(Bounded(arithmetic::Bound::AtLeast))
        .filter(Bounded(arithmetic::Bound::AtMost))
        .filter(Bounded(shopify::Capitalize))
        .filter(Bounded(arithmetic::Ceil))
        .filter(Bounded(stdlib::Compact))
        .filter(Bounded(stdlib::Concat))
        .filter(Bounded(shopify::Date))
        .filter(Bounded(shopify::Default))
        .filter(Bounded(arithmetic::Arithmetic::DividedBy))
        .filter(Bounded(stdlib::Downcase))
        .filter(Bounded(stdlib::Escape))
        .filter(Bounded(stdlib::EscapeOnce))
        .filter(Bounded(items::First))
        .filter(Bounded(arithmetic::Floor))
        .filter(Bounded(filters::Join))
        .filter(Bounded(arithmetic::Range))
        .filter(Bounded(items::Last))
        .filter(Bounded(stdlib::Lstrip))
        .filter(Bounded(items::Map))
        .filter(Bounded(arithmetic::Arithmetic::Minus))
        .filter(Bounded(arithmetic::Arithmetic::Modulo))
        .filter(Bounded(stdlib::NewlineToBr))
        .filter(Bounded(arithmetic::Arithmetic::Plus))
        .filter(Bounded(stdlib::Prepend))
        .filter(Bounded(stdlib::Remove))
        .filter(Bounded(stdlib::RemoveFirst))
        .filter(Bounded(filters::Replace))
        .filter(Bounded(stdlib::ReplaceFirst))
        .filter(Bounded(items::Reverse))
        .filter(Bounded(arithmetic::Round))
        .filter(Bounded(stdlib::Rstrip))
        .filter(Bounded(shopify::Size))
        .filter(Bounded(shopify::Slice))
        .filter(Bounded(stdlib::Sort))
        .filter(Bounded(stdlib::SortNatural))
        .filter(Bounded(shopify::Split))
        .filter(Bounded(stdlib::Strip))
        .filter(Bounded(stdlib::StripHtml))
        .filter(Bounded(stdlib::StripNewlines))
        .filter(Bounded(arithmetic::Arithmetic::Times))
        .filter(Bounded(shopify::Truncate))
        .filter(Bounded(shopify::TruncateWords))
        .filter(Bounded(items::Uniq))
        .filter(Bounded(stdlib::Upcase))
        .filter(Bounded(stdlib::UrlDecode))
        .filter(Bounded(items::Search::Where))
        .filter(Bounded(filters::UrlEncode))
        .filter(Bounded(filters::UriEncode))
        .filter(Bounded(filters::Json))
        .filter(Bounded(filters::JsonPretty))
        .filter(Bounded(filters::ParseJson))
        .filter(Bounded(filters::UrlSegment))
        .filter(Bounded(filters::UrlHost))
        .filter(Bounded(filters::Raw))
        .filter(Bounded(recent::Base64::Encode))
        .filter(Bounded(recent::Base64::Decode))
        .filter(Bounded(recent::Base64::UrlSafeEncode))
        .filter(Bounded(recent::Base64::UrlSafeDecode))
        .filter(Bounded(items::Search::Find))
        .filter(Bounded(items::Search::FindIndex))
        .filter(Bounded(items::Search::Has))
        .filter(Bounded(items::Search::Reject))
        .filter(Bounded(items::Sum))
        .filter(Bounded(recent::RemoveLast))
        .filter(Bounded(recent::ReplaceLast));
    // A filter that panics, to show that a panic in a tag or filter fails only its render.
    #[cfg(test)]
    let parser = parser.filter(parity::Panics);
    parser.build().expect("the standard library and our filters register without conflict")
});

/// A parsed template with its source. A source is parsed once, however often it is loaded
/// (see `cost`).
#[derive(Clone)]
pub struct Template {
    source: Arc<str>,
    compiled: Arc<cost::Compiled>,
}

impl Template {
    /// Parses `source`; the error names `field` and the line and column of the problem.
    /// Nesting deeper than [`MAX_NESTING`] is refused before parsing: the parser recurses.
    pub fn parse(field: &str, source: &str) -> Result<Self, Invalid> {
        let mut refused = None;
        let compiled = cost::parsed(source, || {
            let expanded = rewritten(field, source).map_err(|invalid| {
                refused = Some(invalid);
                liquid::Error::with_msg("refused")
            })?;
            PARSER.parse(&expanded).inspect_err(|error| {
                refused = Some(parse_error(field, &expanded, &error.to_string()));
            })
        });
        match compiled {
            Ok(compiled) => Ok(Self { source: source.into(), compiled }),
            Err(error) => Err(refused.unwrap_or_else(|| parse_error(field, source, &error.to_string()))),
        }
    }

    /// A template shown as `shown` but rendered as `compiled`, a rewriting of it (an
    /// endpoint's placeholders with their encoding filters added).
    pub fn parse_rewritten(field: &str, shown: &str, compiled: &str) -> Result<Self, Invalid> {
        let compiled = Self::parse(field, compiled)?;
        Ok(Self { source: shown.into(), compiled: compiled.compiled })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders against `context`, its output at most [`MAX_OUTPUT_BYTES`], under a budget of
    /// its own. Unknown variables are nil; what can still fail is a filter given arguments it
    /// cannot use (`{{ 1 | divided_by: 0 }}`) and the budget.
    pub fn render(&self, context: &Context) -> Result<String, RenderError> {
        self.render_within(context, MAX_OUTPUT_BYTES, &mut Budget::default()).0
    }

    /// Renders under a budget of its own, and also answers the variables the template asked
    /// for that `context` lacks.
    pub fn render_report(&self, context: &Context, max_output: usize) -> (Result<String, RenderError>, Vec<String>) {
        self.render_within(context, max_output, &mut Budget::noting_unknown())
    }

    fn render_within(
        &self,
        context: &Context,
        max_output: usize,
        budget: &mut Budget,
    ) -> (Result<String, RenderError>, Vec<String>) {
        // liquid-lib's tags and filters are not ours: one that panics on some input fails
        // this render, as any render error does, and not the task rendering it.
        let attempt = |budget: &mut Budget, inline: Option<std::time::Duration>| {
            let mut output = budget::BoundedWriter::new(max_output, "the output");
            let (rendered, exceeded, unknown) = budget::within(budget, inline, || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.compiled.template.render_to(&mut output, lax::Root::new(&context.0))
                }))
                .unwrap_or_else(|panic| {
                    let what = crate::text::panic_message(panic.as_ref());
                    Err(liquid_core::Error::with_msg(format!("a tag or filter failed on its input: {what}")))
                })
            });
            ((rendered, output), exceeded, unknown)
        };
        let ((rendered, output), exceeded, unknown) = self.compiled.render(budget, attempt);
        let result = match (rendered, exceeded) {
            (_, Some(reason)) => Err(RenderError::TooExpensive(format!("the template is too expensive: {reason}"))),
            (Err(e), None) => Err(RenderError::Failed(render_error_in_words(&e.to_string()))),
            (Ok(()), None) if budget.is_strict() && !unknown.is_empty() => Err(RenderError::Failed(format!(
                "undefined variable `{}` (the template mode is strict: a variable the data lacks fails the render)",
                unknown[0]
            ))),
            (Ok(()), None) => Ok(String::from_utf8_lossy(&output.out).into_owned()),
        };
        (result, unknown)
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

/// The most template text one saved object may hold, over all its templates: a rule's or a
/// macro's actions, an inbound webhook's actions and response. Real ones hold a few KiB; a
/// limit keeps what one save can cost every later read, parse and render bounded.
pub const MAX_TEMPLATE_TEXT: usize = 128 * 1024;

/// Refuses the templates in `values` (JSON documents of an object's fields, each string in
/// them counted) when they hold more than [`MAX_TEMPLATE_TEXT`] bytes together. Checked
/// before anything is parsed.
pub fn check_template_text(field: &str, values: &[&serde_json::Value]) -> Result<(), Invalid> {
    fn text_bytes(value: &serde_json::Value) -> usize {
        use serde_json::Value as J;
        match value {
            J::String(text) => text.len(),
            J::Array(items) => items.iter().map(text_bytes).sum(),
            J::Object(map) => map.iter().map(|(key, item)| key.len() + text_bytes(item)).sum(),
            _ => 0,
        }
    }
    let total: usize = values.iter().map(|v| text_bytes(v)).sum();
    if total > MAX_TEMPLATE_TEXT {
        return Err(Invalid::new(
            field,
            format!(
                "holds {total} bytes of text; one object's templates may hold {MAX_TEMPLATE_TEXT} bytes ({} KiB) together",
                MAX_TEMPLATE_TEXT / 1024
            ),
        )
        .with_code(TOO_LARGE));
    }
    Ok(())
}

/// The code of a refusal of [`check_template_text`].
pub const TOO_LARGE: &str = "templates_too_large";

/// Why a template did not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A filter or tag failed (`divided_by: 0`).
    #[error("{0}")]
    Failed(String),
    /// The render went over its budget: too many iterations, too much output, too long.
    #[error("{0}")]
    TooExpensive(String),
}

impl RenderError {
    /// The code of a render over its budget: an invocation's error, or a refusal's.
    pub const TOO_EXPENSIVE: &'static str = "template_too_expensive";

    /// The stable code of an invocation that fails this way.
    pub fn code(&self) -> &'static str {
        match self {
            RenderError::Failed(_) => "template_error",
            RenderError::TooExpensive(_) => Self::TOO_EXPENSIVE,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            RenderError::Failed(message) | RenderError::TooExpensive(message) => message,
        }
    }

    /// As a refusal of `field` (when a user renders on purpose: a preview, an inbound call).
    pub fn invalid(&self, field: &str) -> Invalid {
        let code = match self {
            RenderError::Failed(_) => Invalid::CODE,
            RenderError::TooExpensive(_) => Self::TOO_EXPENSIVE,
        };
        Invalid::new(field, self.message()).with_code(code)
    }
}

/// How a template treats what it cannot find or use, chosen per webhook and per inbound
/// webhook (`template_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateMode {
    /// As Shopify's and Zendesk's by default: an undefined variable is nil (empty text), and
    /// filters read what is not of their type as Ruby does (nil and "apples" count 0).
    #[default]
    Lax,
    /// As Shopify's `strict_variables` and `strict_filters`: an undefined variable fails the
    /// render, and so does a filter given a value of the wrong type.
    Strict,
}

impl TemplateMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateMode::Lax => "lax",
            TemplateMode::Strict => "strict",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Lax, Self::Strict].into_iter().find(|mode| mode.as_str() == text)
    }
}

/// Several renders under one budget (all those of one update), remembering every variable
/// they asked for in vain (dry runs and test sends show them: `ticket.subjct` is a typo, not
/// an empty subject).
#[derive(Debug, Default)]
pub struct Rendering {
    budget: Budget,
    unknown: Vec<String>,
}

impl Rendering {
    pub fn new() -> Self {
        Self::default()
    }

    /// Renders that also name the variables they ask for in vain (see [`Rendering::unknown`]).
    pub fn noting_unknown() -> Self {
        Self { budget: Budget::noting_unknown(), unknown: Vec::new() }
    }

    pub fn render(&mut self, template: &Template, context: &Context) -> Result<String, RenderError> {
        self.render_limited(template, context, MAX_OUTPUT_BYTES)
    }

    pub fn render_limited(
        &mut self,
        template: &Template,
        context: &Context,
        max_output: usize,
    ) -> Result<String, RenderError> {
        let (result, unknown) = template.render_within(context, max_output, &mut self.budget);
        for variable in unknown {
            if !self.unknown.contains(&variable) {
                self.unknown.push(variable);
            }
        }
        result
    }

    /// Runs `render` with this rendering's templates in `mode`, then back in the mode it had
    /// (a webhook's templates in its own mode, within an update's one budget).
    pub fn in_mode<T>(&mut self, mode: TemplateMode, render: impl FnOnce(&mut Self) -> T) -> T {
        let before = self.budget.is_strict();
        self.budget.set_strict(mode == TemplateMode::Strict);
        let result = render(self);
        self.budget.set_strict(before);
        result
    }

    /// The variables asked for that the context did not have, in the order first met (only
    /// when made [`Rendering::noting_unknown`], or in strict mode).
    pub fn unknown(&self) -> &[String] {
        &self.unknown
    }

    pub fn into_unknown(self) -> Vec<String> {
        self.unknown
    }
}

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

/// A render error of liquid's (`liquid: Invalid argument` then indented `with:` and `from:`
/// sections) as one sentence: which filter failed, on what, and why. The value a filter
/// failed on comes last and may hold anything (a caller's data, newlines included): nothing
/// after its first line is read, and every part is cut short.
fn render_error_in_words(message: &str) -> String {
    const PART: usize = 200;
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let kind = text::cut(lines.next().unwrap_or("error").trim_start_matches("liquid:").trim(), PART).to_owned();
    let mut details = std::collections::BTreeMap::new();
    for line in lines {
        if let Some((key, value)) = line.split_once('=') {
            let key = key.trim().to_owned();
            let last = key == "input";
            details.entry(key).or_insert_with(|| text::cut(value.trim(), PART).to_owned());
            if last {
                break;
            }
        }
    }
    let why = match (details.get("cause"), details.get("argument")) {
        (Some(cause), Some(argument)) => format!("{cause} (its {argument})"),
        (Some(cause), None) => cause.clone(),
        (None, _) => kind.clone(),
    };
    match (details.get("filter"), details.get("input")) {
        (Some(filter), Some(input)) => {
            let filter = filter.split(':').next().unwrap_or(filter).trim();
            let input = text::cut(input, 80);
            format!("the filter `{filter}` failed on {input}: {why}")
        }
        (Some(filter), None) => format!("the filter `{filter}` failed: {why}"),
        _ => match details.get("requested variable") {
            Some(variable) => format!("{why}: `{variable}`"),
            None => why,
        },
    }
}

/// liquid reports grammar errors as `--> LINE:COL` followed by `= reason`; unknown filters
/// and tags come without a position but name what was requested. Turn either into one
/// sentence with a line and column.
/// `source` as liquid-rust's parser takes it, Shopify's syntax it lacks written out (see
/// `blocks`, `inline` and `syntax`), or refused with the line (and column) of the problem:
/// bodies that Shopify's refuses, a `{% liquid %}` tag that cannot be written out, nesting
/// deeper than [`MAX_NESTING`] (the parser recurses).
fn rewritten(field: &str, source: &str) -> Result<String, Invalid> {
    let refusal = |line: usize, column: Option<usize>, message: String| Invalid {
        line: Some(line),
        column,
        ..Invalid::new(field, message)
    };
    let bodies = blocks::without_unparsed_bodies(source).map_err(|blocks::Refused { at, reason }| {
        let (line, column) = lex::position(source, at);
        refusal(line, Some(column), format!("Liquid syntax error at line {line}, column {column}: {reason}"))
    })?;
    let expanded = inline::expand(&bodies).map_err(|refused| {
        let (line, problem) = match refused {
            inline::Refused::OpenQuote(line) => (
                line,
                "a quote opened in a {% liquid %} tag is not closed on its line (an apostrophe in a # comment counts)"
                    .to_owned(),
            ),
            inline::Refused::Outside { line, tag } => (
                line,
                format!(
                    "`{tag}` in a {{% liquid %}} tag belongs to a block the tag did not open (its lines are a body of their own)"
                ),
            ),
        };
        refusal(line, None, format!("Liquid syntax error at line {line}: {problem}"))
    })?;
    let expanded = blocks::without_blank_whitespace(&syntax::rewrite(&expanded)).into_owned();
    if let Some((line, column, reason)) = nesting::too_deep(&expanded, MAX_NESTING) {
        return Err(refusal(line, Some(column), format!("{reason}, at line {line}, column {column}")));
    }
    Ok(expanded)
}

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
        Some(("tag", name)) => unknown_tag(name),
        Some((kind, name)) => format!("unknown {kind} `{name}`"),
        None => in_words(
            lines
                .iter()
                .find_map(|l| l.strip_prefix("= "))
                .or_else(|| lines.first().map(|l| l.trim_start_matches("liquid:").trim()))
                .filter(|r| !r.is_empty())
                .unwrap_or("syntax error"),
        ),
    };
    let (mut line, mut column) = position
        .or_else(|| requested.and_then(|(_, name)| Some(lex::position(source, find_word(source, name)?))))
        .unwrap_or((1, 1));
    // An unclosed `{{` or `{%` is what the parser's complaint is about, whatever it says.
    let reason = match unclosed(source) {
        Some((at, open, close)) => {
            (line, column) = lex::position(source, at);
            format!("`{open}` is not closed: `{close}` is missing")
        }
        None => reason,
    };
    Invalid {
        line: Some(line),
        column: Some(column),
        ..Invalid::new(field, format!("Liquid syntax error at line {line}, column {column}: {reason}"))
    }
}

/// The parser's grammar words (`expected Literal`), said for people.
fn in_words(reason: &str) -> String {
    match reason {
        "expected Literal" | "expected Value" => {
            "a value is missing or malformed here (a variable, a number or a quoted text; a filter's arguments follow a colon: `| append: 'x'`)".into()
        }
        "expected Identifier" => "a name is missing here (a variable or a filter)".into(),
        "expected Identifier or Value" => "a value is missing here (after a filter's colon?)".into(),
        other => other.to_owned(),
    }
}

fn unknown_tag(name: &str) -> String {
    match name {
        "else" | "elsif" | "when" => {
            format!("`{{% {name} %}}` belongs inside an if, unless, case or for block, once, before its end")
        }
        end if end.starts_with("end") => format!("`{{% {end} %}}` closes nothing: no `{}` block is open", &end[3..]),
        other => format!("unknown tag `{other}`"),
    }
}

/// The first element that never ends: an unclosed `{{`, `{%` or quote.
fn unclosed(source: &str) -> Option<(usize, &'static str, &'static str)> {
    lex::elements(source).find_map(|element| match element.kind {
        lex::Kind::Unclosed { open, close } => Some((element.start, open, close)),
        _ => None,
    })
}

fn find_word(source: &str, word: &str) -> Option<usize> {
    source.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = source[..i].chars().next_back();
        let after = source[i + word.len()..].chars().next();
        let is_ident = |c: char| c.is_alphanumeric() || c == '_';
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
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
    fn an_integer_beyond_64_bits_is_a_float_not_a_panic() {
        assert_eq!(render("{{ 9223372036854775808 }}", json!({})), "9.223372036854776e+18");
        assert_eq!(render("{{ 9223372036854775807 }}", json!({})), "9223372036854775807");
        assert!(Template::parse("t", &format!("{{{{ {} }}}}", "9".repeat(400))).is_ok());
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
    fn encoders_encode_components_url_encode_a_space_as_plus_uri_encode_as_percent_20() {
        let t = json!({"subject": "Printer on fire & smoke/help? ü~ 100%20"});
        assert_eq!(
            render("{{ ticket.subject | uri_encode }}", t.clone()),
            "Printer%20on%20fire%20%26%20smoke%2Fhelp%3F%20%C3%BC~%20100%2520"
        );
        assert_eq!(
            render("{{ ticket.subject | url_encode }}", t),
            "Printer+on+fire+%26+smoke%2Fhelp%3F+%C3%BC~+100%2520"
        );
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

        // In an assign or echo too, the filter is named (liquid said "unexpected FilterChain").
        let err = Template::parse("payload", "{% assign t = x | push %}").expect_err("bad");
        assert!(err.message.ends_with("column 19: unknown filter `push`"), "{}", err.message);
        let err = Template::parse("payload", "{% echo x | push %}").expect_err("bad");
        assert!(err.message.ends_with("unknown filter `push`"), "{}", err.message);
        // Any other mistake keeps its own place in the template.
        let err = Template::parse("payload", "ok\n{% assign x = = 1 %}").expect_err("bad");
        assert_eq!(err.line, Some(2), "{err:?}");

        let err = Template::parse("payload", "{% if x %}open").expect_err("bad");
        assert!(err.message.contains("endif"), "{err:?}");
        // What is missing, in words.
        let err = Template::parse("payload", "one\n{\"a\": {{ ticket.id }").expect_err("bad");
        assert!(err.message.contains("`{{` is not closed: `}}` is missing"), "{err:?}");
        assert_eq!((err.line, err.column), (Some(2), Some(7)), "{err:?}");
        let err = Template::parse("payload", "{{ x | append 'a' }}").expect_err("bad");
        assert!(err.message.contains("colon") && !err.message.contains("Literal"), "{err:?}");
        let err = Template::parse("payload", "{% endif %}").expect_err("bad");
        assert!(err.message.contains("closes nothing"), "{err:?}");
        let err = Template::parse("payload", "{% bogus %}").expect_err("bad");
        assert_eq!((err.line, err.column), (Some(1), Some(4)), "{err:?}");
        assert!(err.message.contains("unknown tag `bogus`"), "{err:?}");
    }
}

#[cfg(test)]
mod budget_tests {
    use std::time::Instant;

    use serde_json::json;

    use super::*;

    fn context() -> Context {
        Context::new().with("ticket", &json!({"id": 7, "subject": "Printer on fire", "tags": ["a", "b"]}))
    }

    fn too_expensive(source: &str) -> String {
        let template = Template::parse("body", source).expect("parses");
        let started = Instant::now();
        let result = template.render(&context());
        let elapsed = started.elapsed();
        let Err(error) = result else { panic!("{source} rendered within the budget") };
        assert!(matches!(error, RenderError::TooExpensive(_)), "{source}: {error:?}");
        eprintln!("{:>8.1} ms  {}: {}", elapsed.as_secs_f64() * 1000.0, cut(source), error.message());
        error.message().to_owned()
    }

    fn cut(source: &str) -> &str {
        crate::text::cut(source, 60)
    }

    #[test]
    fn deep_nesting_is_refused_when_saved() {
        let deep = "{% if true %}".repeat(1200) + &"{% endif %}".repeat(1200);
        let error = Template::parse("actions[0].value.body", &deep).expect_err("too deep");
        assert_eq!(error.field, "actions[0].value.body");
        assert!(error.message.contains("32"), "{error:?}");
        let brackets = format!("{{{{ a{}0{} }}}}", "[a".repeat(5000), "]".repeat(5000));
        let brackets = Template::parse("t", &brackets).expect_err("too deep").message;
        assert!(brackets.starts_with("the template nests blocks or brackets more than 32 deep"), "{brackets}");
        // Long chains recurse as deeply as nesting does (each of these overflowed the stack).
        let ors = format!("{{% if a{} %}}x{{% endif %}}", " or a".repeat(50_000));
        assert!(Template::parse("t", &ors).is_err_and(|e| e.message.contains("and/or")));
        let elsifs = format!("{{% if a %}}{}{{% endif %}}", "{% elsif b %}x".repeat(20_000));
        assert!(Template::parse("t", &elsifs).is_err_and(|e| e.message.contains("elsif")));
        let dots = format!("{{{{ a{} }}}}", ".b".repeat(100_000));
        assert!(Template::parse("t", &dots).is_err_and(|e| e.message.contains("parts")));
        let fine = "{% if true %}".repeat(MAX_NESTING) + "x" + &"{% endif %}".repeat(MAX_NESTING);
        assert_eq!(Template::parse("t", &fine).expect("parses").render(&context()).expect("renders"), "x");
    }

    #[test]
    fn filters_run_in_bounded_time_and_ranges_cannot_wrap() {
        // liquid-lib's uniq compared all pairs: minutes for 100,000 items within every limit.
        let source = "{% capture s %}{% for i in (1..15000) %}{{ i }} {% endfor %}{% endcapture %}{{ s | split: ' ' | uniq | size }}";
        let started = Instant::now();
        assert_eq!(
            Template::parse("t", source).expect("parses").render(&context()).expect("renders"),
            "15000",
            "15,000 numbers (the empty text after the last space dropped, as Ruby's split drops it)"
        );
        eprintln!("uniq of 15,000 items: {} ms", started.elapsed().as_millis());
        // A list is counted by its items too: a million one-letter texts are 48 MB, not 1.
        too_expensive(
            "{% capture s %}{% for i in (1..60000) %}x{% endfor %}{% endcapture %}{{ s | split: '' | size }}",
        );
        let render = |s: &str| Template::parse("t", s).expect("parses").render(&context()).expect("renders");
        assert_eq!(render("{{ '1,2,1,3,2' | split: ',' | uniq | join: ',' }}"), "1,2,3");
        // The whole i64 range once wrapped its length to 0 and liquid-lib then panicked.
        too_expensive("{% for i in (-9223372036854775808..9223372036854775807) %}{% endfor %}");
    }

    #[test]
    fn huge_ranges_and_loops_stop_without_allocating() {
        too_expensive("{% for i in (1..1000000000) %}{% endfor %}");
        too_expensive("{% for i in (1..50000000) %}x{% endfor %}");
        too_expensive("{% for i in (1..10000) %}{% for j in (1..10000) %}{% endfor %}{% endfor %}");
        too_expensive("{% tablerow i in (1..1000000000) %}{% endtablerow %}");
        // Within the limits a loop is fine, and limit/offset count what actually runs.
        let ok = Template::parse("t", "{% for i in (1..1000000) limit: 3 offset: 10 %}{{ i }},{% endfor %}");
        let over = ok.expect("parses").render(&context()).map_err(|e| e.to_string()).err();
        assert_eq!(
            over.as_deref(),
            Some("the template is too expensive: a loop over 1000000 items (the limit is 100000)"),
            "the range itself is over the limit"
        );
        let ok = Template::parse("t", "{% for i in (1..100) limit: 3 offset: 10 %}{{ i }},{% endfor %}");
        assert_eq!(ok.expect("parses").render(&context()).expect("renders"), "11,12,13,");
    }

    #[test]
    fn values_and_output_are_bounded() {
        too_expensive(
            "{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}",
        );
        too_expensive(
            "{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..40) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}",
        );
        too_expensive(
            "{% assign s = 'xxxxxxxxxx' | append: 'xxxxxxxxxx' %}{{ s | replace: '', s | replace: '', s | replace: '', s | replace: '', s }}",
        );
        too_expensive("{% for i in (1..100000) %}{{ ticket.subject }}{% endfor %}");
        too_expensive(
            "{% assign s = 'x' %}{% for i in (1..19) %}{% assign s = s | append: s %}{% endfor %}{% for i in (1..1000) %}{{ s | upcase | size }}{% endfor %}",
        );
        let template = Template::parse("t", "{% for i in (1..100) %}{{ ticket.subject }}{% endfor %}").expect("parses");
        let error = Rendering::new().render_limited(&template, &context(), 1000).expect_err("over the output limit");
        assert!(error.message().contains("the output is over 1 KiB"), "{error:?}");
    }

    #[test]
    fn loops_keep_their_meaning_under_the_budget() {
        let render = |source: &str| Template::parse("t", source).expect("parses").render(&context()).expect("renders");
        assert_eq!(render("{% for t in ticket.tags reversed %}{{ t }}{{ forloop.index }}{% endfor %}"), "b1a2");
        assert_eq!(render("{% for i in (1..5) limit:2 offset:1 %}{{ i }}{% endfor %}"), "23");
        assert_eq!(render("{% for i in ticket.missing %}x{% else %}none{% endfor %}"), "none");
        assert_eq!(render("{% for i in (1..9) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}"), "12");
        assert_eq!(
            render("{% tablerow i in (1..3) cols: 2 %}{{ i }}{% endtablerow %}"),
            "<tr class=\"row1\">\n<td class=\"col1\">1</td><td class=\"col2\">2</td></tr>\n<tr class=\"row2\"><td class=\"col1\">3</td></tr>\n"
        );
        assert_eq!(
            render("{% capture c %}{{ ticket.id }}!{% endcapture %}{% assign d = c | append: '?' %}{{ d }}"),
            "7!?"
        );
        assert_eq!(
            render("{% for i in (1..3) %}{% ifchanged %}{{ i | divided_by: 2 }}{% endifchanged %}{% endfor %}"),
            "01"
        );
        let error = Template::parse("t", "one\ntwo\n{% for x on ticket.tags %}{% endfor %}").expect_err("bad");
        assert_eq!(error.line, Some(3), "{error:?}");
        let error = Template::parse("t", "{% for x in ticket.tags %}\n{{ x | nope }}{% endfor %}").expect_err("bad");
        assert_eq!(error.line, Some(2), "{error:?}");
    }

    #[test]
    fn strict_mode_fails_on_what_lax_mode_reads_as_ruby_does() {
        let strict = |source: &str| {
            let template = Template::parse("t", source).expect("parses");
            let mut rendering = Rendering::new();
            let result = rendering.in_mode(TemplateMode::Strict, |r| r.render(&template, &context()));
            (result, rendering.render(&template, &context()))
        };
        for (source, error) in [
            ("{{ ticket.subjct }}", "undefined variable `ticket.subjct`"),
            ("{{ tickt | default: 'x' }}", "undefined variable `tickt`"),
            ("{{ '12 apples' | plus: 1 }}", "\"12 apples\" is not a number"),
            ("{{ ticket.id | times: nil }}", "nil is not a number"),
            ("{{ ticket.id | first }}", "`first` takes a list, not 7"),
            ("{{ 'abc' | last }}", "`last` takes a list"),
        ] {
            let (in_strict, in_lax) = strict(source);
            let message = in_strict.expect_err(source).to_string();
            assert!(message.contains(error), "{source}: {message}");
            assert!(message.contains("strict"), "{source}: {message}");
            assert!(in_lax.is_ok(), "{source} renders in lax mode, the mode restored after: {in_lax:?}");
        }
        for (source, output) in [("{{ ticket.id | plus: '2' }}", "9"), ("{{ ticket.id | plus: ' -1.5' }}", "5.5")] {
            assert_eq!(strict(source).0.expect(source), output);
        }
        assert_eq!(TemplateMode::parse("strict"), Some(TemplateMode::Strict));
        assert_eq!(TemplateMode::default().as_str(), "lax");
    }

    #[test]
    fn objects_print_as_rubys_hash_inspect_and_their_first_is_a_pair() {
        let context = Context::new()
            .with("o", &json!({"b": 1, "a": [1.5, "x"], "n": null, "t": true, "q": "say \"hi\"\\ #{x}\n", "e": {}}));
        let first = Template::parse("t", "{{ o.first | join: '#' }}|{{ o.e.first }}|").expect("parses");
        let (rendered, unknown) = first.render_report(&context, MAX_OUTPUT_BYTES);
        assert_eq!((rendered.expect("renders").as_str(), unknown.len()), ("b#1||", 0), "a hash's first pair");
        let template = Template::parse("t", "{{ o }}|{{ o.e }}").expect("parses");
        assert_eq!(
            template.render(&context).expect("renders"),
            r##"{"b" => 1, "a" => [1.5, "x"], "n" => nil, "t" => true, "q" => "say \"hi\"\\ \#{x}\n", "e" => {}}|{}"##
        );
    }

    #[test]
    fn unknown_variables_are_named() {
        let template = Template::parse(
            "t",
            "{{ ticket.subjct }}{{ ticket.id }}{{ tickt.id }}{{ ticket.tags[5] }}{% if ticket.subject %}{% endif %}",
        )
        .expect("parses");
        let (rendered, unknown) = template.render_report(&context(), MAX_OUTPUT_BYTES);
        assert_eq!(rendered.expect("renders"), "7");
        assert_eq!(unknown, ["ticket.subjct", "tickt", "ticket.tags[5]"]);
    }
}
