//! Starts a private PostgreSQL cluster, prints its port and folder, and holds it until its
//! standard input closes: `tests/cluster.rs` kills it with SIGKILL and watches the cluster go.

use std::io::Read;

use hookdesk_test_support::postgres::{PrivatePostgres, server_programs};

fn main() {
    let bin = server_programs().expect("PostgreSQL's server programs are installed");
    let cluster = PrivatePostgres::start(&bin).unwrap_or_else(|why| panic!("the cluster did not start: {why}"));
    println!("{} {}", cluster.port(), cluster.folder().display());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
