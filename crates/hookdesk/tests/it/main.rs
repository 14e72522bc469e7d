//! Integration tests: the real server on a random port with a temporary SQLite file, and a
//! real HTTP receiver on loopback. One test binary, so it links once.

mod support;

mod access;
mod bad_input;
mod config;
mod crash;
mod delivery;
mod formats;
mod gates;
mod hardening;
mod hardening_admin;
mod hardening_cli;
mod hardening_http;
mod hardening_logs;
mod import;
mod inbound;
mod multinode;
mod operations;
mod outage;
mod promises;
mod rules;
mod schema;
mod security;
mod serve_process;
mod signing;
mod template_mode;
mod test_send;
mod time_zone;
mod tour;
mod ui;
mod versions;
mod vocabulary;
