//! The render budget: what one render may cost, so that no template (an agent's macro
//! comment, an admin's payload) can exhaust memory or hold the database's writer for long.
//!
//! Deterministic limits cover the shapes that cost the most: loop iterations and range
//! lengths, the size of any value a filter, `assign` or `capture` makes, the bytes all of them
//! move, and the output. A wall-clock deadline, read every few tags and filters, is the
//! backstop for work none of them counts (comparing two large strings in every iteration).
//!
//! A budget may span several renders (all those of one update: a macro with a hundred
//! comments gets one budget, not a hundred). It moves into a thread-local for the duration
//! of each render: liquid renders synchronously on the calling thread, and its tags, filters
//! and our writer all reach it; between renders it is an ordinary value, free to cross awaits.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use liquid_core::ValueView;

/// Loop iterations under one budget, over every loop together (nested loops multiply).
pub const MAX_ITERATIONS: u64 = 100_000;
/// The longest range or array a loop may walk: liquid collects a range before walking it.
pub const MAX_RANGE: u64 = 100_000;
/// The largest value (text, or list by [`size_of`]) a filter, `assign` or `capture` may make.
pub const MAX_VALUE_BYTES: u64 = 1024 * 1024;
/// Bytes moved by filters, assignments and captures under one budget.
pub const MAX_WORK_BYTES: u64 = 64 * 1024 * 1024;
/// The longest the renders of one budget may take together, whatever they do.
pub const MAX_RENDER_TIME: Duration = Duration::from_millis(200);
/// The default limit of a render's output.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// What renders under one budget have spent.
#[derive(Debug, Default, Clone)]
pub struct Budget {
    iterations: u64,
    work: u64,
    /// Time spent rendering (not waiting between renders).
    spent: Duration,
    /// Why the budget ran out, once it has: every later render fails at once.
    exceeded: Option<String>,
    /// During a render: when it must stop, and what it asked for in vain.
    deadline: Option<Instant>,
    /// During a render tried on the calling thread: when it must give up there (to be run
    /// again elsewhere, see `cost`).
    inline_until: Option<Instant>,
    /// Spends since the clock was last read: it is read every [`CLOCK_EVERY`] of them.
    unclocked: u32,
    /// Whether to name the variables the context lacks (dry runs, test sends, checks on
    /// save); following lookups costs a little on every render.
    noting: bool,
    /// Whether its renders are strict ([`super::TemplateMode::Strict`]): what is undefined or
    /// of the wrong type fails them (undefined variables are noted to be named).
    strict: bool,
    unknown: Vec<String>,
    /// The last value a lookup found, and its path, to name the next lookup in it.
    last: (usize, String),
}

/// How many spends (writes, filters, tags) may pass between two readings of the clock: each
/// does bounded work, so the deadline is overrun by little, and reading the clock at each
/// cost a render more than all the rest of the budget.
const CLOCK_EVERY: u32 = 16;

impl Budget {
    /// The time its renders took.
    pub(super) fn spent(&self) -> Duration {
        self.spent
    }

    pub(super) fn set_spent(&mut self, spent: Duration) {
        self.spent = spent;
    }

    /// A budget that also names the variables its renders ask for in vain.
    pub fn noting_unknown() -> Self {
        Self { noting: true, ..Self::default() }
    }

    pub(super) fn is_strict(&self) -> bool {
        self.strict
    }

    pub(super) fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
    }
}

thread_local! {
    static STATE: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Why a render tried on the calling thread stopped: it took longer than that thread may
/// spend (it runs again, off it, under the same budget).
pub(super) const GAVE_UP_INLINE: &str = "gave up on the calling thread";

/// Runs `render` under `budget` on this thread; answers its result, why the budget ran out
/// (if it did: [`GAVE_UP_INLINE`] when it ran past `inline`) and the variables it asked for
/// that the context lacks.
pub(super) fn within<T>(
    budget: &mut Budget,
    inline: Option<Duration>,
    render: impl FnOnce() -> T,
) -> (T, Option<String>, Vec<String>) {
    let started = Instant::now();
    let mut state = std::mem::take(budget);
    state.deadline = Some(started + MAX_RENDER_TIME.saturating_sub(state.spent));
    state.inline_until = inline.map(|limit| started + limit);
    // A render never starts inside another; if one did, the outer budget comes back after,
    // even when the render panics (the thread may render again).
    struct Restore(Option<Option<Budget>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                STATE.with(|s| *s.borrow_mut() = outer);
            }
        }
    }
    let mut restore = Restore(Some(STATE.with(|s| s.borrow_mut().replace(state))));
    let result = render();
    let outer = restore.0.take().unwrap_or_default();
    let mut state = STATE.with(|s| std::mem::replace(&mut *s.borrow_mut(), outer)).unwrap_or_default();
    state.spent += started.elapsed();
    state.deadline = None;
    state.inline_until = None;
    state.last = (0, String::new());
    let unknown = std::mem::take(&mut state.unknown);
    let exceeded = state.exceeded.clone();
    *budget = state;
    (result, exceeded, unknown)
}

/// Whether the render under way is strict: filters then refuse what a lax render reads as
/// Ruby does (nil or text that is no number in arithmetic, `first` of a number).
pub(super) fn strict() -> bool {
    STATE.with(|s| s.borrow().as_ref().is_some_and(|state| state.strict))
}

/// Spends from the current budget; `Err` (and the reason remembered) when it is over.
fn spend(change: impl FnOnce(&mut Budget) -> Option<String>) -> liquid_core::Result<()> {
    let reason = STATE.with(|s| {
        let mut state = s.borrow_mut();
        let state = state.as_mut()?;
        if let Some(reason) = &state.exceeded {
            return Some(reason.clone());
        }
        let reason = change(state).or_else(|| {
            state.unclocked += 1;
            if state.unclocked < CLOCK_EVERY {
                return None;
            }
            state.unclocked = 0;
            let now = Instant::now();
            if state.deadline.is_some_and(|deadline| now > deadline) {
                return Some(format!("rendering took longer than {} ms (the limit)", MAX_RENDER_TIME.as_millis()));
            }
            state.inline_until.is_some_and(|until| now > until).then(|| GAVE_UP_INLINE.to_owned())
        })?;
        state.exceeded = Some(reason.clone());
        Some(reason)
    });
    match reason {
        None => Ok(()),
        Some(reason) => Err(liquid_core::Error::with_msg(format!("the template is too expensive: {reason}"))),
    }
}

/// Checks the deadline only (at every tag).
pub(super) fn check() -> liquid_core::Result<()> {
    spend(|_| None)
}

/// A loop is about to walk `length` items, `iterations` of them.
pub(super) fn spend_loop(length: u64, iterations: u64) -> liquid_core::Result<()> {
    spend(|state| {
        if length > MAX_RANGE {
            return Some(format!("a loop over {length} items (the limit is {MAX_RANGE})"));
        }
        state.iterations += iterations;
        (state.iterations > MAX_ITERATIONS)
            .then(|| format!("more than {MAX_ITERATIONS} loop iterations (over all loops together)"))
    })
}

/// A filter, assignment or capture made a value of `bytes`, after reading `read` bytes.
pub(super) fn spend_value(read: u64, bytes: u64) -> liquid_core::Result<()> {
    spend(|state| {
        if bytes > MAX_VALUE_BYTES {
            return Some(format!("a value of more than {} KiB (the limit)", MAX_VALUE_BYTES / 1024));
        }
        spend_work(state, read + bytes)
    })
}

fn spend_work(state: &mut Budget, bytes: u64) -> Option<String> {
    state.work += bytes;
    (state.work > MAX_WORK_BYTES).then(|| format!("more than {} MiB of text processed", MAX_WORK_BYTES / (1024 * 1024)))
}

/// What a lookup asked for: a name (`.subject`) or an index (`[0]`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Key<'k> {
    Name(&'k str),
    Index(i64),
}

/// Follows a chain of lookups (`ticket`, then `.subject` in it) to name what is missing:
/// `parent` is the value looked in (`None`: the globals), `found` what the lookup gave. The
/// path is built in one buffer, reused: lookups are the hot path of every render.
pub(super) fn note_lookup(parent: Option<usize>, key: Key<'_>, found: Option<usize>) {
    use std::fmt::Write as _;
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        let Some(state) = state.as_mut().filter(|state| state.noting || state.strict) else { return };
        let (last, path) = &mut state.last;
        // A loop variable or an assigned value starts a path of its own: its name is not
        // known here.
        if parent.is_none() || parent != Some(*last) {
            path.clear();
        }
        match key {
            Key::Name(name) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
            }
            Key::Index(index) => {
                let _ = write!(path, "[{index}]");
            }
        }
        match found {
            Some(address) => *last = address,
            None => {
                if state.unknown.len() < 50 && !state.unknown.iter().any(|u| u == path) {
                    state.unknown.push(path.clone());
                }
                *last = 0;
                path.clear();
            }
        }
    });
}

/// Output that refuses to grow past `max` bytes. What it holds is charged to the budget by
/// its owner once it is done (a capture's value), or bounded by `max` itself (a render's
/// output): charging each write would cost a render more than its writes.
pub(super) struct BoundedWriter {
    pub out: Vec<u8>,
    max: usize,
    /// What is written, for the error: "the output".
    what: &'static str,
}

impl BoundedWriter {
    pub fn new(max: usize, what: &'static str) -> Self {
        Self { out: Vec::new(), max, what }
    }
}

impl std::io::Write for BoundedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > self.max {
            let (max, what) = (self.max, self.what);
            let _ = spend(|_| Some(format!("{what} is over {} KiB (the limit here)", max.div_ceil(1024))));
            return Err(std::io::Error::other("the output limit is reached"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What one item of a list or object costs besides its text: a liquid value in memory.
const ITEM_BYTES: u64 = 48;

/// The size of a value in memory, about: its text, and [`ITEM_BYTES`] per item of a list or
/// object (a list of a million one-letter texts holds 48 MB, not 1). Counted up to `limit`,
/// no further: counting costs.
pub(super) fn size_of(value: &dyn ValueView, limit: u64) -> u64 {
    fn walk(value: &dyn ValueView, total: &mut u64, limit: u64) {
        if *total > limit {
            return;
        }
        if let Some(scalar) = value.as_scalar() {
            *total += scalar.to_kstr().len() as u64;
        } else if let Some(array) = value.as_array() {
            for item in array.values() {
                *total += ITEM_BYTES;
                walk(item, total, limit);
                if *total > limit {
                    return;
                }
            }
        } else if let Some(object) = value.as_object() {
            for (key, item) in object.iter() {
                *total += key.len() as u64 + ITEM_BYTES;
                walk(item, total, limit);
                if *total > limit {
                    return;
                }
            }
        }
    }
    let mut total = 0;
    walk(value, &mut total, limit);
    total
}
