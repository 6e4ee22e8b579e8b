//! Key pairs live in their user's template, one `EC2_KEYPAIR = [ ID, NAME, TYPE,
//! FINGERPRINT, PUBLIC_KEY, CREATED ]` each, changed in one write so that concurrent calls
//! lose nothing. ImportKeyPair takes an OpenSSH public key (ssh-rsa or ssh-ed25519),
//! CreateKeyPair makes one and returns its private key once (nubod keeps only the public key);
//! RunInstances puts a pair's public key in the VM's context as SSH_PUBLIC_KEY.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nubo_core::model::User;
use nubo_template::{Attribute, Template};

use crate::error::{Ec2Error, Ec2Result};
use crate::filters::{Facts, Filters};
use crate::params::Params;
use crate::xml::Xml;

use super::Ctx;
use super::ssh_keys::{format_error, generate, parse_public_key};

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
    Ec2Error::client(
        "InvalidKeyPair.NotFound",
        format!("The key pair '{name}' does not exist"),
    )
}

fn key_name(p: &Params) -> Ec2Result<String> {
    let name = p.required("KeyName")?.to_string();
    if name.chars().count() > 255 {
        return Err(Ec2Error::invalid(
            "KeyName",
            &name,
            "It must be at most 255 characters.",
        ));
    }
    Ok(name)
}

/// Stores a new pair in the caller's template, unless one of that name exists.
async fn store(ctx: &Ctx, pair: KeyPair) -> Ec2Result<()> {
    ctx.edit::<User, _>(ctx.caller.uid, move |t| {
        if read(t).iter().any(|k| k.name == pair.name) {
            return Err(Ec2Error::client(
                "InvalidKeyPair.Duplicate",
                format!("The keypair '{}' already exists.", pair.name),
            ));
        }
        t.push(to_attribute(&pair));
        Ok(())
    })
    .await
}

/// ImportKeyPair.
pub async fn import(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let name = key_name(p)?;
    let material = p.required("PublicKeyMaterial")?;
    let text = STANDARD
        .decode(material.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| format_error("PublicKeyMaterial must be the base64 of the key"))?;
    let (key_type, public_key, fingerprint) = parse_public_key(&text)?;
    let pair = KeyPair {
        id: crate::ids::random("key", 17)?,
        name,
        key_type,
        fingerprint,
        public_key,
        created: nubo_core::now(),
    };
    ctx.may::<User>(ctx.caller.uid, nubo_types::AuthOp::Manage)?;
    ctx.proceed()?;
    store(ctx, pair.clone()).await?;
    x.text("keyFingerprint", &pair.fingerprint)
        .text("keyName", &pair.name)
        .text("keyPairId", &pair.id)
        .empty("tagSet");
    Ok(())
}

/// CreateKeyPair: a new pair whose private key is in the reply only.
pub async fn create(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let name = key_name(p)?;
    let key_type = match p.get("KeyType").unwrap_or("rsa") {
        t @ ("rsa" | "ed25519") => t,
        other => return Err(Ec2Error::invalid("KeyType", other, "Use rsa or ed25519.")),
    };
    if let Some(f) = p.get("KeyFormat").filter(|f| *f != "pem") {
        return Err(Ec2Error::invalid("KeyFormat", f, "Only pem is supported."));
    }
    if mine(ctx)?.iter().any(|k| k.name == name) {
        return Err(Ec2Error::client(
            "InvalidKeyPair.Duplicate",
            format!("The keypair '{name}' already exists."),
        ));
    }
    ctx.may::<User>(ctx.caller.uid, nubo_types::AuthOp::Manage)?;
    ctx.proceed()?;
    let made = generate(key_type).await?;
    let pair = KeyPair {
        id: crate::ids::random("key", 17)?,
        name,
        key_type: made.key_type,
        fingerprint: made.fingerprint,
        public_key: made.public_key,
        created: nubo_core::now(),
    };
    store(ctx, pair.clone()).await?;
    x.text("keyName", &pair.name)
        .text("keyFingerprint", &pair.fingerprint)
        .text("keyMaterial", &made.private_key)
        .text("keyPairId", &pair.id)
        .empty("tagSet");
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
            return Err(Ec2Error::client(
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
        x.empty("tagSet");
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
    ctx.may::<User>(ctx.caller.uid, nubo_types::AuthOp::Manage)?;
    ctx.proceed()?;
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
