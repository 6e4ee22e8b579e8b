//! Who may scrape: a bearer token from nubod's configuration, compared in constant time
//! (members of the oneadmin group are let in by nubod with HTTP Basic as the REST API).

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer(header: &[u8]) -> Option<&[u8]> {
    let space = header.iter().position(|b| *b == b' ')?;
    let (scheme, token) = header.split_at(space);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| token.trim_ascii())
}

/// Whether `given` is `expected`, taking the same time wherever they differ. An empty
/// expected token matches nothing.
pub fn token_matches(expected: &str, given: &[u8]) -> bool {
    let expected = expected.as_bytes();
    if expected.is_empty() || expected.len() != given.len() {
        return false;
    }
    expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_and_compared() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
        assert!(token_matches("s3cret-token", b"s3cret-token"));
        assert!(!token_matches("s3cret-token", b"s3cret-tokeN"));
        assert!(!token_matches("s3cret-token", b"s3cret"));
        assert!(!token_matches("", b""));
    }
}
