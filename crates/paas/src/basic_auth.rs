//! Credentials as both HTTP front ends of the PaaS (REST and CAMP) take them: HTTP Basic
//! with a Nubo user's name and password (or a login token in place of the password), or
//! `Bearer <token>` with a login token from `one.user.login`; checked by the core as an
//! XML-RPC session would be.

use base64::Engine;
use nubo_core::Caller;

use crate::Paas;

/// The longest `Authorization` header read.
pub const MAX_AUTHORIZATION: usize = 8 * 1024;

/// Why a request's credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BasicAuthError {
    /// No `Authorization` header.
    #[error("this call needs HTTP Basic credentials")]
    Missing,
    /// A header longer than [`MAX_AUTHORIZATION`].
    #[error("the Authorization header is too long")]
    TooLong,
    /// Neither `Basic <base64 of user:password>` nor `Bearer <token>`.
    #[error("the Authorization header is neither HTTP Basic user:password nor a Bearer token")]
    Malformed,
    /// No such enabled user with that password or token.
    #[error("wrong user name or password")]
    Wrong,
}

impl Paas {
    /// The caller the value of a request's `Authorization` header stands for.
    pub fn authenticate_basic(&self, header: Option<&[u8]>) -> Result<Caller, BasicAuthError> {
        let value = header.ok_or(BasicAuthError::Missing)?;
        if value.len() > MAX_AUTHORIZATION {
            return Err(BasicAuthError::TooLong);
        }
        if let Some(token) = bearer_token(value) {
            return self
                .core()
                .authenticate_bearer(token)
                .map_err(|_| BasicAuthError::Wrong);
        }
        let session = basic_session(value).ok_or(BasicAuthError::Malformed)?;
        self.authenticate(&session)
            .map_err(|_| BasicAuthError::Wrong)
    }
}

/// The token of `Bearer <token>`.
fn bearer_token(value: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(value).ok()?;
    let (scheme, token) = text.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `user:password` from `Basic <base64>`.
fn basic_session(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    let (scheme, encoded) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let session = String::from_utf8(decoded).ok()?;
    session.contains(':').then_some(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_read() {
        assert_eq!(
            basic_session(b"Basic dXNlcjpwYXNz").as_deref(),
            Some("user:pass")
        );
        assert_eq!(
            basic_session(b"basic dXNlcjpwYXNz").as_deref(),
            Some("user:pass")
        );
        for bad in [
            &b"Bearer abc"[..],
            b"Basic",
            b"Basic !!!",
            b"Basic dXNlcg==",
            b"\xff",
        ] {
            assert_eq!(basic_session(bad), None, "{bad:?}");
        }
    }
}
