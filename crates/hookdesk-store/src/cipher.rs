//! Secrets at rest: XChaCha20-Poly1305 with a random nonce per value and the value's place
//! (for example `webhook:wh_1:auth`) as associated data, so a ciphertext copied to another
//! row does not decrypt.

use base64::Engine as _;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

use crate::StoreError;

const NONCE_LEN: usize = 24;
/// A version byte in front of every ciphertext, so the scheme can change later.
const VERSION: u8 = 1;

/// The 32-byte key that encrypts secrets. Never printed.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self(key))
    }

    /// Parses the base64 form written by [`SecretKey::to_base64`].
    pub fn from_base64(text: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[derive(Clone)]
pub struct Cipher(XChaCha20Poly1305);

impl Cipher {
    pub fn new(key: &SecretKey) -> Self {
        Self(XChaCha20Poly1305::new(&key.0.into()))
    }

    pub fn seal(&self, place: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::corrupt("random nonce", e))?;
        let sealed = self
            .0
            .encrypt(&XNonce::from(nonce), chacha20poly1305::aead::Payload { msg: plaintext, aad: place.as_bytes() })
            .map_err(|_| StoreError::Corrupt("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, place: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let unreadable = || {
            StoreError::Corrupt(format!(
                "the secret of {place} does not decrypt: is HOOKDESK_SECRET_KEY the key it was written with?"
            ))
        };
        let (&version, rest) = sealed.split_first().ok_or_else(unreadable)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| unreadable())?;
        self.0
            .decrypt(&nonce, chacha20poly1305::aead::Payload { msg: ciphertext, aad: place.as_bytes() })
            .map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_in_its_place() {
        let cipher = Cipher::new(&SecretKey::generate().expect("random"));
        let sealed = cipher.seal("webhook:a:auth", b"hunter2").expect("seal");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(cipher.open("webhook:a:auth", &sealed).expect("open"), b"hunter2");
        let elsewhere = cipher.open("webhook:b:auth", &sealed).map_err(|e| e.to_string()).err();
        assert!(elsewhere.is_some_and(|e| e.contains("the secret of webhook:b:auth does not decrypt")));
        let other = Cipher::new(&SecretKey::generate().expect("random"));
        let other_key = other.open("webhook:a:auth", &sealed).map_err(|e| e.to_string()).err();
        assert!(other_key.is_some_and(|e| e.contains("the secret of webhook:a:auth does not decrypt")));
    }

    #[test]
    fn keys_round_trip_as_base64() {
        let key = SecretKey::generate().expect("random");
        let back = SecretKey::from_base64(&key.to_base64()).expect("parses");
        assert_eq!(back.0, key.0);
        assert!(SecretKey::from_base64("c2hvcnQ=").is_none());
    }
}
