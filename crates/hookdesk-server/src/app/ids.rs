//! Identifiers and tokens: random, prefixed, sortable by creation where it helps.

use sha2::Digest;

/// `PREFIX_` + a UUIDv7 in hex: unique, and ordered by creation time (the invocation log
/// pages by id).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// `PREFIX_` + 128 random bits in hex: unique, and telling nothing of when it was made (a
/// node's id is shown by `/healthz`; a UUIDv7 would tell when the process started).
pub fn random_id(prefix: &str) -> Result<String, getrandom::Error> {
    Ok(format!("{prefix}_{}", random_bytes(16)?.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// A random secret of `bytes` bytes, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> Result<String, getrandom::Error> {
    use base64::Engine as _;
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

pub fn random_bytes(bytes: usize) -> Result<Vec<u8>, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(buf)
}

/// What the database keeps of an API token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    let digest = sha2::Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation() {
        let a = new_id("inv");
        let b = new_id("inv");
        assert!(a.starts_with("inv_") && a < b);
    }

    #[test]
    fn token_hashes_are_hex_sha256() {
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
