//! AWS Signature Version 4, as EC2 clients send it: in the `Authorization` header, or in the
//! query of a presigned URL. The canonical request is rebuilt from what arrived (the body's
//! bytes hashed exactly as received), the signing key derived from the secret, and the
//! signature compared in constant time.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::{Ec2Error, Ec2Result};

type HmacSha256 = Hmac<Sha256>;

/// The algorithm name in headers and presigned queries.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What a request needs to have its signature checked.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The path, as received.
    pub path: &'a str,
    /// The raw query string (without `?`).
    pub query: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body, exactly as received.
    pub body: &'a [u8],
}

/// What a V4 signature claims, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The access key id.
    pub access_key_id: String,
    /// `yyyymmdd` of the credential scope.
    pub scope_date: String,
    /// The region of the scope.
    pub region: String,
    /// The service of the scope.
    pub service: String,
    /// `X-Amz-Date` (`yyyymmddThhmmssZ`).
    pub amz_date: String,
    /// Lower-case names of the signed headers, in the order given.
    pub signed_headers: Vec<String>,
    /// The signature, decoded from hex.
    pub signature: Vec<u8>,
    /// For a presigned URL: how many seconds it stays valid.
    pub expires: Option<i64>,
}

fn incomplete(message: impl Into<String>) -> Ec2Error {
    Ec2Error::client("IncompleteSignature", message)
}

/// Reads the V4 claim of a request: `None` when it carries no V4 signature at all.
pub fn claim(req: &Incoming<'_>) -> Option<Ec2Result<Claim>> {
    if let Some(auth) = req.headers.get("authorization") {
        let auth = auth.to_str().unwrap_or("");
        if auth.starts_with("AWS4-") {
            return Some(header_claim(auth, req.headers));
        }
        return None;
    }
    let query = decoded_query(req.query);
    lookup(&query, "X-Amz-Algorithm")?;
    Some(query_claim(&query))
}

fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == key)
        .map(|(_, v)| v.as_str())
}

fn header_claim(auth: &str, headers: &HeaderMap) -> Ec2Result<Claim> {
    let rest = auth
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| incomplete(format!("Unsupported signature algorithm; use {ALGORITHM}")))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(|| {
            incomplete(format!("Malformed Authorization element '{}'", part.trim()))
        })?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| incomplete("The request has no X-Amz-Date header"))?;
    let signed =
        signed.ok_or_else(|| incomplete("Authorization header requires 'SignedHeaders'"))?;
    if !signed
        .split(';')
        .any(|h| h.eq_ignore_ascii_case("x-amz-date"))
    {
        return Err(incomplete("SignedHeaders must include x-amz-date"));
    }
    build(
        credential.ok_or_else(|| incomplete("Authorization header requires 'Credential'"))?,
        signed,
        signature.ok_or_else(|| incomplete("Authorization header requires 'Signature'"))?,
        amz_date,
        None,
    )
}

fn query_claim(query: &[(String, String)]) -> Ec2Result<Claim> {
    if lookup(query, "X-Amz-Algorithm") != Some(ALGORITHM) {
        return Err(incomplete(format!("X-Amz-Algorithm must be {ALGORITHM}")));
    }
    let need = |k: &'static str| {
        lookup(query, k).ok_or_else(|| incomplete(format!("The presigned URL has no {k}")))
    };
    let expires = need("X-Amz-Expires")?
        .parse::<i64>()
        .ok()
        .filter(|e| (1..=604_800).contains(e))
        .ok_or_else(|| incomplete("X-Amz-Expires must be between 1 and 604800 seconds"))?;
    build(
        need("X-Amz-Credential")?,
        need("X-Amz-SignedHeaders")?,
        need("X-Amz-Signature")?,
        need("X-Amz-Date")?,
        Some(expires),
    )
}

fn build(
    credential: &str,
    signed: &str,
    signature: &str,
    amz_date: &str,
    expires: Option<i64>,
) -> Ec2Result<Claim> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminal] = parts.as_slice() else {
        return Err(incomplete(format!(
            "Credential must be AKID/yyyymmdd/region/service/aws4_request, not '{credential}'"
        )));
    };
    if *terminal != "aws4_request" {
        return Err(incomplete(
            "The credential scope must end with aws4_request",
        ));
    }
    let signed_headers: Vec<String> = signed.split(';').map(str::to_ascii_lowercase).collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(incomplete("SignedHeaders must include host"));
    }
    let signature = hex::decode(signature)
        .ok()
        .filter(|s| s.len() == 32)
        .ok_or_else(|| incomplete("The signature must be 64 hex digits"))?;
    Ok(Claim {
        access_key_id: akid.to_string(),
        scope_date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        amz_date: amz_date.to_string(),
        signed_headers,
        signature,
        expires,
    })
}

/// Whether `claim` is the signature of `req` under `secret`.
pub fn verify(req: &Incoming<'_>, claim: &Claim, secret: &str) -> bool {
    let canonical = canonical_request(req, claim);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}/{}/{}/aws4_request\n{}",
        claim.amz_date,
        claim.scope_date,
        claim.region,
        claim.service,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(secret, &claim.scope_date, &claim.region, &claim.service);
    let Ok(mut mac) = HmacSha256::new_from_slice(&key) else {
        return false;
    };
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&claim.signature).is_ok()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    hmac(&k_service, "aws4_request")
}

/// The canonical request of `req` as `claim` signed it.
pub fn canonical_request(req: &Incoming<'_>, claim: &Claim) -> String {
    let mut query: Vec<(String, String)> = decoded_query(req.query)
        .into_iter()
        .filter(|(k, _)| claim.expires.is_none() || k != "X-Amz-Signature")
        .map(|(k, v)| (encode(&k), encode(&v)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    for name in &claim.signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| collapse(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    format!(
        "{}\n{}\n{query}\n{headers}\n{}\n{}",
        req.method,
        canonical_path(req.path),
        claim.signed_headers.join(";"),
        hex::encode(Sha256::digest(req.body))
    )
}

fn collapse(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    path.split('/')
        .map(|segment| encode(&percent_decode(segment)))
        .collect::<Vec<_>>()
        .join("/")
}

/// The query's pairs, percent-decoded (`+` stays a plus, as SigV4 signers write `%20`).
fn decoded_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// RFC 3986 encoding: everything but `A-Za-z0-9-_.~`.
pub fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// AWS's "get-vanilla-query-order-key-case" test vector (service `service`, region
    /// `us-east-1`, secret `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`).
    #[test]
    fn the_aws_test_vector_verifies() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        headers.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
        );
        let req = Incoming {
            method: "GET",
            path: "/",
            query: "Param2=value2&Param1=value1",
            headers: &headers,
            body: b"",
        };
        let claim = claim(&req).expect("a V4 request").expect("well formed");
        assert_eq!(claim.access_key_id, "AKIDEXAMPLE");
        assert_eq!(claim.region, "us-east-1");
        assert!(verify(
            &req,
            &claim,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        ));
        assert!(!verify(
            &req,
            &claim,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ"
        ));
        let tampered = Incoming {
            query: "Param2=value2&Param1=value0",
            ..req
        };
        assert!(!verify(
            &tampered,
            &claim,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        ));
        let with_body = Incoming {
            body: b"Action=RunInstances",
            ..req
        };
        assert!(!verify(
            &with_body,
            &claim,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        ));
    }

    #[test]
    fn malformed_headers_are_incomplete_signatures() {
        for bad in [
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00",
            "AWS4-HMAC-SHA512 Credential=AKID/20150830/r/ec2/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/r/ec2/aws4_request, SignedHeaders=x-amz-date, Signature=00",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
            headers.insert("authorization", HeaderValue::from_str(bad).expect("header"));
            let req = Incoming {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: b"",
            };
            let err = claim(&req).expect("V4").expect_err(bad);
            assert_eq!(err.code, "IncompleteSignature", "{bad}");
        }
    }

    #[test]
    fn rfc3986_encoding() {
        assert_eq!(encode("a b+c*~"), "a%20b%2Bc%2A~");
        assert_eq!(canonical_path("/"), "/");
    }
}
