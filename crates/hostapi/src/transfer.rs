//! VM files moving from one host to another (cold migration): the source agent offers a
//! VM's files under `GET /v1/transfer/<VM>/<FILE>?expires=E&token=T`, where the token is
//! an HMAC of the VM and the expiry with the source's own secret. nubod hands the offer
//! to the destination's agent over its signed channel; the destination fetches each file
//! with the token (it holds no secret of the source) and checks it against the SHA-256
//! the offer listed.

use std::path::Path;

use http_body_util::{BodyExt, Empty};
use hyper::Request as HttpRequest;

use crate::auth::{self, AuthError};
use crate::images::split_url;

/// Where an agent serves VM files to other agents (followed by `<VM>/<FILE>`).
pub const TRANSFER_PATH: &str = "/v1/transfer/";
/// How long an offer stays valid (seconds).
pub const OFFER_LIFETIME: i64 = 3600;

/// The token that lets another host fetch VM `vm_id`'s files until `expires`.
pub fn token(secret: &str, vm_id: i32, expires: i64) -> String {
    auth::hex_mac(
        secret,
        &[
            b"transfer",
            vm_id.to_string().as_bytes(),
            expires.to_string().as_bytes(),
        ],
    )
}

/// Checks a transfer token (constant-time) and its expiry.
pub fn check_token(
    secret: &str,
    vm_id: i32,
    expires: i64,
    token: &str,
    now: i64,
) -> Result<(), AuthError> {
    if expires < now {
        return Err(AuthError::Clock);
    }
    auth::verify_mac(
        secret,
        &[
            b"transfer",
            vm_id.to_string().as_bytes(),
            expires.to_string().as_bytes(),
        ],
        token,
    )
}

/// The query string of an offer of VM `vm_id`'s files, valid for [`OFFER_LIFETIME`].
pub fn offer_query(secret: &str, vm_id: i32, now: i64) -> String {
    let expires = now + OFFER_LIFETIME;
    format!("expires={expires}&token={}", token(secret, vm_id, expires))
}

/// Reads `expires` and `token` from a query string.
pub fn parse_query(query: &str) -> Option<(i64, String)> {
    let mut expires = None;
    let mut token = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("expires", v)) => expires = v.parse().ok(),
            Some(("token", v)) => token = Some(v.to_string()),
            _ => {}
        }
    }
    Some((expires?, token?))
}

/// Fetches `url` into `dest` (through `dest.part`, renamed when complete) and answers
/// the SHA-256 of what was written.
pub async fn download(url: &str, dest: &Path) -> Result<String, String> {
    let (endpoint, path) = split_url(url)?;
    let authority = endpoint.authority;
    let mut sender = crate::tls::http1(&authority, endpoint.tls).await?;
    let request = HttpRequest::builder()
        .method("GET")
        .uri(&path)
        .header(hyper::header::HOST, &authority)
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{authority}: {e}"))?;
    let status = response.status().as_u16();
    let body = response.into_body();
    if status != 200 {
        let text = body
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        return Err(format!("{authority} answered {status}: {text}"));
    }
    let name = dest
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = dest.with_file_name(format!("{name}.part"));
    let sha = crate::files::receive(body, &tmp, &authority).await?;
    tokio::fs::rename(&tmp, dest)
        .await
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_the_vm_and_the_expiry() {
        let t = token("s3cret-of-the-source", 7, 1000);
        assert!(check_token("s3cret-of-the-source", 7, 1000, &t, 999).is_ok());
        assert_eq!(
            check_token("s3cret-of-the-source", 8, 1000, &t, 999),
            Err(AuthError::Signature)
        );
        assert_eq!(
            check_token("s3cret-of-the-source", 7, 1001, &t, 999),
            Err(AuthError::Signature)
        );
        assert_eq!(
            check_token("another-hosts-secret", 7, 1000, &t, 999),
            Err(AuthError::Signature)
        );
        assert_eq!(
            check_token("s3cret-of-the-source", 7, 1000, &t, 1001),
            Err(AuthError::Clock)
        );
    }

    #[test]
    fn offer_queries_parse_back() {
        let q = offer_query("s3cret-of-the-source", 3, 50);
        let (expires, t) = parse_query(&q).expect("parses");
        assert_eq!(expires, 50 + OFFER_LIFETIME);
        assert!(check_token("s3cret-of-the-source", 3, expires, &t, 60).is_ok());
        assert!(parse_query("expires=1").is_none());
    }
}
