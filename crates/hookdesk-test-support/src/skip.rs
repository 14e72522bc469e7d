//! Skips that are said and counted. A test that cannot run here calls [`skip`]: it fails
//! instead where the `HOOKDESK_REQUIRE_*` variable for what it lacks is set (`.ci/run` sets
//! them all), says why on stderr otherwise, and is counted. When the test binary ends, one
//! line on stderr (after libtest's, outside its capture) says how many tests were skipped and
//! why, "0 skipped" included, and which PostgreSQL the PostgreSQL variants ran on.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, Once, OnceLock, PoisonError};

/// How many times each (what, why) was skipped.
static SKIPPED: Mutex<BTreeMap<(String, String), usize>> = Mutex::new(BTreeMap::new());

/// Which PostgreSQL the PostgreSQL variants ran on, once a test asked for one.
pub(crate) static POSTGRES: OnceLock<String> = OnceLock::new();

/// Records that `what` (a test, or the part of one that needs something) cannot run here
/// because of `why`; fails instead when the variable `required_by` is set.
pub fn skip(required_by: &str, what: &str, why: &str) {
    summary_at_exit();
    assert!(std::env::var_os(required_by).is_none(), "{required_by} is set, but {what} cannot run here: {why}");
    eprintln!("skipped: {what}: {why} (with {required_by} set, this fails)");
    *SKIPPED.lock().unwrap_or_else(PoisonError::into_inner).entry((what.to_owned(), why.to_owned())).or_default() += 1;
}

/// Prints the summary when the test binary ends. [`skip`] and the PostgreSQL lookups call
/// it; tests that can skip nothing call it too (through the suite's helpers), so that a run
/// without skips says "0 skipped".
pub fn summary_at_exit() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: `print_summary` takes nothing and never unwinds; atexit only stores it.
        #[expect(unsafe_code, reason = "std has no safe hook for the end of a process; libtest ends by exit()")]
        let status = unsafe { libc::atexit(print_summary) };
        assert_eq!(status, 0, "atexit takes the summary");
    });
}

extern "C" fn print_summary() {
    // Nothing may unwind out of an atexit handler.
    let _ = std::panic::catch_unwind(|| {
        let _ = writeln!(std::io::stderr(), "{}", summary());
    });
}

/// "hookdesk tests (it): 3 skipped: browser tests: 1 (why); PostgreSQL variants: 2 (why).
/// PostgreSQL: ..."
fn summary() -> String {
    let skipped = SKIPPED.lock().unwrap_or_else(PoisonError::into_inner);
    let total: usize = skipped.values().sum();
    let mut line = format!("hookdesk tests ({}): {total} skipped", binary());
    let reasons: Vec<String> = skipped.iter().map(|((what, why), n)| format!("{what}: {n} ({why})")).collect();
    if !reasons.is_empty() {
        line.push_str(": ");
        line.push_str(&reasons.join("; "));
    }
    line.push('.');
    if let Some(postgres) = POSTGRES.get() {
        line.push_str(" PostgreSQL: ");
        line.push_str(postgres);
        line.push('.');
    }
    line
}

/// The test binary's name without cargo's hash: `it`, `hookdesk_delivery`.
fn binary() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe.as_deref().and_then(std::path::Path::file_stem).map(|s| s.to_string_lossy().into_owned());
    let stem = stem.unwrap_or_else(|| "?".into());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => name.to_owned(),
        _ => stem,
    }
}
