//! The command line as operators meet it: options from the environment, a database URL of
//! an unknown kind, and a reader that closes stdout early.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::serve_process::hookdesk;

#[tokio::test]
async fn an_unknown_database_scheme_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = hookdesk()
        .args(["serve", "--listen", "127.0.0.1:0", "--database", "mysql://x/y"])
        .current_dir(dir.path())
        .output()
        .await
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    for accepted in ["sqlite://PATH", "sqlite:PATH", "plain path", "postgres://", "postgresql://"] {
        assert!(stderr.contains(accepted), "the message names {accepted}: {stderr}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("readable").collect();
    assert!(left.is_empty(), "nothing created in the working directory: {left:?}");
}

#[tokio::test]
async fn ranges_from_the_environment_may_be_empty_spaced_or_bare_addresses() {
    // The port is taken, so the start stops right after parsing and before any database:
    // the error must be about listening, not about the ranges.
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = hookdesk()
        .args(["serve", "--listen", &taken.local_addr().expect("address").to_string()])
        .env("HOOKDESK_ALLOW_DESTINATIONS", "")
        .env("HOOKDESK_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ,::1")
        .current_dir(dir.path())
        .output()
        .await
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("cannot listen"), "the ranges parsed: {stderr}");
    assert!(std::fs::read_dir(dir.path()).expect("readable").next().is_none(), "nothing created");
}

#[tokio::test]
async fn a_reader_that_stops_early_ends_the_output_quietly() {
    let mut child =
        hookdesk().arg("openapi").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the binary runs");
    // As `hookdesk openapi | head -1`: the document (150 KB) is larger than the pipe, so the
    // rest of it is written to a closed pipe.
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).await.expect("a line");
    assert_eq!(first.trim(), "{");
    drop(stdout);
    let output = tokio::time::timeout(crate::support::PATIENCE, child.wait_with_output())
        .await
        .expect("it exits")
        .expect("its status");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}
