//! Password hashing (OpenNebula's core driver stores the sha256 hex) and random tokens.

use nubo_types::{Error, Result};
use sha2::{Digest, Sha256};

/// The lowercase sha256 hex of `secret`, as the core driver stores passwords.
pub fn hash_password(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The lowercase sha1 hex of `secret` (legacy password hashes).
pub fn sha1_password(secret: &str) -> String {
    use sha1::Sha1;
    hex::encode(Sha1::digest(secret.as_bytes()))
}

/// `bytes` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::internal(format!("no randomness available: {e}")))?;
    Ok(hex::encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_the_known_values() {
        assert_eq!(
            hash_password("password"),
            "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
        );
        assert_eq!(
            sha1_password("password"),
            "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"
        );
        assert_eq!(random_hex(16).map(|s| s.len()).ok(), Some(32));
    }
}
