//! The admin token cannot be lost: a start that fails leaves nothing behind, `hookdesk
//! admin-token` issues a new one against a running server's database, a replaced bootstrap
//! token is announced, and `serve --help` names every environment variable.

use std::process::Stdio;

use axum::http::StatusCode;

use crate::serve_process::{hookdesk, serve_database};
use crate::support::{Db, TestApp, default_config};

#[tokio::test]
async fn a_start_that_cannot_listen_creates_no_database() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = default_config(dir.path());
    config.listen = taken.local_addr().expect("address");
    config.database.database = format!("sqlite://{}/data/hookdesk.db", dir.path().display());
    config.database.secret_key_file = None;

    let Err(error) = hookdesk::serve::start(config).await else { panic!("the port is taken: the start fails") };
    assert!(format!("{error:#}").contains("cannot listen"), "{error:#}");
    assert!(!dir.path().join("data").exists(), "no database folder, file or key was created");
}

/// A mistyped `--database` created an empty database and issued a token nobody could use.
#[tokio::test]
async fn admin_token_refuses_a_database_that_does_not_exist() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = hookdesk()
        .args(["admin-token", "--database"])
        .arg(format!("sqlite://{}/typo.db", dir.path().display()))
        .output()
        .await
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("there is no database at"), "{output:?}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("folder").count(), 0, "nothing was created");
}

async fn status_with(client: &reqwest::Client, url: &str, token: &str) -> StatusCode {
    let response = client.get(format!("{url}/api/v1/users")).bearer_auth(token).send().await.expect("answers");
    StatusCode::from_u16(response.status().as_u16()).expect("status")
}

crate::on_both_backends!(admin_token_issues_a_working_token_and_a_new_bootstrap_token_leaves_it_working);

async fn admin_token_issues_a_working_token_and_a_new_bootstrap_token_leaves_it_working(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let database = app.config.database.clone();
    let key_file = database.secret_key_file.clone().expect("tests give a key file");

    // While the server runs, on its database.
    let output = hookdesk()
        .arg("admin-token")
        .args(["--database", &database.database, "--secret-key-file"])
        .arg(&key_file)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let issued = String::from_utf8(output.stdout).expect("text").trim().to_owned();
    assert!(issued.starts_with("hd_") && !issued.contains(char::is_whitespace), "the token alone: {issued:?}");
    let client = reqwest::Client::new();
    let url = format!("http://{}", app.addr);
    assert_eq!(status_with(&client, &url, &issued).await, StatusCode::OK, "the new token works");
    assert_eq!(status_with(&client, &url, &app.token).await, StatusCode::OK, "the old one too");
    app.stop().await;

    // Another HOOKDESK_ADMIN_TOKEN replaces the bootstrap token, says so, and spares the rest.
    let replacement = "a-replacement-admin-token-0123";
    let node = serve_database(&database.database, &key_file, replacement, &[], &[]).await;
    let line = node.stderr_line(|l| l.contains("HOOKDESK_ADMIN_TOKEN replaces")).await;
    assert!(line.contains("WARN"), "{line}");
    assert_eq!(status_with(&client, &node.url, replacement).await, StatusCode::OK);
    assert_eq!(status_with(&client, &node.url, &issued).await, StatusCode::OK, "the issued token survives");
    assert_eq!(
        status_with(&client, &node.url, &app.token).await,
        StatusCode::UNAUTHORIZED,
        "the old bootstrap token is gone"
    );
    node.stop().await;
}

#[tokio::test]
async fn serve_help_names_every_environment_variable() {
    let output = hookdesk().args(["serve", "--help"]).output().await.expect("the binary runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("text");
    // Those read without a flag, and every flag's.
    let mut variables: Vec<String> =
        ["HOOKDESK_ADMIN_TOKEN", "HOOKDESK_SECRET_KEY", "HOOKDESK_LOG"].map(String::from).to_vec();
    let mut cli = <hookdesk::cli::Cli as clap::CommandFactory>::command();
    cli.build();
    let serve = cli.find_subcommand("serve").expect("serve");
    variables.extend(serve.get_arguments().filter_map(|a| Some(a.get_env()?.to_string_lossy().into_owned())));
    assert!(variables.len() > 20 && variables.iter().any(|v| v == "HOOKDESK_LOG_FORMAT"), "{variables:?}");
    for variable in &variables {
        // As a whole word: HOOKDESK_LOG is not found inside HOOKDESK_LOG_FORMAT.
        let whole = help
            .match_indices(variable.as_str())
            .any(|(at, _)| !help[at + variable.len()..].starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric()));
        assert!(whole, "serve --help does not name {variable}:\n{help}");
    }
    assert!(help.contains("hookdesk admin-token"), "it says how to recover a lost token");
}
