//! `{% case %}` as Ruby's Liquid renders it: every `when` that matches renders, once for each
//! of its values that matches (`{% when 1, 1 %}` twice), and each `else` when no `when`
//! before it did (`when` may follow `else`, and `else` repeat). liquid-lib's rendered the
//! first match only.

use std::io::Write;

use liquid_core::model::ValueViewCmp;
use liquid_core::parser::BlockElement;
use liquid_core::runtime::InterruptRegister;
use liquid_core::{BlockReflection, Expression, Language, ParseBlock, Renderable, Result, Runtime, TagBlock};
use liquid_core::{TagTokenIter, Template};

use super::budget;
use super::tags::block_reflection;

#[derive(Clone, Copy)]
pub(super) struct CaseBlock;

block_reflection!(CaseBlock, "case", "endcase", "Renders the branches whose value equals the case's.");

/// One branch of a case, in the order written.
#[derive(Debug)]
enum Branch {
    When {
        values: Vec<Expression>,
        body: Template,
    },
    /// Rendered when no `when` before it matched (a case may have several).
    Else(Template),
}

#[derive(Debug)]
struct Case {
    compared: Expression,
    branches: Vec<Branch>,
}

/// `when a, b or c`: its values. What follows a value other than `or` or `,` is ignored, as
/// by Shopify's lax parser (`when 'a' and 'b'` is `when 'a'`).
fn when_values(arguments: &mut TagTokenIter<'_>) -> Result<Vec<Expression>> {
    let mut values = vec![arguments.expect_next("Value expected.")?.expect_value().into_result()?];
    while let Some(token) = arguments.next() {
        if !matches!(token.as_str(), "or" | ",") {
            break;
        }
        values.push(arguments.expect_next("Value expected.")?.expect_value().into_result()?);
    }
    Ok(values)
}

/// What a branch opened by `tag` holds once its body is read.
enum Opened {
    When(Vec<Expression>),
    Else,
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
        let mut branches = Vec::new();
        // What comes before the first `when` or `else` is parsed and never rendered, as in
        // Ruby.
        let mut body = Vec::new();
        let mut opened: Option<Opened> = None;
        let mut close = |opened: Option<Opened>, body: Vec<Box<dyn Renderable>>| match opened {
            Some(Opened::When(values)) => branches.push(Branch::When { values, body: Template::new(body) }),
            Some(Opened::Else) => branches.push(Branch::Else(Template::new(body))),
            None => {}
        };
        while let Some(element) = block.next()? {
            match element {
                BlockElement::Tag(mut tag) if tag.name() == "when" => {
                    close(opened.take(), std::mem::take(&mut body));
                    opened = Some(Opened::When(when_values(tag.tokens())?));
                }
                BlockElement::Tag(mut tag) if tag.name() == "else" => {
                    tag.tokens().expect_nothing()?;
                    close(opened.take(), std::mem::take(&mut body));
                    opened = Some(Opened::Else);
                }
                BlockElement::Tag(tag) => body.push(tag.parse(&mut block, options)?),
                element => body.push(element.parse(&mut block, options)?),
            }
        }
        close(opened, body);
        block.assert_empty();
        Ok(Box::new(Case { compared, branches }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

impl Renderable for Case {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        budget::check()?;
        let mut matched = false;
        let mut rendered = false;
        let mut render = |body: &Template| -> Result<bool> {
            // A `break` or `continue` in a branch ends the case, as it ends the loop.
            if runtime.registers().get_mut::<InterruptRegister>().interrupted() {
                return Ok(false);
            }
            // Each branch rendered after the first counts as a loop's iteration.
            if rendered {
                budget::spend_loop(0, 1)?;
            }
            rendered = true;
            body.render_to(writer, runtime)?;
            Ok(true)
        };
        for branch in &self.branches {
            match branch {
                Branch::When { values, body } => {
                    for value in values {
                        // Read again for each value, as Ruby does: a branch may have assigned it.
                        let compared = self.compared.evaluate(runtime)?;
                        if value.evaluate(runtime)? == ValueViewCmp::new(compared.as_view()) {
                            matched = true;
                            if !render(body)? {
                                return Ok(());
                            }
                        }
                    }
                }
                Branch::Else(body) if !matched => {
                    if !render(body)? {
                        return Ok(());
                    }
                }
                Branch::Else(_) => {}
            }
        }
        Ok(())
    }
}
