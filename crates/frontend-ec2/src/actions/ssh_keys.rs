//! SSH keys for key pairs: reading an OpenSSH public key line (ssh-rsa, ssh-ed25519) with
//! AWS's fingerprints (MD5 of the DER public key for an imported RSA key, SHA-1 of the
//! PKCS#8 private key for a created one, base64 SHA-256 for ed25519), and making new pairs
//! with `ssh-keygen` (openssh-client), whose private key is returned once and never kept.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

use crate::error::{Ec2Error, Ec2Result};

pub fn format_error(why: &str) -> Ec2Error {
    Ec2Error::client(
        "InvalidKeyPair.Format",
        format!("Key is not in valid OpenSSH public key format: {why}"),
    )
}

/// Reads an OpenSSH public key line: (type, public key line, fingerprint).
pub fn parse_public_key(text: &str) -> Ec2Result<(String, String, String)> {
    let mut fields = text.split_whitespace();
    let (kind, blob64) = match (fields.next(), fields.next()) {
        (Some(k), Some(b)) => (k, b),
        _ => return Err(format_error("expected '<type> <base64> [comment]'")),
    };
    let blob = STANDARD
        .decode(blob64)
        .map_err(|_| format_error("the key is not base64"))?;
    let mut reader = SshReader(&blob);
    if reader.string()? != kind.as_bytes() {
        return Err(format_error("the key's type does not match its data"));
    }
    let line = format!("{kind} {blob64}");
    match kind {
        "ssh-ed25519" => {
            if reader.string()?.len() != 32 {
                return Err(format_error("an ed25519 key has 32 bytes"));
            }
            let fp = STANDARD_NO_PAD.encode(Sha256::digest(&blob));
            Ok(("ed25519".into(), line, format!("{fp}=")))
        }
        "ssh-rsa" => {
            let e = reader.string()?;
            let n = reader.string()?;
            if n.len() < 128 {
                return Err(format_error("RSA keys must have at least 1024 bits"));
            }
            let fp = colon_hex(&<md5::Md5 as md5::Digest>::digest(rsa_spki_der(e, n)));
            Ok(("rsa".into(), line, fp))
        }
        other => Err(format_error(&format!(
            "unsupported key type {other} (use ssh-rsa or ssh-ed25519)"
        ))),
    }
}

/// Length-prefixed strings of the SSH wire format.
struct SshReader<'a>(&'a [u8]);

impl<'a> SshReader<'a> {
    fn string(&mut self) -> Ec2Result<&'a [u8]> {
        let bad = || format_error("truncated key data");
        let len_bytes: [u8; 4] = self
            .0
            .get(..4)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?;
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| bad())?;
        let s = self.0.get(4..4 + len).ok_or_else(bad)?;
        self.0 = &self.0[4 + len..];
        Ok(s)
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The DER AlgorithmIdentifier of rsaEncryption (1.2.840.113549.1.1.1, NULL parameters).
fn rsa_algorithm() -> Vec<u8> {
    der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    )
}

/// The DER SubjectPublicKeyInfo of an RSA key (SSH mpints are DER integers' contents).
fn rsa_spki_der(e: &[u8], n: &[u8]) -> Vec<u8> {
    let rsa_key = der(0x30, &[der(0x02, n), der(0x02, e)].concat());
    let mut bits = vec![0u8];
    bits.extend(rsa_key);
    let algorithm = rsa_algorithm();
    der(0x30, &[algorithm, der(0x03, &bits)].concat())
}

/// A digest as colon-separated hex pairs, as AWS shows RSA fingerprints.
fn colon_hex(digest: &[u8]) -> String {
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A new key pair.
#[derive(Debug)]
pub struct NewKey {
    /// `rsa` or `ed25519`.
    pub key_type: String,
    /// The private key, PEM (RSA, PKCS#1 as AWS gives it) or OpenSSH (ed25519).
    pub private_key: String,
    /// The OpenSSH public key line.
    pub public_key: String,
    /// AWS's fingerprint of a created key.
    pub fingerprint: String,
}

/// The PKCS#8 DER of an RSA private key given as PKCS#1 DER.
fn rsa_pkcs8_der(pkcs1: &[u8]) -> Vec<u8> {
    let algorithm = rsa_algorithm();
    der(
        0x30,
        &[der(0x02, &[0]), algorithm, der(0x04, pkcs1)].concat(),
    )
}

/// The DER inside a PEM text.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).ok()
}

/// Makes a key pair of `key_type` (`rsa`: 2048 bits, or `ed25519`).
pub async fn generate(key_type: &str) -> Ec2Result<NewKey> {
    let dir = tempfile::tempdir()
        .map_err(|e| Ec2Error::internal(format!("no temporary directory: {e}")))?;
    let path = dir.path().join("key");
    let mut cmd = tokio::process::Command::new("ssh-keygen");
    cmd.args(["-q", "-N", "", "-C", "", "-f"]).arg(&path);
    match key_type {
        "rsa" => cmd.args(["-t", "rsa", "-b", "2048", "-m", "PEM"]),
        _ => cmd.args(["-t", "ed25519"]),
    };
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| {
            Ec2Error::internal(format!(
                "cannot run ssh-keygen (install openssh-client to create key pairs): {e}"
            ))
        })?;
    if !out.status.success() {
        return Err(Ec2Error::internal(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map_err(|e| Ec2Error::internal(format!("cannot read the new key: {e}")))
    };
    let private_key = read(&path)?;
    let public_text = read(&path.with_extension("pub"))?;
    let (kind, public_key, ed_fingerprint) = parse_public_key(&public_text)?;
    let fingerprint = if kind == "rsa" {
        let pkcs1 = pem_der(&private_key)
            .ok_or_else(|| Ec2Error::internal("ssh-keygen wrote an unreadable RSA key"))?;
        colon_hex(&<sha1::Sha1 as sha1::Digest>::digest(rsa_pkcs8_der(&pkcs1)))
    } else {
        ed_fingerprint
    };
    Ok(NewKey {
        key_type: kind,
        private_key,
        public_key,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_and_rsa_keys_are_read_and_fingerprinted_as_aws_does() {
        // Made with ssh-keygen; `ssh-keygen -lf` gave SHA256:imYPMgwf…sbo for the ed25519
        // key, and `ssh-keygen -e -m PKCS8 | openssl pkey -pubin -outform DER | openssl md5
        // -c` gave 3a:0f:…:4c:54 for the RSA one.
        let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILgIoeCyNSpzVW3WVr1piQmp+zzx/wtufMLVXGe6ogW6 me@host";
        let (t, line, fp) = parse_public_key(ed).expect("ed25519");
        assert_eq!(t, "ed25519");
        assert!(line.starts_with("ssh-ed25519 AAAA") && !line.contains("me@host"));
        assert_eq!(fp, "imYPMgwft2JwMvJlfEzT+3fABKQeN5vGGj0gRZB0sbo=");
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDllgr4CbDx55gGZFsriCUxBv2T0wiOPiloalZqCDjqNV3+JVOobmrfwMaEe5VWHuZh38W5BT1kVBj0MjQW6op3Zxd9uO+cL5WouNvNIG68QysZEAd3Bsflf6nc5aDvkSZK0rfhuLgGvVbSswNAMHfxo2P0lZDZD3X0FeKY8Eu82msLQ3gZnMGnog9RL4tq+rU2fFfN3cjUhxGQ7ExRLMXfl0yv7Zw39nl9nqt05QbXSr6PHoDCpIPsnisrZC0Oq8zzMuAv+Mql5gIpx78MC4lq5UD3WfyuL0hclBvynxyqf3xbdiyCy7ydM691+r1liPECuRPKNoJODTVDoYwqrbwj x";
        let (t, _, fp) = parse_public_key(rsa).expect("rsa");
        assert_eq!(t, "rsa");
        assert_eq!(fp, "3a:0f:17:65:21:2f:4a:68:57:79:c1:28:a6:dd:4c:54");
        assert!(parse_public_key("ssh-ed25519 AAAA").is_err());
        assert!(parse_public_key("ssh-dss AAAAB3NzaC1kc3MAAACBAP").is_err());
        assert!(parse_public_key("nonsense").is_err());
        assert_eq!(
            parse_public_key(
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAILgIoeCyNSpzVW3WVr1piQmp+zzx/wtufMLVXGe6ogW6"
            )
            .expect_err("type mismatch")
            .code,
            "InvalidKeyPair.Format"
        );
    }

    #[tokio::test]
    async fn created_keys_have_aws_fingerprints() {
        let rsa = generate("rsa").await.expect("rsa");
        assert!(
            rsa.private_key
                .starts_with("-----BEGIN RSA PRIVATE KEY-----")
        );
        assert!(rsa.public_key.starts_with("ssh-rsa "));
        assert_eq!(rsa.fingerprint.len(), 59, "{}", rsa.fingerprint);
        let ed = generate("ed25519").await.expect("ed25519");
        assert!(
            ed.private_key
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        );
        let (_, _, fp) = parse_public_key(&ed.public_key).expect("public key");
        assert_eq!(ed.fingerprint, fp);
    }
}
