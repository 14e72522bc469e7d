//! `{% case %}` as Ruby's Liquid renders it: every `when` that matches renders, once for each
//! of its values that matches (`{% when 1, 1 %}` twice), and `else` only when none did.
//! liquid-lib's rendered the first match only.

use std::io::Write;

use liquid_core::model::ValueViewCmp;
use liquid_core::parser::{BlockElement, TryMatchToken};
use liquid_core::runtime::InterruptRegister;
use liquid_core::{BlockReflection, Expression, Language, ParseBlock, Renderable, Result, Runtime, TagBlock};
use liquid_core::{TagTokenIter, Template};

use super::budget;
use super::tags::block_reflection;

#[derive(Clone, Copy)]
pub(super) struct CaseBlock;

block_reflection!(CaseBlock, "case", "endcase", "Renders the branches whose value equals the case's.");

#[derive(Debug)]
struct When {
    values: Vec<Expression>,
    body: Template,
}

#[derive(Debug)]
struct Case {
    compared: Expression,
    whens: Vec<When>,
    otherwise: Option<Template>,
}

/// `when a, b or c`: its values.
fn when_values(arguments: &mut TagTokenIter<'_>) -> Result<Vec<Expression>> {
    let mut values = vec![arguments.expect_next("Value expected.")?.expect_value().into_result()?];
    while let Some(token) = arguments.next() {
        if let TryMatchToken::Fails(token) = token.expect_str("or") {
            token.expect_str(",").into_result_custom_msg("\"or\" or \",\" expected.")?;
        }
        values.push(arguments.expect_next("Value expected.")?.expect_value().into_result()?);
    }
    Ok(values)
}

impl ParseBlock for CaseBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let compared = arguments.expect_next("Value expected.")?.expect_value().into_result()?;
        arguments.expect_nothing()?;
        let (mut whens, mut otherwise) = (Vec::<When>::new(), None);
        // What comes before the first `when` is never rendered, as in Ruby.
        let mut body = Vec::new();
        let mut values: Option<Vec<Expression>> = None;
        while let Some(element) = block.next()? {
            match element {
                BlockElement::Tag(mut tag) if tag.name() == "when" => {
                    let taken = std::mem::take(&mut body);
                    if let Some(values) = values.take() {
                        whens.push(When { values, body: Template::new(taken) });
                    }
                    values = Some(when_values(tag.tokens())?);
                }
                BlockElement::Tag(mut tag) if tag.name() == "else" => {
                    tag.tokens().expect_nothing()?;
                    otherwise = Some(Template::new(block.parse_all(options)?));
                    break;
                }
                BlockElement::Tag(tag) => body.push(tag.parse(&mut block, options)?),
                element => body.push(element.parse(&mut block, options)?),
            }
        }
        if let Some(values) = values {
            whens.push(When { values, body: Template::new(body) });
        }
        block.assert_empty();
        Ok(Box::new(Case { compared, whens, otherwise }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

impl Renderable for Case {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        budget::check()?;
        let mut matched = false;
        for when in &self.whens {
            for value in &when.values {
                // Read again for each value, as Ruby does: a branch may have assigned it.
                let compared = self.compared.evaluate(runtime)?;
                if value.evaluate(runtime)? == ValueViewCmp::new(compared.as_view()) {
                    // A `break` or `continue` in a branch ends the case, as it ends the loop.
                    if runtime.registers().get_mut::<InterruptRegister>().interrupted() {
                        return Ok(());
                    }
                    // Each branch rendered after the first counts as a loop's iteration.
                    if matched {
                        budget::spend_loop(0, 1)?;
                    }
                    matched = true;
                    when.body.render_to(writer, runtime)?;
                }
            }
        }
        match (&self.otherwise, matched) {
            (Some(otherwise), false) => otherwise.render_to(writer, runtime),
            _ => Ok(()),
        }
    }
}
