//! Liquid's tags and blocks under the render budget.
//!
//! Every standard tag and block is wrapped so that rendering it checks the budget's deadline.
//! Loops (`for`, `tablerow`: ours, in for_loop.rs and tablerow.rs) count their length and
//! iterations before they run, where they cut what they walk (walked.rs). `assign`,
//! `capture` and `ifchanged` are ours, because liquid-lib's buffer what they render without a
//! limit.

use std::io::Write;

use liquid_core::model::{KString, Value, ValueView};
use liquid_core::parser::{FilterChain, TagToken, TryMatchToken};
use liquid_core::{
    BlockReflection, Language, ParseBlock, ParseTag, Renderable, Result, Runtime, TagBlock, TagReflection,
    TagTokenIter, Template,
};

use super::budget::{self, BoundedWriter, MAX_VALUE_BYTES, size_of};

/// A block's name, end tag and description, as liquid asks for them.
macro_rules! block_reflection {
    ($block:ty, $start:literal, $end:literal, $description:literal) => {
        impl liquid_core::BlockReflection for $block {
            fn start_tag(&self) -> &str {
                $start
            }

            fn end_tag(&self) -> &str {
                $end
            }

            fn description(&self) -> &str {
                $description
            }
        }
    };
}
pub(super) use block_reflection;

/// A standard tag or block whose every render first checks the budget.
#[derive(Clone)]
pub(super) struct Checked<T>(pub T);

#[derive(Debug)]
struct CheckedRender(Box<dyn Renderable>);

impl Renderable for CheckedRender {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        budget::check()?;
        self.0.render_to(writer, runtime)
    }
}

impl<T: ParseTag + Clone + 'static> ParseTag for Checked<T> {
    fn parse(&self, arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        Ok(Box::new(CheckedRender(self.0.parse(arguments, options)?)))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self.0.reflection()
    }
}

impl<T: ParseBlock + Clone + 'static> ParseBlock for Checked<T> {
    fn parse(
        &self,
        arguments: TagTokenIter<'_>,
        block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        Ok(Box::new(CheckedRender(self.0.parse(arguments, block, options)?)))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self.0.reflection()
    }
}

/// A tag's value and filters. liquid keeps to itself why a chain failed to parse (an unknown
/// filter, a filter's arguments): the same text as an output tag says it.
fn filter_chain(token: TagToken<'_>, options: &Language) -> Result<FilterChain> {
    let text = token.as_str().to_owned();
    match token.expect_filter_chain(options) {
        TryMatchToken::Matches(chain) => Ok(chain),
        // Only an unknown filter is taken from there: another error's place would be the
        // output tag's, not the template's.
        TryMatchToken::Fails(token) => match liquid_core::parser::parse(&format!("{{{{ {text} }}}}"), options) {
            Err(why) if why.to_string().contains("requested filter") => Err(why),
            _ => Err(token.raise_error()),
        },
    }
}

/// `{% assign name = value | filters %}`, with the value's size counted.
#[derive(Clone, Copy)]
pub(super) struct Assign;

#[derive(Debug)]
struct Assigned {
    name: KString,
    value: FilterChain,
}

impl TagReflection for Assign {
    fn tag(&self) -> &'static str {
        "assign"
    }

    fn description(&self) -> &'static str {
        "Sets a variable."
    }
}

/// The variable an `assign` or a `capture` sets: an identifier without the question mark
/// that may end one read (Shopify's refuses `{% assign ok? = true %}`).
fn assigned_name(token: TagToken<'_>) -> Result<String> {
    let name = token.expect_identifier().into_result()?;
    if name.ends_with('?') {
        return Err(liquid_core::Error::with_msg(format!("A variable set by a tag cannot end with \"?\": `{name}`")));
    }
    Ok(name.to_owned())
}

impl ParseTag for Assign {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let name = assigned_name(arguments.expect_next("Identifier expected.")?)?;
        arguments
            .expect_next("Assignment operator \"=\" expected.")?
            .expect_str("=")
            .into_result_custom_msg("Assignment operator \"=\" expected.")?;
        let value = filter_chain(arguments.expect_next("FilterChain expected.")?, options)?;
        arguments.expect_nothing()?;
        Ok(Box::new(Assigned { name: name.into(), value }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

impl Renderable for Assigned {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        budget::check()?;
        let value = self.value.evaluate(runtime)?.into_owned();
        budget::spend_value(0, size_of(&value, MAX_VALUE_BYTES + 1))?;
        runtime.set_global(self.name.clone(), value);
        Ok(())
    }
}

/// Liquid 5's `{% echo value | filters %}`: what `{{ value | filters }}` prints, as a tag (so
/// that it can be written inside `{% liquid %}`).
#[derive(Clone, Copy)]
pub(super) struct Echo;

/// What an `echo` prints; nothing for an empty `{% echo %}`, as in Shopify's.
#[derive(Debug)]
struct Echoed(Option<FilterChain>);

impl TagReflection for Echo {
    fn tag(&self) -> &'static str {
        "echo"
    }

    fn description(&self) -> &'static str {
        "Prints a value, as {{ }} does."
    }
}

impl ParseTag for Echo {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let Some(value) = arguments.next() else { return Ok(Box::new(Echoed(None))) };
        let value = filter_chain(value, options)?;
        arguments.expect_nothing()?;
        Ok(Box::new(Echoed(Some(value))))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

impl Renderable for Echoed {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        budget::check()?;
        let Some(chain) = &self.0 else { return Ok(()) };
        let value = chain.evaluate(runtime)?;
        write!(writer, "{}", value.render()).map_err(|e| liquid_core::Error::with_msg(format!("echo: {e}")))
    }
}

/// `{% capture name %}...{% endcapture %}`, into a buffer with a limit.
#[derive(Clone, Copy)]
pub(super) struct Capture;

#[derive(Debug)]
struct Captured {
    name: KString,
    body: Template,
}

block_reflection!(Capture, "capture", "endcapture", "Renders its content into a variable.");

impl ParseBlock for Capture {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let name = assigned_name(arguments.expect_next("Identifier expected.")?)?;
        arguments.expect_nothing()?;
        let body = Template::new(block.parse_all(options)?);
        block.assert_empty();
        Ok(Box::new(Captured { name: name.into(), body }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

/// Renders `body` into text of at most [`MAX_VALUE_BYTES`], charged to the budget.
fn render_bounded(body: &Template, runtime: &dyn Runtime) -> Result<String> {
    budget::check()?;
    let mut buffer = BoundedWriter::new(MAX_VALUE_BYTES as usize, "a captured text");
    body.render_to(&mut buffer, runtime)?;
    budget::spend_value(0, buffer.out.len() as u64)?;
    Ok(String::from_utf8_lossy(&buffer.out).into_owned())
}

impl Renderable for Captured {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let text = render_bounded(&self.body, runtime)?;
        runtime.set_global(self.name.clone(), Value::scalar(text));
        Ok(())
    }
}

/// `{% ifchanged %}...{% endifchanged %}`: its content, unless the same as the last time.
#[derive(Clone, Copy)]
pub(super) struct IfChanged;

#[derive(Debug)]
struct IfChangedBody(Template);

/// What the last `ifchanged` rendered, per render.
#[derive(Default)]
struct LastChanged(Option<String>);

block_reflection!(
    IfChanged,
    "ifchanged",
    "endifchanged",
    "Renders its content only when it differs from the last time."
);

impl ParseBlock for IfChanged {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        arguments.expect_nothing()?;
        let body = Template::new(block.parse_all(options)?);
        block.assert_empty();
        Ok(Box::new(IfChangedBody(body)))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

impl Renderable for IfChangedBody {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let text = render_bounded(&self.0, runtime)?;
        let mut last = runtime.registers().get_mut::<LastChanged>();
        if last.0.as_deref() != Some(text.as_str()) {
            writer.write_all(text.as_bytes()).map_err(|e| liquid_core::Error::with_msg(e.to_string()))?;
            last.0 = Some(text);
        }
        Ok(())
    }
}
