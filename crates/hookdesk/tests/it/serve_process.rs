//! `hookdesk` run as a process of the real binary, with what it writes on stdout and stderr
//! kept for the test to read.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::support::{Db, PATIENCE, TestDatabase};

pub fn hookdesk() -> Command {
    hookdesk_test_support::summary_at_exit();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookdesk"));
    // The test's own environment must not configure the binary.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HOOKDESK_") {
            command.env_remove(name);
        }
    }
    command.kill_on_drop(true);
    command
}

/// A running `hookdesk serve`.
pub struct Serve {
    pub child: Child,
    pub url: String,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Its database, when it is the process's own (dropped after the process is killed).
    _database: Option<TestDatabase>,
}

/// Starts `hookdesk serve` on a free loopback port with a new database of `db`'s backend,
/// `admin_token`, `HOOKDESK_LOG=info` and `args`; returns once it listens.
pub async fn serve(db: Db, admin_token: &str, args: &[&str]) -> Serve {
    serve_with_env(db, admin_token, args, &[]).await
}

/// [`serve`] with more environment variables.
pub async fn serve_with_env(db: Db, admin_token: &str, args: &[&str], env: &[(&str, &str)]) -> Serve {
    let database = TestDatabase::new(db).await;
    let mut serve = serve_database(&database.url, &database.key_file, admin_token, args, env).await;
    serve._database = Some(database);
    serve
}

/// [`serve_with_env`] on an existing database, `database` a URL, with its key file.
pub async fn serve_database(
    database: &str,
    key_file: &Path,
    admin_token: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Serve {
    let mut child = hookdesk()
        .envs(env.iter().copied())
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .arg("--secret-key-file")
        .arg(key_file)
        .args(args)
        .env("HOOKDESK_ADMIN_TOKEN", admin_token)
        .env("HOOKDESK_LOG", "info,sqlx=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the hookdesk binary starts");
    let stderr = Arc::new(Mutex::new(Vec::new()));
    collect(child.stderr.take().expect("stderr"), stderr.clone());
    let stdout = Arc::new(Mutex::new(Vec::new()));
    collect(child.stdout.take().expect("stdout"), stdout.clone());
    let url = tokio::time::timeout(PATIENCE, async {
        loop {
            let listening = stdout
                .lock()
                .expect("lock")
                .iter()
                .find_map(|l| l.strip_prefix("hookdesk listening on ").map(str::to_owned));
            if let Some(url) = listening {
                return url;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("hookdesk serve exited ({status}): {:#?}", stderr.lock().expect("lock"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("hookdesk serve listens");
    Serve { child, url, stderr, _database: None }
}

/// Keeps every line `from` writes, and keeps reading so that the process never blocks on a
/// full pipe.
fn collect(from: impl AsyncRead + Unpin + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(from).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            into.lock().expect("lock").push(line);
        }
    });
}

impl Serve {
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits until a stderr line satisfies `wanted`; returns it.
    pub async fn stderr_line(&self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.stderr().into_iter().find(|l| wanted(l)) {
                return line;
            }
            assert!(tokio::time::Instant::now() < deadline, "no such line on stderr: {:#?}", self.stderr());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, as an operator stops it; waits for the exit.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
        }
        let _ = tokio::time::timeout(PATIENCE, self.child.wait()).await;
    }
}
