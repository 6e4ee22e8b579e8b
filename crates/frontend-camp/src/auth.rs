//! Who is calling: HTTP Basic with a Nubo user's name and password (or a login token), as
//! the REST API takes it, checked by the core through `Paas::authenticate`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;
use nubo_core::Caller;

use crate::Camp;
use crate::error::CampError;

/// The longest `Authorization` header accepted.
const MAX_AUTHORIZATION: usize = 8 * 1024;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

fn unauthenticated(detail: &str) -> CampError {
    CampError::new(StatusCode::UNAUTHORIZED, detail)
}

impl FromRequestParts<Camp> for Authed {
    type Rejection = CampError;

    async fn from_request_parts(parts: &mut Parts, camp: &Camp) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthenticated("this resource needs HTTP Basic credentials"))?;
        if value.len() > MAX_AUTHORIZATION {
            return Err(unauthenticated("the Authorization header is too long"));
        }
        let session = basic_session(value.as_bytes()).ok_or_else(|| {
            unauthenticated("the Authorization header is not HTTP Basic user:password")
        })?;
        let caller = camp
            .paas
            .authenticate(&session)
            .map_err(|_| unauthenticated("wrong user name or password"))?;
        Ok(Authed(caller))
    }
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
        for bad in [
            &b"Bearer abc"[..],
            b"Basic",
            b"Basic !!!",
            b"Basic dXNlcg==",
        ] {
            assert_eq!(basic_session(bad), None, "{bad:?}");
        }
    }
}
