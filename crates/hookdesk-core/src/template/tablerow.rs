//! `{% tablerow %}` as Shopify's Liquid renders it: the rows' newlines, `tablerowloop` (with
//! its `row`), `break` and `continue`, and `cols` below 1 an error. liquid-lib's wrote no
//! newlines, named the object `tablerow` (still set, for templates written for it), and
//! divided by `cols: 0`. The budget counts its iterations before it runs (`tags::Loop`).

use std::collections::HashMap;
use std::io::Write;

use liquid_core::model::{KString, KStringCow, KStringRef, Object, Value, ValueCow, ValueView};
use liquid_core::runtime::{Interrupt, InterruptRegister, StackFrame};
use liquid_core::{
    BlockReflection, Expression, Language, ParseBlock, Renderable, Result, Runtime, TagBlock, TagTokenIter, Template,
};

use super::budget;
use super::tags::Walked;

#[derive(Clone, Copy)]
pub(super) struct TableRowBlock;

impl BlockReflection for TableRowBlock {
    fn start_tag(&self) -> &str {
        "tablerow"
    }

    fn end_tag(&self) -> &str {
        "endtablerow"
    }

    fn description(&self) -> &str {
        "An HTML table's rows, a cell per item."
    }
}

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

/// An attribute's whole number, or the error Shopify gives for another value.
fn whole_number(name: &str, expression: Option<&Expression>, runtime: &dyn Runtime) -> Result<Option<i64>> {
    let Some(expression) = expression else { return Ok(None) };
    let value = expression.evaluate(runtime)?;
    match value.as_scalar().and_then(|s| s.to_integer()) {
        Some(n) => Ok(Some(n)),
        None => Err(liquid_core::Error::with_msg(format!("tablerow: {name} must be a whole number"))),
    }
}

/// Ruby's `slice_collection` of what is iterated: the items at `from..to` (`to`, if any,
/// excluded; `from` may be negative, which keeps the first ones).
fn window<T>(items: impl Iterator<Item = T>, from: i64, to: Option<i64>) -> impl Iterator<Item = T> {
    items
        .zip(0i64..)
        .take_while(move |(_, index)| to.is_none_or(|to| *index < to))
        .filter(move |(_, index)| *index >= from)
        .map(|(item, _)| item)
}

/// `tablerowloop` at item `index` of `length`, in rows of `cols`.
fn tablerowloop(index: i64, length: i64, cols: i64) -> Value {
    let col0 = index % cols;
    let fields = [
        ("length", Value::scalar(length)),
        ("index", Value::scalar(index + 1)),
        ("index0", Value::scalar(index)),
        ("rindex", Value::scalar(length - index)),
        ("rindex0", Value::scalar(length - index - 1)),
        ("first", Value::scalar(index == 0)),
        ("last", Value::scalar(index == length - 1)),
        ("col", Value::scalar(col0 + 1)),
        ("col0", Value::scalar(col0)),
        ("col_first", Value::scalar(col0 == 0)),
        ("col_last", Value::scalar(col0 + 1 == cols)),
        ("row", Value::scalar(index / cols + 1)),
    ];
    Value::Object(fields.into_iter().map(|(name, value)| (KString::from_static(name), value)).collect::<Object>())
}

impl Renderable for TableRow {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let write = |writer: &mut dyn Write, text: &str| {
            writer.write_all(text.as_bytes()).map_err(|e| liquid_core::Error::with_msg(e.to_string()))
        };
        let from = whole_number("offset", self.offset.as_ref(), runtime)?.unwrap_or(0);
        let to = whole_number("limit", self.limit.as_ref(), runtime)?.map(|limit| from.saturating_add(limit));
        // Items are borrowed from what is walked, and only those in the window are kept.
        let walked;
        let items: Vec<ValueCow<'_>> = match &self.walked {
            Walked::Items(expression) => {
                walked = expression.evaluate(runtime)?;
                let value = walked.as_view();
                // Nil and false render nothing at all (Ruby's `collection || return ''`).
                if value.is_nil() || value.as_scalar().and_then(|s| s.to_bool()) == Some(false) {
                    return Ok(());
                }
                if let Some(array) = value.as_array() {
                    window(array.values(), from, to).map(ValueCow::Borrowed).collect()
                } else if let Some(object) = value.as_object() {
                    // In key order, as objects print: liquid's objects keep no insertion order.
                    let mut pairs: Vec<(KStringCow<'_>, &dyn ValueView)> = object.iter().collect();
                    pairs.sort_by(|(a, _), (b, _)| a.cmp(b));
                    let pair = |(key, v): (KStringCow<'_>, &dyn ValueView)| {
                        ValueCow::Owned(Value::Array(vec![Value::scalar(key.into_owned()), v.to_value()]))
                    };
                    window(pairs.into_iter(), from, to).map(pair).collect()
                } else if value.as_scalar().is_some_and(|s| s.type_name() == "string" && !s.to_kstr().is_empty()) {
                    // A text is one item, whatever the window.
                    vec![ValueCow::Borrowed(value)]
                } else {
                    vec![]
                }
            }
            // The budget has counted the range before this render.
            Walked::Counted(start, stop) => {
                let bound = |e: &Expression| -> Result<i64> {
                    e.evaluate(runtime)?
                        .as_scalar()
                        .and_then(|s| s.to_integer())
                        .ok_or_else(|| liquid_core::Error::with_msg("tablerow: a range is made of whole numbers"))
                };
                window(bound(start)?..=bound(stop)?, from, to).map(|n| ValueCow::Owned(Value::scalar(n))).collect()
            }
        };
        let length = items.len() as i64;
        let cols = whole_number("cols", self.cols.as_ref(), runtime)?.unwrap_or(length);
        if cols < 1 && length > 0 {
            return Err(liquid_core::Error::with_msg(format!("tablerow: cols must be at least 1, not {cols}")));
        }
        write(writer, "<tr class=\"row1\">\n")?;
        for (index, item) in (0..length).zip(&items) {
            budget::check()?;
            let looped = tablerowloop(index, length, cols);
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
