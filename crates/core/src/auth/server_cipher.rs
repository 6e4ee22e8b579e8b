//! The `server_cipher` auth driver: a server user (serveradmin, used by Sunstone and
//! OneFlow) acts for another user with a session `server:target:[egid:]token`, where the
//! token is `server:target:expires` encrypted with AES-256-CBC (zero IV, PKCS#7) under the
//! first 32 characters of the sha256 hex of the server's password, as OpenNebula does.

use aes::Aes256;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};

/// What a server token grants: the user to act as, and an optional effective group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerGrant {
    /// Name of the user the server acts for.
    pub target: String,
    /// Effective group requested in the session, if any.
    pub egid: Option<i32>,
}

/// Checks the secret part (`target:[egid:]token`) of a server user's session against the
/// server user's stored password (the sha256 hex). `None` when it does not verify.
pub fn verify(server: &str, stored_password: &str, secret: &str, now: i64) -> Option<ServerGrant> {
    let parts: Vec<&str> = secret.split(':').collect();
    let (target, egid, token) = match parts.as_slice() {
        [target, token] => (*target, None, *token),
        [target, egid, token] => (*target, Some(egid.parse::<i32>().ok()?), *token),
        _ => return None,
    };
    let plain = decrypt(stored_password, token)?;
    let mut fields = plain.splitn(3, ':');
    let (s_user, t_user, expires) = (fields.next()?, fields.next()?, fields.next()?);
    let expires: i64 = expires.trim().parse().ok()?;
    (s_user == server && t_user == target && expires > now).then(|| ServerGrant {
        target: target.to_string(),
        egid,
    })
}

fn key_of(stored_password: &str) -> Option<[u8; 32]> {
    stored_password.as_bytes().get(..32)?.try_into().ok()
}

fn decrypt(stored_password: &str, token64: &str) -> Option<String> {
    let key = key_of(stored_password)?;
    let mut data = STANDARD.decode(token64.trim()).ok()?;
    let plain = cbc::Decryptor::<Aes256>::new(&key.into(), &[0u8; 16].into())
        .decrypt_padded_mut::<Pkcs7>(&mut data)
        .ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

/// Makes a server token, as a server's client library does: `server:target:expires`
/// encrypted under the server's stored password. Used by tests and tools.
pub fn login_token(
    server: &str,
    stored_password: &str,
    target: &str,
    expires: i64,
) -> Option<String> {
    let key = key_of(stored_password)?;
    let plain = format!("{server}:{target}:{expires}");
    let sealed = cbc::Encryptor::<Aes256>::new(&key.into(), &[0u8; 16].into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes());
    Some(STANDARD.encode(sealed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hash_password;

    #[test]
    fn a_token_made_for_a_target_verifies_until_it_expires() {
        let stored = hash_password("srvpass");
        let token = login_token("serveradmin", &stored, "alice", 1000).expect("verifies");
        let grant =
            verify("serveradmin", &stored, &format!("alice:{token}"), 999).expect("verifies");
        assert_eq!(grant.target, "alice");
        assert_eq!(grant.egid, None);
        let grant =
            verify("serveradmin", &stored, &format!("alice:105:{token}"), 999).expect("verifies");
        assert_eq!(grant.egid, Some(105));
        assert!(verify("serveradmin", &stored, &format!("alice:{token}"), 1000).is_none());
        assert!(verify("serveradmin", &stored, &format!("bob:{token}"), 10).is_none());
        assert!(verify("other", &stored, &format!("alice:{token}"), 10).is_none());
        let wrong = hash_password("nope");
        assert!(verify("serveradmin", &wrong, &format!("alice:{token}"), 10).is_none());
        assert!(verify("serveradmin", &stored, "alice:not-base64!", 10).is_none());
        assert!(verify("serveradmin", &stored, "alice", 10).is_none());
    }

    #[test]
    fn the_token_matches_opennebula_ruby_cipher() {
        // ServerCipherAuth in OpenNebula's Ruby OCA: key = sha256hex(password)[0..31],
        // aes-256-cbc, no IV set (zeros), base64 without newlines. Known answer computed
        // with `openssl enc -aes-256-cbc -K <hex of key> -iv 00..00 -a`.
        let stored = hash_password("srvpass");
        let token = login_token("serveradmin", &stored, "oneadmin", 2000000000).expect("verifies");
        assert_eq!(token, "kqwrHkFtgRyY5oDbFkbxEdYph07aSr2E8teswUaI3DQ=");
        assert_eq!(
            decrypt(&stored, &token).as_deref(),
            Some("serveradmin:oneadmin:2000000000")
        );
    }
}
