//! Signatures that authenticate nubod and a host agent to each other with the host's
//! secret, which never crosses the wire. A request carries the host's name, the time and
//! an HMAC-SHA256 over method, path, time and the body's digest; the agent checks it
//! (within a five-minute window) and signs its response over the request's signature,
//! the status and the body's digest, so the caller knows the answer came from the agent
//! that holds the same secret.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Header: the host's name as nubod knows it.
pub const HOST_HEADER: &str = "x-nubo-host";
/// Header: seconds since the epoch when the request was signed.
pub const DATE_HEADER: &str = "x-nubo-date";
/// Header: the signature (hex).
pub const SIGNATURE_HEADER: &str = "x-nubo-signature";
/// How far a request's time may be from the agent's clock (seconds).
pub const CLOCK_WINDOW: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            m.update(b"\n");
        }
        m.update(p);
    }
    m
}

/// HMAC-SHA256 of `parts` (joined by newlines) with `secret`, hex.
pub fn hex_mac(secret: &str, parts: &[&[u8]]) -> String {
    hex::encode(mac(secret.as_bytes(), parts).finalize().into_bytes())
}

/// Checks (constant-time) that `given` (hex) is the HMAC of `parts` with `secret`.
pub fn verify_mac(secret: &str, parts: &[&[u8]], given: &str) -> Result<(), AuthError> {
    let given = hex::decode(given).map_err(|_| AuthError::Signature)?;
    mac(secret.as_bytes(), parts)
        .verify_slice(&given)
        .map_err(|_| AuthError::Signature)
}

/// SHA-256 of `body`, hex.
pub fn digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The per-host secret that a front-end with `key` gives host `name` (hex).
pub fn host_secret(key: &[u8], name: &str) -> String {
    hex::encode(
        mac(key, &[b"nubo-host", name.as_bytes()])
            .finalize()
            .into_bytes(),
    )
}

/// The signature of a request.
pub fn sign_request(secret: &str, method: &str, path: &str, date: i64, body: &[u8]) -> String {
    sign_request_digest(secret, method, path, date, &digest(body))
}

/// The same, for a body whose SHA-256 (hex) is known (a file streamed as it is read).
pub fn sign_request_digest(
    secret: &str,
    method: &str,
    path: &str,
    date: i64,
    body_digest: &str,
) -> String {
    let date = date.to_string();
    let m = mac(
        secret.as_bytes(),
        &[
            b"request",
            method.as_bytes(),
            path.as_bytes(),
            date.as_bytes(),
            body_digest.as_bytes(),
        ],
    );
    hex::encode(m.finalize().into_bytes())
}

/// The signature of a response to the request signed `request_signature`.
pub fn sign_response(secret: &str, request_signature: &str, status: u16, body: &[u8]) -> String {
    sign_response_digest(secret, request_signature, status, &digest(body))
}

/// The same, for a body whose SHA-256 (hex) is known (a file streamed as it is read).
pub fn sign_response_digest(
    secret: &str,
    request_signature: &str,
    status: u16,
    body_digest: &str,
) -> String {
    let status = status.to_string();
    let m = mac(
        secret.as_bytes(),
        &[
            b"response",
            request_signature.as_bytes(),
            status.as_bytes(),
            body_digest.as_bytes(),
        ],
    );
    hex::encode(m.finalize().into_bytes())
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A header is missing or malformed.
    #[error("missing or malformed {0} header")]
    Header(&'static str),
    /// The request's time is outside the window.
    #[error("request time is more than {CLOCK_WINDOW} s away from this host's clock")]
    Clock,
    /// The signature does not match.
    #[error("bad signature")]
    Signature,
}

/// Checks a request's signature (constant-time) and time.
pub fn verify_request(
    secret: &str,
    method: &str,
    path: &str,
    date: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), AuthError> {
    verify_request_digest(secret, method, path, date, signature, &digest(body), now)
}

/// The same, for a body whose SHA-256 (hex) the request announced; the receiver checks
/// the body against it once it has read it.
pub fn verify_request_digest(
    secret: &str,
    method: &str,
    path: &str,
    date: Option<&str>,
    signature: Option<&str>,
    body_digest: &str,
    now: i64,
) -> Result<(), AuthError> {
    let date: i64 = date
        .and_then(|d| d.parse().ok())
        .ok_or(AuthError::Header(DATE_HEADER))?;
    let signature = signature.ok_or(AuthError::Header(SIGNATURE_HEADER))?;
    // `abs_diff`: a date at the ends of `i64` must not overflow the subtraction.
    if now.abs_diff(date) > CLOCK_WINDOW.unsigned_abs() {
        return Err(AuthError::Clock);
    }
    let given = hex::decode(signature).map_err(|_| AuthError::Header(SIGNATURE_HEADER))?;
    let d = date.to_string();
    mac(
        secret.as_bytes(),
        &[
            b"request",
            method.as_bytes(),
            path.as_bytes(),
            d.as_bytes(),
            body_digest.as_bytes(),
        ],
    )
    .verify_slice(&given)
    .map_err(|_| AuthError::Signature)
}

/// Checks a response's signature (constant-time).
pub fn verify_response(
    secret: &str,
    request_signature: &str,
    status: u16,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), AuthError> {
    verify_response_digest(secret, request_signature, status, signature, &digest(body))
}

/// The same, for a body whose SHA-256 (hex) was computed while it was received.
pub fn verify_response_digest(
    secret: &str,
    request_signature: &str,
    status: u16,
    signature: Option<&str>,
    body_digest: &str,
) -> Result<(), AuthError> {
    let signature = signature.ok_or(AuthError::Header(SIGNATURE_HEADER))?;
    let given = hex::decode(signature).map_err(|_| AuthError::Header(SIGNATURE_HEADER))?;
    let s = status.to_string();
    mac(
        secret.as_bytes(),
        &[
            b"response",
            request_signature.as_bytes(),
            s.as_bytes(),
            body_digest.as_bytes(),
        ],
    )
    .verify_slice(&given)
    .map_err(|_| AuthError::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_verifies_and_any_change_is_refused() {
        let s = host_secret(b"front-end key", "node1");
        assert_ne!(s, host_secret(b"front-end key", "node2"));
        let sig = sign_request(&s, "POST", "/v1/execute", 1000, b"{}");
        let ok = |secret: &str, path: &str, date: &str, body: &[u8], now| {
            verify_request(secret, "POST", path, Some(date), Some(&sig), body, now)
        };
        assert_eq!(ok(&s, "/v1/execute", "1000", b"{}", 1100), Ok(()));
        assert_eq!(
            ok(&s, "/v1/execute", "1000", b"{ }", 1100),
            Err(AuthError::Signature)
        );
        assert_eq!(
            ok(&s, "/v1/monitor", "1000", b"{}", 1100),
            Err(AuthError::Signature)
        );
        assert_eq!(
            ok(&s, "/v1/execute", "1001", b"{}", 1100),
            Err(AuthError::Signature)
        );
        assert_eq!(
            ok("other", "/v1/execute", "1000", b"{}", 1100),
            Err(AuthError::Signature)
        );
        assert_eq!(
            ok(&s, "/v1/execute", "1000", b"{}", 2000),
            Err(AuthError::Clock)
        );
        assert_eq!(
            verify_request(&s, "POST", "/v1/execute", None, Some(&sig), b"{}", 1000),
            Err(AuthError::Header(DATE_HEADER))
        );
    }

    #[test]
    fn a_response_is_bound_to_its_request() {
        let s = host_secret(b"k", "node1");
        let r = sign_response(&s, "abc", 200, b"ok");
        assert_eq!(verify_response(&s, "abc", 200, Some(&r), b"ok"), Ok(()));
        assert!(verify_response(&s, "abd", 200, Some(&r), b"ok").is_err());
        assert!(verify_response(&s, "abc", 500, Some(&r), b"ok").is_err());
        assert!(verify_response(&s, "abc", 200, Some(&r), b"no").is_err());
        assert!(verify_response(&s, "abc", 200, None, b"ok").is_err());
    }
}
