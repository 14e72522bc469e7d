//! `hookdesk admin-token`: a new API token for the bootstrap admin user, for when the one
//! printed on the first start is lost. Other tokens keep working; a server may be running.

use anyhow::bail;
use hookdesk_core::user::User;
use hookdesk_store::{Backend, sqlite_path};

use crate::config::DatabaseArgs;

/// Issues the token; answers it and the user it acts as. A SQLite file that does not exist
/// is refused: a mistyped path would otherwise create an empty database to issue it in.
pub async fn issue(args: &DatabaseArgs) -> anyhow::Result<(String, User)> {
    if Backend::of_url(&args.database) == Backend::Sqlite {
        let path = sqlite_path(&args.database);
        if !std::path::Path::new(path).exists() {
            bail!("there is no database at {path}: give the --database the server uses");
        }
    }
    let app = crate::serve::open_app(args).await?;
    let issued = app.recover_admin_token().await;
    app.close().await;
    Ok(issued?)
}
