//! `hookdesk user set-password EMAIL`: sets an agent's or admin's UI password, read from
//! stdin, and ends their lockout: the way back in for a locked-out admin, and a way to script
//! accounts. Runs beside the database, as its operator (like `admin-token`); a server may run.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use hookdesk_core::user::User;
use hookdesk_store::{Backend, sqlite_path};

use crate::config::DatabaseArgs;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Set the password an agent or admin signs in to the UI with, read from the first line
    /// of stdin (`printf '%s\n' "$PASSWORD" | hookdesk user set-password ann@example.com`;
    /// at least 10 characters). Their failed sign-ins are forgotten (a locked account opens)
    /// and the sessions opened with their old password end.
    SetPassword(SetPasswordArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SetPasswordArgs {
    /// The agent's or admin's email.
    pub email: String,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs a `user` subcommand; answers what to print.
pub async fn run(command: UserCommand) -> anyhow::Result<String> {
    match command {
        UserCommand::SetPassword(args) => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprintln!("The new password (it shows as you type; pipe it in to avoid that), then Enter:");
            }
            let password = read_password().await?;
            let user = set_password(&args, &password).await?;
            Ok(format!("Set the password of {} (user {}); its failed sign-ins are forgotten.", user.email, user.id))
        }
    }
}

/// The first line of stdin, without its line ending.
async fn read_password() -> anyhow::Result<String> {
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .context("reading the password")?
    .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Sets the password of the agent or admin with `args.email`. A SQLite file that does not
/// exist is refused, as `admin-token` refuses it.
pub async fn set_password(args: &SetPasswordArgs, password: &str) -> anyhow::Result<User> {
    if Backend::of_url(&args.database.database) == Backend::Sqlite {
        let path = sqlite_path(&args.database.database);
        if !std::path::Path::new(path).exists() {
            bail!("there is no database at {path}: give the --database the server uses");
        }
    }
    let app = crate::serve::open_app(&args.database).await?;
    let done = app.set_password_locally(&args.email, password).await;
    app.close().await;
    Ok(done?)
}
