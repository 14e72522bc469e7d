use std::collections::HashMap;
use std::io::Write;

use liquid_core::error::{ResultLiquidExt, ResultLiquidReplaceExt};
use liquid_core::parser::TagToken;
use liquid_core::Expression;
use liquid_core::Language;
use liquid_core::Renderable;
use liquid_core::Runtime;
use liquid_core::ValueView;
use liquid_core::Result;
use liquid_core::{ParseTag, TagReflection, TagTokenIter};

#[derive(Copy, Clone, Debug, Default)]
pub struct CycleTag;

impl CycleTag {
    pub fn new() -> Self {
        Self
    }
}

impl TagReflection for CycleTag {
    fn tag(&self) -> &'static str {
        "cycle"
    }

    fn description(&self) -> &'static str {
        ""
    }
}

impl ParseTag for CycleTag {
    fn parse(
        &self,
        arguments: TagTokenIter<'_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        parse_cycle(arguments, options).map(|opt| Box::new(opt) as Box<dyn Renderable>)
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

/// Internal implementation of cycle, to allow easier testing.
fn parse_cycle(mut arguments: TagTokenIter<'_>, _options: &Language) -> Result<Cycle> {
    let mut name = None;
    let mut values = Vec::new();

    let first = arguments.expect_next("Identifier or value expected")?;
    let second = arguments.next();
    match second.as_ref().map(TagToken::as_str) {
        Some(":") => {
            // hookdesk's patch: a group's name is a value, read when the cycle renders
            // (`cycle a: 1, 2` counts in the group named by a's value), as in Shopify's.
            name = Some(first.expect_value().into_result()?);
        }
        Some(",") | None => {
            // first argument is the first item in the cycle
            values.push(first.expect_value().into_result()?);
        }
        Some(_) => {
            return second
                .expect("is some")
                .raise_custom_error("\":\" or \",\" expected.")
                .into_err();
        }
    }

    while let Some(a) = arguments.next() {
        values.push(a.expect_value().into_result()?);

        let next = arguments.next();
        match next.as_ref().map(TagToken::as_str) {
            Some(",") => {}
            None => break,
            Some(_) => {
                return next
                    .expect("is some")
                    .raise_custom_error("\",\" expected.")
                    .into_err();
            }
        }
    }

    // no more arguments should be supplied, trying to supply them is an error
    arguments.expect_nothing()?;

    let name = match name {
        Some(name) => CycleName::Named(name),
        None => CycleName::Values(itertools::join(values.iter(), "-")),
    };
    Ok(Cycle { name, values })
}

/// How a cycle's group is named.
#[derive(Clone, Debug)]
enum CycleName {
    /// By a value's text (nil for an undefined variable: all such share one group).
    Named(Expression),
    /// By its values, for a cycle without a name.
    Values(String),
}

#[derive(Clone, Debug)]
struct Cycle {
    name: CycleName,
    values: Vec<Expression>,
}

impl Cycle {
    fn trace(&self) -> String {
        format!(
            "{{% cycle {} %}}",
            itertools::join(self.values.iter(), ", ")
        )
    }
}

impl Renderable for Cycle {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let group = match &self.name {
            CycleName::Named(name) => match name.try_evaluate(runtime) {
                Some(value) if !value.is_nil() => group_key(&value.to_kstr()),
                _ => "nil".to_owned(),
            },
            CycleName::Values(values) => format!("values {values}"),
        };
        let expr = runtime
            .registers()
            .get_mut::<CycleRegister>()
            .cycle(&group, &self.values);
        // Past the end of a shorter cycle in the same group: nothing, as in Shopify's.
        let Some(expr) = expr else { return Ok(()) };
        let value = expr.evaluate(runtime).trace_with(|| self.trace().into())?;
        write!(writer, "{}", value.render()).replace("Failed to render")?;
        Ok(())
    }
}

/// A named group's key: its name, or a digest of a long one (a name may be any value, and
/// the key is made at every render of the tag).
fn group_key(name: &str) -> String {
    if name.len() <= 64 {
        return format!("named {name}");
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    format!("digest {} {:x}", name.len(), hasher.finish())
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct CycleRegister {
    // The indices of all the cycles encountered during rendering.
    cycles: HashMap<String, usize>,
}

impl CycleRegister {
    /// The value at the group's index, which moves on (back to the start past this cycle's
    /// last value).
    fn cycle<'e>(&mut self, group: &str, values: &'e [Expression]) -> Option<&'e Expression> {
        let i = self.cycles.entry(group.to_owned()).or_insert(0);
        let value = values.get(*i);
        *i = if *i + 1 >= values.len() { 0 } else { *i + 1 };
        value
    }
}

#[cfg(test)]
mod test {
    use super::*;

    use liquid_core::model::Value;
    use liquid_core::parser;
    use liquid_core::runtime;
    use liquid_core::runtime::RuntimeBuilder;

    fn options() -> Language {
        let mut options = Language::default();
        options.tags.register("cycle".to_owned(), CycleTag.into());
        options
    }

    #[test]
    fn unnamed_cycle_gets_a_name() {
        let tag = parser::Tag::new("{% cycle this, cycle, has, no, name %}").unwrap();
        let cycle = parse_cycle(tag.into_tokens(), &options()).unwrap();
        assert!(!cycle.name.is_empty());
    }

    #[test]
    fn named_values_are_independent() {
        let text = concat!(
            "{% cycle 'a': 'one', 'two', 'three' %}\n",
            "{% cycle 'a': 'one', 'two', 'three' %}\n",
            "{% cycle 'b': 'one', 'two', 'three' %}\n",
            "{% cycle 'b': 'one', 'two', 'three' %}\n"
        );
        let template = parser::parse(text, &options())
            .map(runtime::Template::new)
            .unwrap();

        let runtime = RuntimeBuilder::new().build();
        let output = template.render(&runtime);

        assert_eq!(output.unwrap(), "one\ntwo\none\ntwo\n");
    }

    #[test]
    fn values_are_cycled() {
        let text = concat!(
            "{% cycle 'one', 'two', 'three' %}\n",
            "{% cycle 'one', 'two', 'three' %}\n",
            "{% cycle 'one', 'two', 'three' %}\n",
            "{% cycle 'one', 'two', 'three' %}\n"
        );
        let template = parser::parse(text, &options())
            .map(runtime::Template::new)
            .unwrap();

        let runtime = RuntimeBuilder::new().build();
        let output = template.render(&runtime);

        assert_eq!(output.unwrap(), "one\ntwo\nthree\none\n");
    }

    #[test]
    fn values_can_be_variables() {
        let text = concat!(
            "{% cycle alpha, beta, gamma %}\n",
            "{% cycle alpha, beta, gamma %}\n",
            "{% cycle alpha, beta, gamma %}\n",
            "{% cycle alpha, beta, gamma %}\n"
        );
        let template = parser::parse(text, &options())
            .map(runtime::Template::new)
            .unwrap();

        let runtime = RuntimeBuilder::new().build();
        runtime.set_global("alpha".into(), Value::scalar(1f64));
        runtime.set_global("beta".into(), Value::scalar(2f64));
        runtime.set_global("gamma".into(), Value::scalar(3f64));

        let output = template.render(&runtime);

        assert_eq!(output.unwrap(), "1\n2\n3\n1\n");
    }

    #[test]
    fn bad_cycle_indices_dont_crash() {
        // note the pair of cycle tags with the same name but a differing
        // number of elements
        let text = concat!("{% cycle c: 1, 2 %}\n", "{% cycle c: 1 %}\n");

        let runtime = RuntimeBuilder::new().build();
        let template = parser::parse(text, &options())
            .map(runtime::Template::new)
            .unwrap();
        let output = template.render(&runtime);
        assert!(output.is_err());
    }
}
