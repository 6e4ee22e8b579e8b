//! The host API's signed-request checks on any headers: `verify_request` (date and
//! signature headers, path and body from the input) and the transfer offers' `parse_query`
//! and `check_token`: no panic, and nothing made up verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_hostapi::auth::verify_request;
use nubo_hostapi::transfer::{check_token, parse_query};

fuzz_target!(|text: &str| {
    let mut parts = text.splitn(4, '\n');
    let date = parts.next();
    let signature = parts.next();
    let path = parts.next().unwrap_or("/");
    let body = parts.next().unwrap_or("").as_bytes();
    for now in [0, 1_800_000_000, i64::MIN, i64::MAX] {
        assert!(verify_request("secret", "GET", path, date, signature, body, now).is_err());
    }
    if let Some((expires, token)) = parse_query(text) {
        assert!(check_token("secret", 1, expires, &token, 1_800_000_000).is_err());
    }
});
