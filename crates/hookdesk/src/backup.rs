//! `hookdesk backup`: a consistent copy of a running SQLite database.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hookdesk_store::{Backend, sqlite_path};

use crate::config::{DatabaseArgs, folder_of};

/// `hookdesk backup`: a consistent copy of the SQLite database `args` names, in a new file
/// that only its owner can read, taken while a server may be writing to the database.
pub async fn backup(args: &DatabaseArgs, target: &Path) -> anyhow::Result<hookdesk_store::BackedUp> {
    if Backend::of_url(&args.database) == Backend::Postgres {
        bail!(
            "`hookdesk backup` copies SQLite databases; back up PostgreSQL with pg_dump (see the README's Operating section)"
        );
    }
    let source = PathBuf::from(sqlite_path(&args.database));
    if !source.is_file() {
        bail!("there is no database at {}", source.display());
    }
    if target.is_dir() {
        bail!("{} is a folder: give the path of the file to write", target.display());
    }
    if target.exists() {
        bail!("{} exists: a backup never overwrites a file; give a new path", target.display());
    }
    if !folder_of(target).is_dir() {
        bail!("the folder {} does not exist: create it first", folder_of(target).display());
    }
    // Written beside the target under another name, then put in place once whole and
    // checked: an interrupted backup never leaves a file that looks like one.
    let name = target.file_name().with_context(|| format!("{} names no file", target.display()))?;
    let partial = target.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    // What an interrupted run left: ours, by its name.
    let _ = std::fs::remove_file(&partial);
    crate::keys::create_private(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let written = async {
        let done = hookdesk_store::backup_sqlite(&source, &partial).await?;
        std::fs::File::open(&partial)?.sync_all()?;
        put_in_place(&partial, target)?;
        anyhow::Ok(done)
    }
    .await;
    let _ = std::fs::remove_file(&partial);
    let done = written.with_context(|| format!("cannot back up {}", source.display()))?;
    // The new name is durable once its folder is.
    if let Ok(folder) = std::fs::File::open(folder_of(target)) {
        let _ = folder.sync_all();
    }
    Ok(done)
}

/// Gives `partial` the name `target`, unless a file took that name meanwhile: a hard link
/// never replaces one (a rename, where links are not supported, is checked first).
fn put_in_place(partial: &Path, target: &Path) -> anyhow::Result<()> {
    match std::fs::hard_link(partial, target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} exists: a backup never overwrites a file; give a new path", target.display())
        }
        Err(_) if !target.exists() => Ok(std::fs::rename(partial, target)?),
        Err(e) => Err(e.into()),
    }
}
