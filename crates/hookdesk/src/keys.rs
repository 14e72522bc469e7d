//! The key that encrypts secrets at rest: from `HOOKDESK_SECRET_KEY`, or a key file that is
//! created (mode 0600) on first start.

use std::path::Path;

use anyhow::{Context, bail};
use hookdesk_store::SecretKey;

/// The key in `HOOKDESK_SECRET_KEY`, if it is set.
pub fn from_env() -> anyhow::Result<Option<SecretKey>> {
    match std::env::var("HOOKDESK_SECRET_KEY") {
        Ok(text) => {
            SecretKey::from_base64(&text).context("HOOKDESK_SECRET_KEY must be the base64 of 32 bytes").map(Some)
        }
        Err(_) => Ok(None),
    }
}

pub fn load_or_create(path: &Path) -> anyhow::Result<SecretKey> {
    if let Some(key) = from_env()? {
        return Ok(key);
    }
    match std::fs::read_to_string(path) {
        Ok(text) => SecretKey::from_base64(&text)
            .with_context(|| format!("{} does not hold a secret key (base64 of 32 bytes)", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate().map_err(|e| anyhow::anyhow!("no randomness for the secret key: {e}"))?;
            write_private(path, &key.to_base64())?;
            tracing::info!(path = %path.display(), "created the key that encrypts secrets at rest; back it up with the database");
            Ok(key)
        }
        Err(e) => bail!("cannot read the secret key file {}: {e}", path.display()),
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = create_private(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// A new file only its owner may read (mode 0600); an error if it exists.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// `folder` and its missing parents, those made now only for their owner (mode 0700).
pub fn create_private_dir(folder: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(folder)
}
