//! Key pairs live in their user's template, one `EC2_KEYPAIR = [ ID, NAME, TYPE,
//! FINGERPRINT, PUBLIC_KEY, CREATED ]` each, changed in one write so that concurrent calls
//! lose nothing. ImportKeyPair takes an OpenSSH public key (ssh-rsa or ssh-ed25519);
//! RunInstances puts a pair's public key in the VM's context as SSH_PUBLIC_KEY.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use nubo_core::model::User;
use nubo_template::{Attribute, Template};
use sha2::{Digest, Sha256};

use crate::error::{Ec2Error, Ec2Result};
use crate::filters::{Facts, Filters};
use crate::params::Params;
use crate::xml::Xml;

use super::Ctx;

const ATTR: &str = "EC2_KEYPAIR";

/// A stored key pair.
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// `key-` and 17 hex digits.
    pub id: String,
    /// Its name, unique per user.
    pub name: String,
    /// `rsa` or `ed25519`.
    pub key_type: String,
    /// AWS's fingerprint of it.
    pub fingerprint: String,
    /// The OpenSSH public key line.
    pub public_key: String,
    /// When it was imported (epoch seconds).
    pub created: i64,
}

fn read(t: &Template) -> Vec<KeyPair> {
    t.vectors(ATTR)
        .filter_map(|v| {
            let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, x)| x.clone());
            Some(KeyPair {
                id: get("ID")?,
                name: get("NAME")?,
                key_type: get("TYPE").unwrap_or_default(),
                fingerprint: get("FINGERPRINT").unwrap_or_default(),
                public_key: get("PUBLIC_KEY")?,
                created: get("CREATED").and_then(|c| c.parse().ok()).unwrap_or(0),
            })
        })
        .collect()
}

fn to_attribute(k: &KeyPair) -> Attribute {
    Attribute::vector(
        ATTR,
        [
            ("ID", k.id.clone()),
            ("NAME", k.name.clone()),
            ("TYPE", k.key_type.clone()),
            ("FINGERPRINT", k.fingerprint.clone()),
            ("PUBLIC_KEY", k.public_key.clone()),
            ("CREATED", k.created.to_string()),
        ],
    )
}

fn mine(ctx: &Ctx) -> Ec2Result<Vec<KeyPair>> {
    Ok(read(&ctx.core.user_info(&ctx.caller, -1)?.template))
}

/// The caller's key pair `name`.
pub fn find(ctx: &Ctx, name: &str) -> Ec2Result<KeyPair> {
    mine(ctx)?
        .into_iter()
        .find(|k| k.name == name)
        .ok_or_else(|| missing(name))
}

fn missing(name: &str) -> Ec2Error {
    Ec2Error::not_found(
        "InvalidKeyPair.NotFound",
        format!("The key pair '{name}' does not exist"),
    )
}

fn format_error(why: &str) -> Ec2Error {
    Ec2Error::client(
        "InvalidKeyPair.Format",
        format!("Key is not in valid OpenSSH public key format: {why}"),
    )
}

/// Reads an OpenSSH public key line: (type, public key line, fingerprint).
fn parse_public_key(text: &str) -> Ec2Result<(String, String, String)> {
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
            let fp = md5_colon_hex(&rsa_spki_der(e, n));
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

/// The DER SubjectPublicKeyInfo of an RSA key (SSH mpints are DER integers' contents).
fn rsa_spki_der(e: &[u8], n: &[u8]) -> Vec<u8> {
    let rsa_key = der(0x30, &[der(0x02, n), der(0x02, e)].concat());
    let mut bits = vec![0u8];
    bits.extend(rsa_key);
    // rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters.
    let algorithm = der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    der(0x30, &[algorithm, der(0x03, &bits)].concat())
}

fn md5_colon_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn key_pair_id() -> Ec2Result<String> {
    let mut b = [0u8; 9];
    getrandom::fill(&mut b).map_err(|e| Ec2Error::internal(format!("no randomness: {e}")))?;
    Ok(format!("key-{}", &hex::encode(b)[..17]))
}

/// ImportKeyPair.
pub async fn import(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let name = p.required("KeyName")?.to_string();
    if name.chars().count() > 255 {
        return Err(Ec2Error::invalid(
            "KeyName",
            &name,
            "It must be at most 255 characters.",
        ));
    }
    let material = p.required("PublicKeyMaterial")?;
    let text = STANDARD
        .decode(material.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| format_error("PublicKeyMaterial must be the base64 of the key"))?;
    let (key_type, public_key, fingerprint) = parse_public_key(&text)?;
    let pair = KeyPair {
        id: key_pair_id()?,
        name: name.clone(),
        key_type,
        fingerprint,
        public_key,
        created: nubo_core::now(),
    };
    let stored = pair.clone();
    let outcome = ctx
        .core
        .edit_template::<User, _>(&ctx.caller, ctx.caller.uid, move |t| {
            if read(t).iter().any(|k| k.name == stored.name) {
                return Ok(false);
            }
            t.push(to_attribute(&stored));
            Ok(true)
        })
        .await?;
    if !outcome {
        return Err(Ec2Error::client(
            "InvalidKeyPair.Duplicate",
            format!("The keypair '{name}' already exists."),
        ));
    }
    x.text("keyFingerprint", &pair.fingerprint)
        .text("keyName", &pair.name)
        .text("keyPairId", &pair.id)
        .list("tagSet", Vec::<()>::new(), |_, _| {});
    Ok(())
}

impl Facts for KeyPair {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        Some(vec![match name {
            "key-name" => self.name.clone(),
            "key-pair-id" => self.id.clone(),
            "fingerprint" => self.fingerprint.clone(),
            "key-type" => self.key_type.clone(),
            _ => return None,
        }])
    }
}

/// DescribeKeyPairs.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    filters.check(&|n| matches!(n, "key-name" | "key-pair-id" | "fingerprint" | "key-type"))?;
    let all = mine(ctx)?;
    let (names, ids) = (p.list("KeyName"), p.list("KeyPairId"));
    for n in &names {
        if !all.iter().any(|k| k.name == *n) {
            return Err(missing(n));
        }
    }
    for i in &ids {
        if !all.iter().any(|k| k.id == *i) {
            return Err(Ec2Error::not_found(
                "InvalidKeyPair.NotFound",
                format!("The key pair ID '{i}' does not exist"),
            ));
        }
    }
    let with_key = p.bool("IncludePublicKey")?.unwrap_or(false);
    let chosen = all.iter().filter(|k| {
        (names.is_empty() || names.contains(&k.name.as_str()))
            && (ids.is_empty() || ids.contains(&k.id.as_str()))
            && filters.matches(*k)
    });
    x.list("keySet", chosen, |x, k| {
        x.text("keyPairId", &k.id)
            .text("keyName", &k.name)
            .text("keyFingerprint", &k.fingerprint)
            .text("keyType", &k.key_type)
            .time("createTime", k.created);
        if with_key {
            x.text("publicKey", &k.public_key);
        }
        x.list("tagSet", Vec::<()>::new(), |_, _| {});
    });
    Ok(())
}

/// DeleteKeyPair (succeeds for a key that does not exist, as EC2 does).
pub async fn delete(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let name = p
        .get("KeyName")
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let id = p
        .get("KeyPairId")
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if name.is_none() && id.is_none() {
        return Err(Ec2Error::missing("KeyName"));
    }
    let deleted = ctx
        .core
        .edit_template::<User, _>(&ctx.caller, ctx.caller.uid, move |t| {
            let all = read(t);
            let gone = all
                .iter()
                .find(|k| {
                    name.as_deref() == Some(k.name.as_str()) || id.as_deref() == Some(k.id.as_str())
                })
                .map(|k| k.id.clone());
            t.remove(ATTR);
            for k in all.iter().filter(|k| Some(&k.id) != gone.as_ref()) {
                t.push(to_attribute(k));
            }
            Ok(gone)
        })
        .await?;
    x.flag("return", true).opt("keyPairId", deleted.as_deref());
    Ok(())
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
}
