//! EC2 secret access keys at rest. Signature V4 and V2 are HMACs over the plain secret, so
//! nubod must be able to recover it: each secret is sealed with AES-256-GCM under a key
//! derived from nubod's host key (`DATA_DIR/host.key`, which is not in the database), with
//! the access key id as associated data. A leaked database alone reveals no secret, and a
//! sealed secret cannot be moved to another key id.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use nubo_types::{Error, Result};
use sha2::Sha256;

/// What the sealing key is derived for (changing it makes every sealed secret unreadable).
const PURPOSE: &[u8] = b"nubo ec2 secret access keys v1";

/// Length of the random nonce that starts each sealed secret.
const NONCE_LEN: usize = 12;

fn cipher(master: &[u8]) -> Result<Aes256Gcm> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master)
        .map_err(|e| Error::internal(format!("cannot derive the sealing key: {e}")))?;
    mac.update(PURPOSE);
    let key = mac.finalize().into_bytes();
    Aes256Gcm::new_from_slice(&key)
        .map_err(|e| Error::internal(format!("cannot derive the sealing key: {e}")))
}

/// Seals `secret` of key `access_key_id` under `master`: base64 of nonce + ciphertext.
pub fn seal(master: &[u8], access_key_id: &str, secret: &str) -> Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    let sealed = cipher(master)?
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret.as_bytes(),
                aad: access_key_id.as_bytes(),
            },
        )
        .map_err(|_| Error::internal("cannot seal an EC2 secret"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(STANDARD.encode(out))
}

/// Opens a secret sealed by [`seal`]; `None` if it was sealed under another key, for
/// another key id, or damaged.
pub fn open(master: &[u8], access_key_id: &str, sealed: &str) -> Option<String> {
    let data = STANDARD.decode(sealed).ok()?;
    if data.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, body) = data.split_at(NONCE_LEN);
    let plain = cipher(master)
        .ok()?
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: access_key_id.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

/// A new access key id: `NUBO` and 16 characters of base32, like AWS's 20-character ids.
pub fn new_access_key_id() -> Result<String> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    let tail: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    Ok(format!("NUBO{tail}"))
}

/// A new secret access key: 30 random bytes in base64, 40 characters as AWS's.
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 30];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_id() {
        let sealed = seal(b"master key", "NUBOAAAA", "s3cret/+").expect("seal");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            open(b"master key", "NUBOAAAA", &sealed).as_deref(),
            Some("s3cret/+")
        );
        assert_eq!(open(b"other key", "NUBOAAAA", &sealed), None);
        assert_eq!(open(b"master key", "NUBOBBBB", &sealed), None);
        let mut damaged = STANDARD.decode(&sealed).expect("b64");
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert_eq!(
            open(b"master key", "NUBOAAAA", &STANDARD.encode(damaged)),
            None
        );
        assert_eq!(open(b"master key", "NUBOAAAA", "not base64!"), None);
    }

    #[test]
    fn sealing_twice_gives_different_texts() {
        let a = seal(b"k", "id", "same").expect("seal");
        let b = seal(b"k", "id", "same").expect("seal");
        assert_ne!(a, b);
    }

    #[test]
    fn new_keys_look_like_aws_keys() {
        let id = new_access_key_id().expect("id");
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("NUBO"));
        assert!(
            id.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        let secret = new_secret().expect("secret");
        assert_eq!(secret.len(), 40);
        assert_ne!(secret, new_secret().expect("secret"));
    }
}
