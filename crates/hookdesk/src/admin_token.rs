//! `hookdesk admin-token`: a new API token for the bootstrap admin user, for when the one
//! printed on the first start is lost. Other tokens keep working; a server may be running.

use anyhow::{Context, bail};
use hookdesk_core::user::{Role, User};
use hookdesk_server::app::ids;
use hookdesk_store::{Backend, Store, sqlite_path};

use crate::cli::DatabaseArgs;

/// Issues the token; answers it and the user it acts as. A SQLite file that does not exist
/// is refused: a mistyped path would otherwise create an empty database to issue it in.
pub async fn issue(args: &DatabaseArgs) -> anyhow::Result<(String, User)> {
    if Backend::of_url(&args.database) == Backend::Sqlite {
        let path = sqlite_path(&args.database);
        if !std::path::Path::new(path).exists() {
            bail!("there is no database at {path}: give the --database the server uses");
        }
    }
    let store = crate::serve::open_store(args).await?;
    let issued = issue_in(&store).await;
    store.close().await;
    issued
}

async fn issue_in(store: &Store) -> anyhow::Result<(String, User)> {
    let token = crate::serve::new_admin_token()?;
    let now = hookdesk_core::Timestamp::now();
    match admin_to_act_as(store).await? {
        Some(admin) => {
            store
                .create_token(admin.id, &ids::token_hash(&token), "admin-token", now)
                .await
                .context("cannot store the new token")?;
            Ok((token, admin))
        }
        // A database no server has started on yet: this token is its bootstrap token.
        None if !store.has_bootstrap_token().await? => {
            let admin = store.set_bootstrap_token(&ids::token_hash(&token), now).await?;
            Ok((token, admin))
        }
        None => bail!("the database has no admin user left to issue a token for"),
    }
}

/// The bootstrap admin user, or else the first admin (the bootstrap one may have changed
/// its email, or stopped being an admin).
async fn admin_to_act_as(store: &Store) -> anyhow::Result<Option<User>> {
    let mut first_admin = None;
    let mut after = None;
    loop {
        let page = store.list_users(after, 500).await?;
        for user in page.data.into_iter().filter(|u| u.role == Role::Admin) {
            if user.email == Store::BOOTSTRAP_ADMIN_EMAIL {
                return Ok(Some(user));
            }
            first_admin.get_or_insert(user);
        }
        match page.next_cursor.and_then(|c| c.parse().ok()) {
            Some(id) => after = Some(id),
            None => return Ok(first_admin),
        }
    }
}
