//! What parsing and rendering cost the threads that call them. A template is parsed once per
//! source, whoever reads it: rules, macros and inbound webhooks are parsed again each time
//! the store reads them, and a list of 200 large macros parsed them all on every load. The
//! work that may take long (a large source to parse, a render that loops or once took long)
//! goes through [`set_offload`]'s runner, which the server points away from the threads that
//! answer requests (`/healthz` keeps answering while an agent's macro renders).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A parsed template and what its renders have shown about their cost.
pub(super) struct Compiled {
    pub template: liquid::Template,
    /// Whether a render may take long: its source is large or loops, or one render did.
    heavy: AtomicBool,
}

/// Sources from this size are parsed through the offload runner, and render through it.
const HEAVY_SOURCE_BYTES: usize = 4 * 1024;

/// A render that took this long marks its template heavy: its next renders are offloaded.
const HEAVY_RENDER: Duration = Duration::from_millis(2);

impl Compiled {
    pub fn new(template: liquid::Template, source: &str) -> Self {
        let loops = super::lex::elements(source)
            .any(|e| matches!(e.kind, super::lex::Kind::Tag { name: "for" | "tablerow" | "liquid", .. }));
        Self { template, heavy: AtomicBool::new(loops || source.len() >= HEAVY_SOURCE_BYTES) }
    }

    /// Runs `render` (a render of this template), offloaded when it may take long.
    pub fn render<T>(&self, render: impl FnOnce() -> T) -> T {
        if self.heavy.load(Ordering::Relaxed) {
            return offloaded(render);
        }
        let started = std::time::Instant::now();
        let out = render();
        if started.elapsed() >= HEAVY_RENDER {
            self.heavy.store(true, Ordering::Relaxed);
        }
        out
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

fn offloaded<T>(work: impl FnOnce() -> T) -> T {
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
    fn loops_and_large_sources_are_heavy() {
        let heavy = |source: &str| Template::parse("t", source).expect("parses").compiled.heavy.load(Ordering::Relaxed);
        assert!(!heavy("{{ ticket.subject | upcase }}"));
        assert!(heavy("{% for t in ticket.tags %}{{ t }}{% endfor %}"));
        assert!(heavy("{% tablerow t in ticket.tags %}{{ t }}{% endtablerow %}"));
        assert!(heavy(&"x".repeat(HEAVY_SOURCE_BYTES)));
    }
}
