//! `{% tablerow %}` as Shopify's Liquid renders it: the rows' newlines, `tablerowloop` (with
//! its `row`), `break` and `continue`, and `cols` below 1 an error. liquid-lib's wrote no
//! newlines, named the object `tablerow` (still set, for templates written for it), and
//! divided by `cols: 0`. What it walks is cut as Ruby's `slice_collection` (`walked.rs`); the
//! budget counts its iterations before it runs (`walked.rs`).

use std::collections::HashMap;
use std::io::Write;

use liquid_core::model::{KString, KStringRef, ObjectView, ValueCow, ValueView};
use liquid_core::runtime::{Interrupt, InterruptRegister, StackFrame};
use liquid_core::{
    BlockReflection, Expression, Language, ParseBlock, Renderable, Result, Runtime, TagBlock, TagTokenIter, Template,
};

use super::budget;
use super::tags::block_reflection;
use super::walked::{Walked, whole_number};

#[derive(Clone, Copy)]
pub(super) struct TableRowBlock;

block_reflection!(TableRowBlock, "tablerow", "endtablerow", "An HTML table's rows, a cell per item.");

#[derive(Debug)]
struct TableRow {
    variable: KString,
    walked: Walked,
    cols: Option<Expression>,
    limit: Option<Expression>,
    offset: Option<Expression>,
    body: Template,
}

impl ParseBlock for TableRowBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let (variable, walked) = Walked::read(&mut arguments, &mut Vec::new())?;
        let (mut cols, mut limit, mut offset) = (None, None, None);
        while let Some(token) = arguments.next() {
            let slot = match token.as_str() {
                "cols" => &mut cols,
                "limit" => &mut limit,
                "offset" => &mut offset,
                _ => return Err(token.raise_custom_error("\"cols\", \"limit\" or \"offset\" expected.")),
            };
            arguments.expect_next("\":\" expected.")?.expect_str(":").into_result_custom_msg("\":\" expected.")?;
            *slot = Some(arguments.expect_next("Value expected.")?.expect_value().into_result()?);
        }
        let body = Template::new(block.parse_all(options)?);
        block.assert_empty();
        Ok(Box::new(TableRow { variable: variable.into(), walked, cols, limit, offset, body }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

/// `tablerowloop` at item `index` of `length`, in rows of `cols`: a view, nothing copied.
#[derive(Debug, Clone, ValueView, ObjectView)]
struct Tablerowloop {
    length: i64,
    index: i64,
    index0: i64,
    rindex: i64,
    rindex0: i64,
    first: bool,
    last: bool,
    col: i64,
    col0: i64,
    col_first: bool,
    col_last: bool,
    row: i64,
}

impl Tablerowloop {
    fn at(index: i64, length: i64, cols: i64) -> Self {
        let col0 = index % cols;
        Tablerowloop {
            length,
            index: index + 1,
            index0: index,
            rindex: length - index,
            rindex0: length - index - 1,
            first: index == 0,
            last: index == length - 1,
            col: col0 + 1,
            col0,
            col_first: col0 == 0,
            col_last: col0 + 1 == cols,
            row: index / cols + 1,
        }
    }
}

impl Renderable for TableRow {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let from = whole_number("tablerow", "offset", self.offset.as_ref(), runtime)?.unwrap_or(0);
        let limit = whole_number("tablerow", "limit", self.limit.as_ref(), runtime)?;
        let to = limit.map(|limit| from.saturating_add(limit));
        self.walked.with_segment(runtime, from, to, |items| {
            // Nil and false render nothing at all (Ruby's `collection || return ''`).
            let Some(items) = items else { return Ok(()) };
            self.render_rows(writer, runtime, &items)
        })
    }
}

impl TableRow {
    fn render_rows(&self, writer: &mut dyn Write, runtime: &dyn Runtime, items: &[ValueCow<'_>]) -> Result<()> {
        let write = |writer: &mut dyn Write, text: &str| {
            writer.write_all(text.as_bytes()).map_err(|e| liquid_core::Error::with_msg(e.to_string()))
        };
        let length = items.len() as i64;
        let cols = whole_number("tablerow", "cols", self.cols.as_ref(), runtime)?.unwrap_or(length);
        if cols < 1 && length > 0 {
            return Err(liquid_core::Error::with_msg(format!("tablerow: cols must be at least 1, not {cols}")));
        }
        write(writer, "<tr class=\"row1\">\n")?;
        for (index, item) in (0..length).zip(items) {
            budget::check()?;
            let looped = Tablerowloop::at(index, length, cols);
            let mut scope = HashMap::<KStringRef<'_>, &dyn ValueView>::new();
            scope.insert(self.variable.as_ref(), item.as_view());
            scope.insert(KStringRef::from_static("tablerow"), &looped);
            scope.insert(KStringRef::from_static("tablerowloop"), &looped);
            write(writer, &format!("<td class=\"col{}\">", index % cols + 1))?;
            let frame = StackFrame::new(runtime, &scope);
            self.body.render_to(writer, &frame)?;
            write(writer, "</td>")?;
            if let Some(Interrupt::Break) = runtime.registers().get_mut::<InterruptRegister>().reset() {
                break;
            }
            if (index + 1) % cols == 0 && index + 1 < length {
                write(writer, &format!("</tr>\n<tr class=\"row{}\">", (index + 1) / cols + 1))?;
            }
        }
        write(writer, "</tr>\n")
    }
}
