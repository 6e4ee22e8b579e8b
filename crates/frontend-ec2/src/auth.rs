//! Who signed a request: the V4 (header or presigned) or V2 signature is read, the access
//! key looked up in the core, the clock checked (15 minutes either way; a presigned URL
//! until it expires), and the signature verified. The answer is the key's Nubo user.

use nubo_core::{Caller, Core};

use crate::error::{Ec2Error, Ec2Result};
use crate::params::Params;
use crate::sigv4::Incoming;
use crate::{sigv2, sigv4};

/// How far a request's time may be from ours, in seconds.
pub const MAX_SKEW: i64 = 15 * 60;

/// The Nubo user who signed `req`, whose parameters are `params`, at `now` (epoch seconds).
/// Requests must be scoped to `region`.
pub fn authenticate(
    core: &Core,
    req: &Incoming<'_>,
    params: &Params,
    region: &str,
    now: i64,
) -> Ec2Result<Caller> {
    if let Some(claim) = sigv4::claim(req) {
        let claim = claim?;
        if claim.service != "ec2" {
            return Err(Ec2Error::client(
                "IncompleteSignature",
                format!(
                    "Credential should be scoped to service 'ec2', not '{}'",
                    claim.service
                ),
            ));
        }
        if claim.region != region {
            return Err(Ec2Error::auth(format!(
                "Credential should be scoped to a valid region, not '{}' (this cloud's region is '{region}')",
                claim.region
            )));
        }
        let signed_at = parse_amz_date(&claim.amz_date).ok_or_else(|| {
            Ec2Error::client(
                "IncompleteSignature",
                format!("X-Amz-Date '{}' is not yyyymmddThhmmssZ", claim.amz_date),
            )
        })?;
        if claim.scope_date.len() != 8 || claim.amz_date.get(..8) != Some(claim.scope_date.as_str())
        {
            return Err(Ec2Error::auth(
                "The date of the credential scope does not match X-Amz-Date",
            ));
        }
        check_time(signed_at, claim.expires, now)?;
        let credentials = lookup(core, &claim.access_key_id)?;
        if !sigv4::verify(req, &claim, &credentials.secret) {
            return Err(signature_mismatch());
        }
        return Ok(credentials.caller);
    }
    if let Some(claim) = sigv2::claim(params) {
        let claim = claim?;
        match (params.get("Timestamp"), params.get("Expires")) {
            (Some(t), _) => {
                let at = parse_iso8601(t)
                    .ok_or_else(|| Ec2Error::invalid("Timestamp", t, "It must be ISO 8601."))?;
                check_time(at, None, now)?;
            }
            (None, Some(e)) => {
                let until = parse_iso8601(e)
                    .ok_or_else(|| Ec2Error::invalid("Expires", e, "It must be ISO 8601."))?;
                // Good until it expires, and never for longer than the clock window ahead:
                // a far-off Expires would make a request replayable for that long.
                if now > until || until > now + MAX_SKEW {
                    return Err(expired());
                }
            }
            (None, None) => return Err(Ec2Error::missing("Timestamp")),
        }
        let credentials = lookup(core, &claim.access_key_id)?;
        let host = req
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        // Signers disagree on whether the port belongs to the host: try both.
        let hosts = [Some(host), host.rsplit_once(':').map(|(h, _)| h)];
        let good = hosts
            .into_iter()
            .flatten()
            .any(|h| sigv2::verify(req.method, h, req.path, params, &claim, &credentials.secret));
        if !good {
            return Err(signature_mismatch());
        }
        return Ok(credentials.caller);
    }
    Err(Ec2Error::with_status(
        axum::http::StatusCode::UNAUTHORIZED,
        "MissingAuthenticationToken",
        "The request must be signed with an EC2 access key (Signature Version 4 or 2)",
    ))
}

fn lookup(core: &Core, access_key_id: &str) -> Ec2Result<nubo_core::ops::ec2_keys::Ec2Credentials> {
    core.ec2_credentials(access_key_id).map_err(|e| match e {
        nubo_types::Error::Authentication => {
            Ec2Error::auth("AWS was not able to validate the provided access credentials")
        }
        other => other.into(),
    })
}

fn signature_mismatch() -> Ec2Error {
    Ec2Error::auth("The request signature we calculated does not match the signature you provided")
}

fn expired() -> Ec2Error {
    Ec2Error::client("RequestExpired", "Request has expired.")
}

fn check_time(signed_at: i64, expires: Option<i64>, now: i64) -> Ec2Result<()> {
    if signed_at > now + MAX_SKEW {
        return Err(expired());
    }
    let until = match expires {
        Some(e) => signed_at + e,
        None => signed_at + MAX_SKEW,
    };
    if now > until {
        return Err(expired());
    }
    Ok(())
}

/// `yyyymmddThhmmssZ` as epoch seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    epoch(
        num(0..4)?,
        num(4..6)?,
        num(6..8)?,
        num(9..11)?,
        num(11..13)?,
        num(13..15)?,
    )
}

/// `2026-11-23T05:22:50Z`, with optional fractions and a `Z` or `±hh:mm` zone (at most
/// 14 hours off).
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = frac.get(digits..)?;
    }
    let offset = match rest {
        "" | "Z" => 0,
        zone => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = zone.get(1..)?.split_once(':')?;
            let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
            if !(0..=14).contains(&h) || !(0..60).contains(&m) {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    Some(
        epoch(
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        )? - offset,
    )
}

fn epoch(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&mi)
        || !(0..=60).contains(&s)
    {
        return None;
    }
    Some(nubo_core::calendar::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse() {
        assert_eq!(parse_amz_date("20261123T050000Z"), Some(1_795_410_000));
        assert_eq!(parse_iso8601("2026-11-23T05:00:00Z"), Some(1_795_410_000));
        assert_eq!(
            parse_iso8601("2026-11-23T05:00:00.123Z"),
            Some(1_795_410_000)
        );
        assert_eq!(
            parse_iso8601("2026-11-23T06:00:00+01:00"),
            Some(1_795_410_000)
        );
        assert_eq!(parse_amz_date("2026-11-23"), None);
        assert_eq!(parse_iso8601("20261123T050000Z"), None);
        // Never a panic on odd input: a multi-byte character where the zone starts, a
        // zone far out of range.
        assert_eq!(parse_iso8601("2026-11-23T05:22:5\u{e9}"), None);
        assert_eq!(
            parse_iso8601("2026-11-23T05:22:50+9999999999999999:00"),
            None
        );
        assert_eq!(parse_iso8601("2026-11-23T05:22:50.12\u{e9}"), None);
        assert_eq!(parse_amz_date("2026112\u{e9}T05000Z"), None);
    }

    #[test]
    fn the_clock_window() {
        assert!(check_time(1000, None, 1000 + MAX_SKEW).is_ok());
        assert_eq!(
            check_time(1000, None, 1001 + MAX_SKEW)
                .expect_err("late")
                .code,
            "RequestExpired"
        );
        assert!(check_time(1000 + MAX_SKEW + 1, None, 1000).is_err());
        assert!(check_time(1000, Some(3600), 4000).is_ok());
        assert!(check_time(1000, Some(3600), 4601).is_err());
    }
}
