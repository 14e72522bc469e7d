//! What parsing and rendering cost the threads that call them. A template is parsed once per
//! source, whoever reads it: rules, macros and inbound webhooks are parsed again each time
//! the store reads them, and a list of 200 large macros parsed them all on every load. The
//! work that may take long goes through [`set_offload`]'s runner, which the server points
//! away from the threads that answer requests (`/healthz` keeps answering while an agent's
//! macro renders): a large source to parse, and a render that may loop or ran long before.
//! Any other render is tried on the calling thread for [`INLINE_RENDER`] at most; one that
//! takes longer gives up there and runs again through the runner, from where it started
//! (templates are pure: a render changes nothing but its output and its budget).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::budget::{Budget, GAVE_UP_INLINE};

/// A parsed template and what its renders have shown about their cost.
pub(super) struct Compiled {
    pub template: liquid::Template,
    /// Whether a render may take long: its source is large or loops, or one render did.
    heavy: AtomicBool,
}

/// Sources from this size are parsed through the offload runner, and render through it.
const HEAVY_SOURCE_BYTES: usize = 4 * 1024;

/// How long a render may run on the calling thread before it gives up there, runs again off
/// it, and marks its template heavy (its next renders go off at once).
pub const INLINE_RENDER: Duration = Duration::from_millis(2);

impl Compiled {
    pub fn new(template: liquid::Template, source: &str) -> Self {
        let loops = super::lex::elements(source)
            .any(|e| matches!(e.kind, super::lex::Kind::Tag { name: "for" | "tablerow" | "liquid", .. }));
        Self { template, heavy: AtomicBool::new(loops || source.len() >= HEAVY_SOURCE_BYTES) }
    }

    /// Runs `attempt` (a render of this template under `budget`, on this thread for at most
    /// the `Option<Duration>` it is given): off the calling thread when the template is
    /// heavy; else tried here first, and run again off it when the try gives up.
    pub fn render<T>(
        &self,
        budget: &mut Budget,
        attempt: impl Fn(&mut Budget, Option<Duration>) -> (T, Option<String>, Vec<String>),
    ) -> (T, Option<String>, Vec<String>) {
        if self.heavy.load(Ordering::Relaxed) {
            return offloaded(|| attempt(budget, None));
        }
        let before = budget.clone();
        let tried = attempt(budget, Some(INLINE_RENDER));
        if tried.1.as_deref() != Some(GAVE_UP_INLINE) {
            return tried;
        }
        self.heavy.store(true, Ordering::Relaxed);
        // The try's time counts; nothing else it did.
        let spent = budget.spent();
        *budget = before;
        budget.set_spent(spent);
        offloaded(|| attempt(budget, None))
    }
}

/// Parses `source` with `parse`, or answers the parse of the same source done before.
pub(super) fn parsed(
    source: &str,
    parse: impl FnOnce() -> Result<liquid::Template, liquid::Error>,
) -> Result<Arc<Compiled>, liquid::Error> {
    if let Some(compiled) = cache().get(source) {
        return Ok(compiled);
    }
    let template = if source.len() >= HEAVY_SOURCE_BYTES { offloaded(parse) } else { parse() }?;
    let compiled = Arc::new(Compiled::new(template, source));
    cache().insert(source, compiled.clone());
    Ok(compiled)
}

/// How long-running work is run: given the work, runs it where it blocks no one.
pub type Offload = fn(&mut dyn FnMut());

static OFFLOAD: OnceLock<Offload> = OnceLock::new();

/// Sets how long-running parses and renders run (the server's: off its request threads).
/// Without it, or after a first call, they run on the calling thread.
pub fn set_offload(runner: Offload) {
    let _ = OFFLOAD.set(runner);
}

/// Runs `work` through the runner [`set_offload`] set (work that may take long: a large
/// parse or render, a large body to read), or here without one.
pub fn offloaded<T>(work: impl FnOnce() -> T) -> T {
    let Some(runner) = OFFLOAD.get() else { return work() };
    let mut work = Some(work);
    let mut out = None;
    runner(&mut || {
        if let Some(work) = work.take() {
            out = Some(work());
        }
    });
    // A runner that did not run the work (it must) is made up for here.
    match out {
        Some(out) => out,
        None => work.map(|work| work()).expect("the work ran or is still here"),
    }
}

/// Parsed templates by source, in two generations: a lookup that hits the older one moves
/// the entry to the newer; when the newer holds [`GENERATION_BYTES`] of sources, the older
/// is dropped and the newer takes its place. What is in use stays; the rest goes in turn.
#[derive(Default)]
struct ParseCache {
    current: HashMap<Arc<str>, Arc<Compiled>>,
    previous: HashMap<Arc<str>, Arc<Compiled>>,
    current_bytes: usize,
}

/// The sources one generation holds (small ones counted as [`MIN_ENTRY_BYTES`]).
const GENERATION_BYTES: usize = 8 * 1024 * 1024;
const MIN_ENTRY_BYTES: usize = 512;

struct Shared(Mutex<ParseCache>);

fn cache() -> &'static Shared {
    static CACHE: OnceLock<Shared> = OnceLock::new();
    CACHE.get_or_init(|| Shared(Mutex::new(ParseCache::default())))
}

impl Shared {
    fn get(&self, source: &str) -> Option<Arc<Compiled>> {
        let mut cache = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = cache.current.get(source) {
            return Some(found.clone());
        }
        let (key, found) = cache.previous.remove_entry(source)?;
        cache.add(key, found.clone());
        Some(found)
    }

    fn insert(&self, source: &str, compiled: Arc<Compiled>) {
        let mut cache = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.add(source.into(), compiled);
    }
}

impl ParseCache {
    fn add(&mut self, source: Arc<str>, compiled: Arc<Compiled>) {
        self.current_bytes += source.len().max(MIN_ENTRY_BYTES);
        self.current.insert(source, compiled);
        if self.current_bytes >= GENERATION_BYTES {
            self.previous = std::mem::take(&mut self.current);
            self.current_bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;

    #[test]
    fn one_source_is_parsed_once_and_generations_bound_the_cache() {
        let source = "{{ 'cached once' }}";
        let a = Template::parse("a", source).expect("parses");
        let b = Template::parse("b", source).expect("parses");
        assert!(Arc::ptr_eq(&a.compiled, &b.compiled));

        let mut cache = ParseCache::default();
        let entry = || {
            Arc::new(Compiled::new(liquid::ParserBuilder::new().build().expect("parser").parse("x").expect("x"), "x"))
        };
        for i in 0..(2 * GENERATION_BYTES / MIN_ENTRY_BYTES) {
            cache.add(format!("{i}").into(), entry());
        }
        let held = cache.current.len() + cache.previous.len();
        let per_generation = GENERATION_BYTES / MIN_ENTRY_BYTES;
        assert!((per_generation..=2 * per_generation).contains(&held), "{held}");
    }

    #[test]
    fn a_render_that_runs_long_gives_up_inline_and_runs_again_to_the_same_end() {
        let source = format!(
            "{{% assign a = 'xxxxxxxxxxxxxxxx' %}}{}{}{{{{ c | size }}}}",
            "{% assign a = a | append: a %}".repeat(12),
            "{% assign c = a | replace: 'x', 'y' %}".repeat(10)
        );
        let template = Template::parse("t", &source).expect("parses");
        assert!(!template.compiled.heavy.load(Ordering::Relaxed), "small and loopless: tried inline first");
        let mut rendering = crate::template::Rendering::noting_unknown();
        assert_eq!(rendering.render(&template, &crate::template::Context::new()).as_deref(), Ok("65536"));
        assert!(template.compiled.heavy.load(Ordering::Relaxed), "it ran past the inline limit: heavy now");
        assert!(rendering.unknown().is_empty(), "the try's notes are not kept twice: {:?}", rendering.unknown());
        // The budget is the same: over it inline or off, the same refusal.
        let over = format!("{{% assign a = 'xxxxxxxxxxxxxxxx' %}}{}", "{% assign a = a | append: a %}".repeat(17));
        let fresh = Template::parse("t", &format!("{over}{{{{ 1 }}}}")).expect("parses");
        let error = fresh.render(&crate::template::Context::new()).expect_err("over its budget");
        assert_eq!(error.code(), crate::template::RenderError::TOO_EXPENSIVE);
    }

    #[test]
    fn loops_and_large_sources_are_heavy() {
        let heavy = |source: &str| Template::parse("t", source).expect("parses").compiled.heavy.load(Ordering::Relaxed);
        assert!(!heavy("{{ ticket.subject | upcase }}"));
        assert!(heavy("{% for t in ticket.tags %}{{ t }}{% endfor %}"));
        assert!(heavy("{% tablerow t in ticket.tags %}{{ t }}{% endtablerow %}"));
        assert!(heavy(&"x".repeat(HEAVY_SOURCE_BYTES)));
    }
}
