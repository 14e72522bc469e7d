//! `{% for %}` as Shopify's Liquid runs it: what it walks cut as Ruby's `slice_collection`
//! (a text walked once, a number or false not at all), `limit`, `offset` (and
//! `offset: continue`, from where the last loop over the same collection stopped),
//! `reversed` after the cut, `else`, `break` and `continue`, and `forloop` with `name` and
//! `parentloop`. liquid-lib's refused a text and had no `offset: continue`. The budget counts
//! its iterations before it runs (`walked.rs`).

use std::collections::HashMap;
use std::io::Write;

use liquid_core::model::{KString, KStringRef, ObjectView, Scalar, ValueCow, ValueView};
use liquid_core::parser::BlockElement;
use liquid_core::runtime::{Interrupt, InterruptRegister, StackFrame};
use liquid_core::{BlockReflection, Expression, Language, ParseBlock, Renderable, Result, Runtime, TagBlock};
use liquid_core::{TagTokenIter, Template};

use super::budget;
use super::tags::block_reflection;
use super::walked::{Walked, whole_number};

#[derive(Clone, Copy)]
pub(super) struct ForBlock;

block_reflection!(ForBlock, "for", "endfor", "Renders its content once per item.");

#[derive(Debug)]
enum Offset {
    At(Expression),
    /// `offset: continue`.
    Continue,
}

#[derive(Debug)]
struct For {
    variable: KString,
    /// `variable-collection`, as Ruby names a loop: what `offset: continue` goes on from.
    name: String,
    walked: Walked,
    limit: Option<Expression>,
    offset: Option<Offset>,
    reversed: bool,
    body: Template,
    otherwise: Option<Template>,
}

impl ParseBlock for ForBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let mut words = Vec::new();
        let (variable, walked) = Walked::read(&mut arguments, &mut words)?;
        let name = format!("{variable}-{}", words.last().map_or("", String::as_str));
        let (mut limit, mut offset, mut reversed) = (None, None, false);
        while let Some(token) = arguments.next() {
            let attribute = token.as_str().to_owned();
            if attribute == "reversed" {
                reversed = true;
                continue;
            }
            if attribute != "limit" && attribute != "offset" {
                return Err(token.raise_custom_error("\"limit\", \"offset\" or \"reversed\" expected."));
            }
            arguments.expect_next("\":\" expected.")?.expect_str(":").into_result_custom_msg("\":\" expected.")?;
            let value = arguments.expect_next("Value expected.")?;
            if attribute == "offset" && value.as_str() == "continue" {
                offset = Some(Offset::Continue);
                continue;
            }
            let value = value.expect_value().into_result()?;
            match attribute.as_str() {
                "limit" => limit = Some(value),
                _ => offset = Some(Offset::At(value)),
            }
        }
        let (mut body, mut otherwise) = (Vec::new(), None);
        while let Some(element) = block.next()? {
            match element {
                // Ruby ignores what follows `else` in its tag.
                BlockElement::Tag(tag) if tag.name() == "else" => {
                    otherwise = Some(Template::new(block.parse_all(options)?));
                    break;
                }
                BlockElement::Tag(tag) => body.push(tag.parse(&mut block, options)?),
                element => body.push(element.parse(&mut block, options)?),
            }
        }
        block.assert_empty();
        Ok(Box::new(For {
            variable: variable.into(),
            name,
            walked,
            limit,
            offset,
            reversed,
            body: Template::new(body),
            otherwise,
        }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

/// Where each loop (by its name) stopped, for `offset: continue`.
#[derive(Default)]
struct Stopped(HashMap<String, i64>);

/// How many `for` loops are rendering: an outermost one has no `parentloop` (Ruby's
/// `for_stack`), whatever a template or payload calls `forloop`.
#[derive(Default)]
struct Depth(usize);

/// `forloop` at item `index` of `length`: a view, nothing copied.
#[derive(Debug, Clone, ValueView, ObjectView)]
struct Forloop<'p> {
    name: &'p str,
    length: i64,
    index: i64,
    index0: i64,
    rindex: i64,
    rindex0: i64,
    first: bool,
    last: bool,
    parentloop: Option<&'p dyn ValueView>,
}

impl<'p> Forloop<'p> {
    fn at(index: i64, length: i64, name: &'p str, parentloop: Option<&'p dyn ValueView>) -> Self {
        Forloop {
            name,
            length,
            index: index + 1,
            index0: index,
            rindex: length - index,
            rindex0: length - index - 1,
            first: index == 0,
            last: index == length - 1,
            parentloop,
        }
    }
}

impl Renderable for For {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let from = match &self.offset {
            None => 0,
            Some(Offset::Continue) => runtime.registers().get_mut::<Stopped>().0.get(&self.name).copied().unwrap_or(0),
            Some(Offset::At(offset)) => whole_number("for", "offset", Some(offset), runtime)?.unwrap_or(0),
        };
        let limit = whole_number("for", "limit", self.limit.as_ref(), runtime)?;
        let to = limit.map(|limit| from.saturating_add(limit));
        self.walked.with_segment(runtime, from, to, |items| {
            let mut items = items.unwrap_or_default();
            if self.reversed {
                items.reverse();
            }
            runtime
                .registers()
                .get_mut::<Stopped>()
                .0
                .insert(self.name.clone(), from.saturating_add(items.len() as i64));
            if items.is_empty() {
                return match &self.otherwise {
                    Some(otherwise) => otherwise.render_to(writer, runtime),
                    None => Ok(()),
                };
            }
            self.render_items(writer, runtime, &items)
        })
    }
}

impl For {
    fn render_items(&self, writer: &mut dyn Write, runtime: &dyn Runtime, items: &[ValueCow<'_>]) -> Result<()> {
        let nested = runtime.registers().get_mut::<Depth>().0 > 0;
        let parent = if nested { runtime.try_get(&[Scalar::new("forloop")]) } else { None };
        runtime.registers().get_mut::<Depth>().0 += 1;
        let rendered = self.render_each(writer, runtime, items, parent.as_ref().map(|p| p.as_view()));
        runtime.registers().get_mut::<Depth>().0 -= 1;
        rendered
    }

    fn render_each(
        &self,
        writer: &mut dyn Write,
        runtime: &dyn Runtime,
        items: &[ValueCow<'_>],
        parent: Option<&dyn ValueView>,
    ) -> Result<()> {
        let length = items.len() as i64;
        for (index, item) in (0..length).zip(items) {
            budget::check()?;
            let looped = Forloop::at(index, length, &self.name, parent);
            let mut scope = HashMap::<KStringRef<'_>, &dyn ValueView>::new();
            scope.insert(self.variable.as_ref(), item.as_view());
            scope.insert(KStringRef::from_static("forloop"), &looped);
            let frame = StackFrame::new(runtime, &scope);
            self.body.render_to(writer, &frame)?;
            // A `continue` has ended this item already; a `break` ends the loop.
            if let Some(Interrupt::Break) = runtime.registers().get_mut::<InterruptRegister>().reset() {
                break;
            }
        }
        Ok(())
    }
}
