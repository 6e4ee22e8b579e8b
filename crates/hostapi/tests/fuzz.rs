//! Fuzzing the host API's signed-request checks (issue 12): `verify_request`,
//! `verify_request_digest` and `verify_response` with any date and signature headers, and
//! the transfer offers' `parse_query` and `check_token`, as an agent or nubod reads them
//! from a peer it does not trust yet.
//!
//! Properties: nothing panics (dates anywhere in `i64`, and past it); a request signed
//! with the host's secret verifies within the clock window and fails outside it with
//! `Clock`; a changed method, path, body, date or secret fails with `Signature`; a
//! malformed header is `Header`; transfer offers read back and their tokens bind the VM
//! and the expiry.
//!
//! Every test is named `fuzz_…`; `PROPTEST_CASES` overrides the number of cases, so
//! `PROPTEST_CASES=1000000 cargo test -p nubo-hostapi --release fuzz_` is a long run.

use nubo_hostapi::auth::{
    self, AuthError, CLOCK_WINDOW, DATE_HEADER, SIGNATURE_HEADER, sign_request, sign_response,
    verify_request, verify_request_digest, verify_response,
};
use nubo_hostapi::transfer::{check_token, offer_query, parse_query, token};
use nubo_testkit::cases;
use proptest::collection::vec;
use proptest::prelude::*;

/// A time: around now, at the edges of the window, or anywhere in `i64`.
fn time() -> impl Strategy<Value = i64> {
    prop_oneof![
        1_700_000_000i64..1_900_000_000,
        Just(0),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(i64::MIN + 1),
        any::<i64>(),
    ]
}

/// A date header as a peer might send it.
fn date_header() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        time().prop_map(|d| Some(d.to_string())),
        Just(Some("-9223372036854775808".to_owned())),
        Just(Some("9223372036854775808".to_owned())),
        Just(Some("+1".to_owned())),
        Just(Some(String::new())),
        Just(Some(" 1".to_owned())),
        ".{0,24}".prop_map(Some),
        Just(None),
    ]
}

/// A signature header: hex of any length and case, or not hex at all.
fn signature_header() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        "[0-9a-f]{64}".prop_map(Some),
        "[0-9A-Fa-f]{0,70}".prop_map(Some),
        ".{0,70}".prop_map(Some),
        Just(None),
    ]
}

fn check(result: Result<(), AuthError>, date: Option<&str>) -> Result<(), TestCaseError> {
    match result {
        Ok(()) => return Err(TestCaseError::fail("a made-up signature verified")),
        Err(AuthError::Header(h)) => prop_assert!(h == DATE_HEADER || h == SIGNATURE_HEADER),
        Err(AuthError::Clock) => prop_assert!(date.is_some()),
        Err(AuthError::Signature) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_host_request_headers(
        secret in ".{0,16}",
        method in "[A-Z]{0,6}",
        path in ".{0,32}",
        body in vec(any::<u8>(), 0..64),
        date in date_header(),
        signature in signature_header(),
        now in time(),
    ) {
        check(
            verify_request(&secret, &method, &path, date.as_deref(), signature.as_deref(), &body, now),
            date.as_deref(),
        )?;
        let digest = auth::digest(&body);
        check(
            verify_request_digest(&secret, &method, &path, date.as_deref(), signature.as_deref(), &digest, now),
            date.as_deref(),
        )?;
        if let Err(e) = verify_response(&secret, &path, 200, signature.as_deref(), &body) {
            prop_assert!(matches!(e, AuthError::Header(SIGNATURE_HEADER) | AuthError::Signature));
        }
    }

    #[test]
    fn fuzz_host_request_round_trip(
        secret in ".{1,16}",
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT")],
        path in ".{0,32}",
        body in vec(any::<u8>(), 0..64),
        date in 1_700_000_000i64..1_900_000_000,
        skew in -2 * CLOCK_WINDOW..=2 * CLOCK_WINDOW,
        upper in any::<bool>(),
    ) {
        let signature = sign_request(&secret, method, &path, date, &body);
        let given = if upper { signature.to_uppercase() } else { signature.clone() };
        let d = date.to_string();
        let now = date + skew;
        let result = verify_request(&secret, method, &path, Some(&d), Some(&given), &body, now);
        if skew.abs() <= CLOCK_WINDOW {
            prop_assert_eq!(result, Ok(()));
            let other = format!("{secret}x");
            prop_assert_eq!(
                verify_request(&other, method, &path, Some(&d), Some(&given), &body, now),
                Err(AuthError::Signature)
            );
            let other_path = format!("{path}/");
            prop_assert_eq!(
                verify_request(&secret, method, &other_path, Some(&d), Some(&given), &body, now),
                Err(AuthError::Signature)
            );
            prop_assert_eq!(
                verify_request(&secret, "DELETE", &path, Some(&d), Some(&given), &body, now),
                Err(AuthError::Signature)
            );
            let other_body = [body.as_slice(), b"x"].concat();
            prop_assert_eq!(
                verify_request(&secret, method, &path, Some(&d), Some(&given), &other_body, now),
                Err(AuthError::Signature)
            );
            let other_date = if skew < 0 { date - 1 } else { date + 1 }.to_string();
            prop_assert_eq!(
                verify_request(&secret, method, &path, Some(&other_date), Some(&given), &body, now),
                Err(AuthError::Signature)
            );
            let response = sign_response(&secret, &signature, 200, &body);
            prop_assert_eq!(verify_response(&secret, &signature, 200, Some(&response), &body), Ok(()));
            prop_assert_eq!(
                verify_response(&secret, &signature, 500, Some(&response), &body),
                Err(AuthError::Signature)
            );
        } else {
            prop_assert_eq!(result, Err(AuthError::Clock));
        }
    }

    #[test]
    fn fuzz_transfer_offers(
        secret in ".{1,16}",
        vm in any::<i32>(),
        now in 1_700_000_000i64..1_900_000_000,
        later in 0i64..7200,
        query in ".{0,64}",
        expires in time(),
        given in ".{0,70}",
    ) {
        if let Some((e, t)) = parse_query(&query) {
            let _ = check_token(&secret, vm, e, &t, now);
        }
        let _ = check_token(&secret, vm, expires, &given, now);
        let offer = offer_query(&secret, vm, now);
        let (e, t) = parse_query(&offer).ok_or_else(|| TestCaseError::fail(offer.clone()))?;
        prop_assert_eq!(&t, &token(&secret, vm, e));
        let at = now + later;
        if e >= at {
            prop_assert_eq!(check_token(&secret, vm, e, &t, at), Ok(()));
            prop_assert_eq!(check_token(&secret, vm.wrapping_add(1), e, &t, at), Err(AuthError::Signature));
            prop_assert_eq!(check_token(&secret, vm, e + 1, &t, at), Err(AuthError::Signature));
        } else {
            prop_assert_eq!(check_token(&secret, vm, e, &t, at), Err(AuthError::Clock));
        }
    }
}

/// Found by `fuzz_host_request_headers`: a date header at the ends of `i64` overflowed the
/// clock check (a panic in debug builds).
#[test]
fn fuzz_host_dates_at_the_ends_of_i64() {
    let sig = "00".repeat(32);
    for (date, now) in [
        ("-9223372036854775808", 1_800_000_000),
        ("9223372036854775807", -1_800_000_000),
        ("9223372036854775807", i64::MIN),
        ("-9223372036854775808", i64::MAX),
    ] {
        assert_eq!(
            verify_request("s", "GET", "/", Some(date), Some(&sig), b"", now),
            Err(AuthError::Clock),
            "{date} at {now}"
        );
    }
}
