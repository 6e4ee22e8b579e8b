//! AWS Signature Version 2 (legacy tools, boto3 with `signature_version='v2'`):
//! `base64(HMAC(secret, "METHOD\nhost\npath\ncanonical query"))` over every parameter but
//! `Signature`, with HmacSHA256 or HmacSHA1.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

use crate::error::{Ec2Error, Ec2Result};
use crate::params::Params;
use crate::sigv4::encode;

/// What a V2 signature claims, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The access key id.
    pub access_key_id: String,
    /// `HmacSHA256` or `HmacSHA1`.
    pub method: String,
    /// The signature, decoded.
    pub signature: Vec<u8>,
}

/// Reads the V2 claim in the parameters: `None` when there is no `AWSAccessKeyId`.
pub fn claim(p: &Params) -> Option<Ec2Result<Claim>> {
    let akid = p.get("AWSAccessKeyId")?;
    Some((|| {
        if p.get("SignatureVersion") != Some("2") {
            return Err(Ec2Error::client(
                "IncompleteSignature",
                "Only SignatureVersion 2 (and Signature Version 4) are supported",
            ));
        }
        let method = p.required("SignatureMethod")?;
        if method != "HmacSHA256" && method != "HmacSHA1" {
            return Err(Ec2Error::client(
                "IncompleteSignature",
                format!("Unsupported SignatureMethod {method}"),
            ));
        }
        let signature = STANDARD
            .decode(p.required("Signature")?)
            .map_err(|_| Ec2Error::client("IncompleteSignature", "Signature is not base64"))?;
        Ok(Claim {
            access_key_id: akid.to_string(),
            method: method.to_string(),
            signature,
        })
    })())
}

/// Whether `claim` signs the request (method, host, path, parameters) under `secret`.
pub fn verify(
    method: &str,
    host: &str,
    path: &str,
    p: &Params,
    claim: &Claim,
    secret: &str,
) -> bool {
    let query = p
        .iter()
        .filter(|(k, _)| *k != "Signature")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let path = if path.is_empty() { "/" } else { path };
    let sts = format!("{method}\n{}\n{path}\n{query}", host.to_ascii_lowercase());
    match claim.method.as_str() {
        "HmacSHA1" => check::<Hmac<sha1::Sha1>>(secret, &sts, &claim.signature),
        _ => check::<Hmac<sha2::Sha256>>(secret, &sts, &claim.signature),
    }
}

fn check<M: Mac + hmac::digest::KeyInit>(secret: &str, sts: &str, signature: &[u8]) -> bool {
    let Ok(mut mac) = <M as Mac>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(sts.as_bytes());
    mac.verify_slice(signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, sts: &str) -> String {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(sts.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_v2_signature_verifies_and_tampering_fails() {
        let sts = "POST\n127.0.0.1:4567\n/\nAWSAccessKeyId=AK&Action=DescribeRegions&\
                   SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2026-11-23T05%3A22%3A50Z";
        let pairs = |sig: &str, action: &str| {
            Params::from_pairs(
                [
                    ("AWSAccessKeyId", "AK"),
                    ("Action", action),
                    ("SignatureMethod", "HmacSHA256"),
                    ("SignatureVersion", "2"),
                    ("Timestamp", "2026-11-23T05:22:50Z"),
                    ("Signature", sig),
                ]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
            )
        };
        let sig = sign("secret", sts);
        let p = pairs(&sig, "DescribeRegions");
        let claim = claim(&p).expect("v2").expect("well formed");
        assert!(verify("POST", "127.0.0.1:4567", "/", &p, &claim, "secret"));
        assert!(!verify("POST", "127.0.0.1:4567", "/", &p, &claim, "other"));
        assert!(!verify("GET", "127.0.0.1:4567", "/", &p, &claim, "secret"));
        let tampered = pairs(&sig, "RunInstances");
        assert!(!verify(
            "POST",
            "127.0.0.1:4567",
            "/",
            &tampered,
            &claim,
            "secret"
        ));
    }
}
