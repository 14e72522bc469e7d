//! What commands print on stdout. A reader that stops early (`hookdesk openapi | head -1`)
//! closes the pipe: that ends the output, quietly, instead of a panic as from `println!`.

use std::io::{ErrorKind, Write};

/// Writes `text` and a newline to stdout. A closed stdout is not an error: nobody reads.
pub fn println(text: &str) -> std::io::Result<()> {
    print(&format!("{text}\n"))
}

/// Writes `text` to stdout, as [`println`] does.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
