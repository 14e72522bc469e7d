//! The PostgreSQL the tests run on. `HOOKDESK_TEST_POSTGRES_URL` names an existing server (as a
//! user that may create databases). Without it, where PostgreSQL's server programs are
//! installed, each test binary starts one private cluster when a test first asks for one
//! (initdb once per binary, fsync off); it ends with the binary however the binary ends: its
//! supervisor (`cluster.sh`) reads a pipe from the binary, and when the pipe closes it stops
//! the server and removes the cluster's folder. Without either, the PostgreSQL variants are
//! skipped (failed where `HOOKDESK_REQUIRE_POSTGRES` is set).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use sqlx::Connection;

/// Names an existing server for the PostgreSQL variants.
pub const URL_VARIABLE: &str = "HOOKDESK_TEST_POSTGRES_URL";
/// Set (by `.ci/run`), a PostgreSQL variant that cannot run fails instead of being skipped.
pub const REQUIRE_VARIABLE: &str = "HOOKDESK_REQUIRE_POSTGRES";

const SUPERVISOR: &str = include_str!("cluster.sh");

/// The folder of PostgreSQL's server programs: Debian's newest version under
/// /usr/lib/postgresql, else the folder on the `PATH` that holds `initdb` and `postgres`.
pub fn server_programs() -> Option<PathBuf> {
    let complete = |bin: &Path| ["initdb", "postgres"].iter().all(|program| bin.join(program).is_file());
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.split('.').next()?.parse().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .filter(|(_, bin)| complete(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).find(|dir| complete(dir))
    })
}

/// The server of this binary's PostgreSQL variants, decided (a private cluster started) once.
enum Server {
    Named(String),
    Private(PrivatePostgres),
    Absent,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

async fn server() -> &'static Result<Server, String> {
    crate::summary_at_exit();
    match SERVER.get() {
        Some(server) => server,
        // The first lookup may run initdb: not on the test's async thread.
        None => tokio::task::spawn_blocking(|| SERVER.get_or_init(decide)).await.expect("the PostgreSQL lookup ends"),
    }
}

fn decide() -> Result<Server, String> {
    if let Some(url) = std::env::var_os(URL_VARIABLE) {
        let url = url.into_string().map_err(|_| format!("{URL_VARIABLE} is not UTF-8"))?;
        let parsed = url::Url::parse(&url).map_err(|e| format!("{URL_VARIABLE}: {e}"))?;
        let host = parsed.host_str().unwrap_or("?");
        let _ = crate::skip::POSTGRES
            .set(format!("the server {URL_VARIABLE} names ({host}:{})", parsed.port().unwrap_or(5432)));
        return Ok(Server::Named(url));
    }
    let Some(bin) = server_programs() else { return Ok(Server::Absent) };
    let started = Instant::now();
    let cluster = PrivatePostgres::start(&bin)?;
    let _ = crate::skip::POSTGRES.set(format!(
        "a private cluster of {} on port {}, ready in {:.1} s",
        bin.display(),
        cluster.port,
        started.elapsed().as_secs_f64()
    ));
    Ok(Server::Private(cluster))
}

/// Whether `what` can run on PostgreSQL here; where it cannot, it is [`skip`](crate::skip)ped.
/// Fails when the server programs are installed but the private cluster does not start.
pub async fn available(what: &str) -> bool {
    match server().await {
        Ok(Server::Named(_) | Server::Private(_)) => true,
        Ok(Server::Absent) => {
            let why = format!("no PostgreSQL server programs found and {URL_VARIABLE} unset");
            crate::skip(REQUIRE_VARIABLE, what, &why);
            false
        }
        Err(why) => panic!("the tests' private PostgreSQL cluster did not start: {why}"),
    }
}

/// The URL of the server, as a user that may create databases ([`available`] said yes).
pub async fn admin_url() -> String {
    match server().await {
        Ok(Server::Named(url)) => url.clone(),
        Ok(Server::Private(cluster)) => cluster.url(),
        Ok(Server::Absent) | Err(_) => panic!("no PostgreSQL server here: `available` says so first"),
    }
}

/// A new, empty database `{prefix}_...` on the server; its URL and its name.
pub async fn create_database(prefix: &str) -> (String, String) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let admin = admin_url().await;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("{prefix}_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("the test PostgreSQL server answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    conn.close().await.ok();
    let mut url = url::Url::parse(&admin).expect("a postgres:// URL");
    url.set_path(&name);
    (url.to_string(), name)
}

/// Drops the database `name`, closing what is still connected to it.
pub async fn drop_database(name: &str) {
    let mut conn = sqlx::PgConnection::connect(&admin_url().await).await.expect("the test PostgreSQL server answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await
        .expect("drop database");
    conn.close().await.ok();
}

/// A PostgreSQL cluster in a temporary folder, on a free loopback port, run by a supervisor
/// (`cluster.sh`) as the `postgres` user where we are root (the server refuses root). Dropped,
/// or when the process ends however it ends, the server stops and its folder goes.
pub struct PrivatePostgres {
    port: u16,
    folder: PathBuf,
    control: Mutex<Control>,
    supervisor: Child,
}

/// The supervisor's standard input (commands; closed, the end) and output (answers).
struct Control {
    commands: Option<ChildStdin>,
    answers: BufReader<ChildStdout>,
}

impl PrivatePostgres {
    /// Runs initdb and starts the server in `bin` (see [`server_programs`]); returns once it
    /// accepts connections.
    pub fn start(bin: &Path) -> Result<Self, String> {
        let mut why = String::new();
        // The free port we found may be taken before the server binds it: then another one.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            let mut supervisor = supervise(bin, port)?;
            let commands = supervisor.stdin.take();
            let answers = BufReader::new(supervisor.stdout.take().ok_or("the supervisor's output")?);
            let mut control = Control { commands, answers };
            let first = control.answer();
            let folder = first.strip_prefix("folder ").map(PathBuf::from);
            why = if folder.is_some() { control.answer() } else { first };
            // Dropped unless ready, it waits for its supervisor to end.
            let cluster = Self { port, folder: folder.unwrap_or_default(), control: Mutex::new(control), supervisor };
            if why == "ready" {
                return Ok(cluster);
            }
        }
        Err(why)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's folder (its data in `data/`), removed when the cluster ends.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`, a superuser.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (a fast shutdown); returns once it has exited.
    pub fn down(&self) {
        self.command("down", "down");
    }

    /// Starts the server again; returns once it accepts connections.
    pub fn up(&self) {
        self.command("up", "ready");
    }

    fn command(&self, command: &str, expected: &str) {
        let mut control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        let commands = control.commands.as_mut().expect("open until dropped");
        writeln!(commands, "{command}").and_then(|()| commands.flush()).expect("the supervisor reads");
        let answer = control.answer();
        assert_eq!(answer, expected, "the private PostgreSQL cluster, told {command:?}");
    }
}

impl Control {
    fn answer(&mut self) -> String {
        let mut line = String::new();
        match self.answers.read_line(&mut line) {
            Ok(0) => "failed: the supervisor ended without answering (its stderr says why)".into(),
            Ok(_) => line.trim_end().to_owned(),
            Err(e) => format!("failed: the supervisor's answer: {e}"),
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // The closed pipe tells the supervisor to stop the server and remove its folder.
        drop(self.control.get_mut().unwrap_or_else(PoisonError::into_inner).commands.take());
        let _ = self.supervisor.wait();
    }
}

/// `cluster.sh` for `bin` on `port`, as the `postgres` user where we are root.
fn supervise(bin: &Path, port: u16) -> Result<Child, String> {
    let root = rustix::process::geteuid().is_root();
    let mut command = if root {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--", "sh"]);
        command
    } else {
        Command::new("sh")
    };
    // The cluster's folder goes where its user may write.
    let parent = if root { PathBuf::from("/tmp") } else { std::env::temp_dir() };
    command
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("cluster.sh")
        .arg(bin)
        .arg(port.to_string())
        .arg(parent)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("the supervisor (sh{}) does not start: {e}", if root { " under setpriv" } else { "" }))
}
