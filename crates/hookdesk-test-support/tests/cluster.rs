//! A private cluster ends with the test binary that started it, however that ends: here, by
//! SIGKILL, which no handler of the binary's sees.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hookdesk_test_support::postgres::{REQUIRE_VARIABLE, server_programs};

#[test]
fn a_killed_binary_leaves_no_server_and_no_folder_behind() {
    hookdesk_test_support::summary_at_exit();
    if server_programs().is_none() {
        let why = "no PostgreSQL server programs found";
        hookdesk_test_support::skip(REQUIRE_VARIABLE, "the private cluster's end", why);
        return;
    }
    let mut holder = Command::new(env!("CARGO_BIN_EXE_hold-private-postgres"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the holder starts");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().expect("piped")).read_line(&mut line).expect("the holder answers");
    let (port, folder) = line.trim_end().split_once(' ').expect("a port and a folder");
    let (port, folder): (u16, PathBuf) = (port.parse().expect("a port"), folder.into());
    // First what must go: a server that answers, its data in the folder.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok(), "the cluster answers on {port}");
    assert!(folder.join("data/postmaster.pid").is_file(), "{} holds the cluster", folder.display());

    holder.kill().expect("SIGKILL");
    holder.wait().expect("the holder ends");
    // The supervisor removes the folder once the server has exited (a server left running
    // without its folder would stop by itself, in its own time): the folder going is the signal.
    let deadline = Instant::now() + Duration::from_secs(30);
    while folder.exists() {
        assert!(Instant::now() < deadline, "30 s after the SIGKILL, {} is still there", folder.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "the folder is gone, but a server answers on {port}");
}
