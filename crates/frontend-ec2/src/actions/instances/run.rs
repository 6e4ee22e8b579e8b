//! RunInstances: the instance type's template instantiated with the image as first disk
//! and the disks the block device mappings ask for (new volumes made here, and deleted
//! again for instances that were not launched), the key pair's public key (and name), the
//! user data and the tags (`EC2_TAGS`, JSON) in its context, security groups on its NICs,
//! the zone as a cluster requirement, and the tags, reservation and client token in the
//! VM's user template; a client token makes a retry return the first launch.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nubo_core::model::Image;
use nubo_core::ops::vm_template::{BatchOutcome, InstantiateBatch};
use nubo_template::{Attribute, Template};

use crate::error::{Ec2Error, Ec2Result, quota_exceeded};
use crate::ids::{self, IMAGE};
use crate::params::Params;
use crate::tags;
use crate::xml::Xml;

use super::super::{Ctx, instance_types, key_pairs, tag_specifications, volumes};
use super::{
    CLIENT_TOKEN, DISABLE_API_TERMINATION, IMAGE_ID, Instance, KEY_NAME, LAUNCH_INDEX, RESERVATION,
    block_devices, write_instance,
};

/// Most instances one RunInstances may ask for.
const MAX_COUNT: i64 = 100;
/// The user-template attribute holding the digest of the request that made a VM.
const REQUEST_DIGEST: &str = "EC2_REQUEST_DIGEST";
/// Most bytes of user data (decoded), as on EC2.
const MAX_USER_DATA: usize = 16 * 1024;

/// RunInstances.
pub async fn run(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let min = p
        .int("MinCount")?
        .ok_or_else(|| Ec2Error::missing("MinCount"))?;
    let max = p
        .int("MaxCount")?
        .ok_or_else(|| Ec2Error::missing("MaxCount"))?;
    if min < 1 || max < min || max > MAX_COUNT {
        return Err(Ec2Error::client(
            "InvalidParameterValue",
            format!(
                "MinCount ({min}) and MaxCount ({max}) must satisfy 1 <= MinCount <= MaxCount <= {MAX_COUNT}"
            ),
        ));
    }
    let digest = request_digest(p);
    let image_text = p.required("ImageId")?;
    let image_id = IMAGE.parse(image_text)?;
    let image = ctx
        .core
        .info::<Image>(&ctx.caller, image_id)
        .map_err(|_| super::super::images::not_found(image_text))?;
    let type_name = p.get("InstanceType").unwrap_or("m1.small");
    let itype = instance_types::find(ctx, type_name)?;
    let mut context: Vec<(String, String)> = itype
        .template
        .template
        .vectors("CONTEXT")
        .next()
        .map(<[(String, String)]>::to_vec)
        .unwrap_or_default();
    let set_context = |context: &mut Vec<(String, String)>, k: &str, v: String| {
        context.retain(|(n, _)| n != k);
        context.push((k.to_string(), v));
    };
    let key_name = p.get("KeyName").filter(|k| !k.is_empty());
    if let Some(name) = key_name {
        let key = key_pairs::find(ctx, name)?;
        set_context(&mut context, "SSH_PUBLIC_KEY", key.public_key);
        set_context(&mut context, "EC2_KEY_NAME", name.to_string());
    }
    if let Some(data) = p.get("UserData").filter(|d| !d.is_empty()) {
        let compact: String = data.split_whitespace().collect();
        let decoded = STANDARD
            .decode(&compact)
            .map_err(|_| Ec2Error::invalid("UserData", "…", "It must be base64."))?;
        if decoded.len() > MAX_USER_DATA {
            return Err(Ec2Error::client(
                "InvalidParameterValue",
                format!("User data is limited to {MAX_USER_DATA} bytes"),
            ));
        }
        set_context(&mut context, "USER_DATA", compact);
        set_context(&mut context, "USER_DATA_ENCODING", "base64".to_string());
    }
    if !context.iter().any(|(k, _)| k == "NETWORK") {
        set_context(&mut context, "NETWORK", "YES".to_string());
    }
    let tags = tag_specifications(p, "instance")?;
    if !tags.is_empty() {
        // The guest sees its tags as a JSON object, as EC2 guests see them in metadata.
        let object: serde_json::Map<String, serde_json::Value> = tags
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        set_context(
            &mut context,
            "EC2_TAGS",
            serde_json::Value::Object(object).to_string(),
        );
    }
    let groups = super::super::security_groups::requested_ids(ctx, p)?;
    // The type's other disks follow the image, as the block device mappings change them.
    let type_disks = itype
        .template
        .template
        .vectors("DISK")
        .skip(1)
        .map(<[(String, String)]>::to_vec)
        .collect();
    let layout = block_devices::layout(ctx, p, &image, type_disks)?;
    let mut base = Template::new();
    let mut root = vec![("IMAGE_ID".to_string(), image.meta.id.to_string())];
    if let Some(mb) = layout.root_size_mb {
        root.push(("SIZE".into(), mb.to_string()));
    }
    base.push(Attribute::vector("DISK", root));
    if !groups.is_empty() {
        let list = groups
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        for nic in itype.template.template.vectors("NIC") {
            let mut nic = nic.to_vec();
            nic.retain(|(k, _)| k != "SECURITY_GROUPS");
            nic.push(("SECURITY_GROUPS".into(), list.clone()));
            base.push(Attribute::vector("NIC", nic));
        }
    }
    let zone = p
        .get("Placement.AvailabilityZone")
        .filter(|z| !z.is_empty());
    if let Some(zone) = zone {
        let cid = ctx
            .core
            .cluster_names()?
            .into_iter()
            .find(|(_, n)| n == zone)
            .map(|(id, _)| id)
            .ok_or_else(|| {
                Ec2Error::client(
                    "InvalidParameterValue",
                    format!("Invalid availability zone: [{zone}]"),
                )
            })?;
        let mut req = format!("CLUSTER_ID = {cid}");
        if let Some(old) = itype
            .template
            .template
            .get("SCHED_REQUIREMENTS")
            .filter(|r| !r.trim().is_empty())
        {
            req = format!("({old}) & {req}");
        }
        base.set("SCHED_REQUIREMENTS", req);
    }
    base.push(Attribute::vector("CONTEXT", context));
    base.set(IMAGE_ID, IMAGE.id(image.meta.id));
    base.set(RESERVATION, ids::random("r", 17)?);
    if let Some(name) = key_name {
        base.set(KEY_NAME, name);
    }
    if p.bool("DisableApiTermination")?.unwrap_or(false) {
        base.set(DISABLE_API_TERMINATION, "YES");
    }
    tags::add(&mut base, &tags)?;
    let name = tags
        .iter()
        .find(|(k, _)| k == "Name")
        .map(|(_, v)| v.clone());
    let token = p
        .get("ClientToken")
        .filter(|t| !t.is_empty())
        .map(|t| (CLIENT_TOKEN.to_string(), t.to_string()));
    let volume_tags = tag_specifications(p, "volume")?;
    ctx.check_new_tags(&volume_tags)?;
    let volume_zone = volumes::zone(ctx, zone)?;
    ctx.proceed()?;
    let launch = Launch {
        template_id: itype.template.meta.id,
        base,
        layout,
        min: usize::try_from(min).unwrap_or(1),
        max: usize::try_from(max).unwrap_or(1),
        name,
        digest: digest.clone(),
        token,
        volume_zone,
        volume_tags,
    };
    // Spawned, so that a client hanging up cannot stop it between making volumes and
    // handing them to instances (or deleting them).
    let outcome = tokio::spawn(launch.run(ctx.clone()))
        .await
        .map_err(|e| Ec2Error::internal(format!("the launch stopped: {e}")))??;
    let vms = ctx.core.vm_pool_set(&ctx.caller, &outcome.ids)?;
    // A token names one request: the same token with other parameters is a mistake.
    if !outcome.created
        && vms.iter().any(|vm| {
            vm.user_template
                .get(REQUEST_DIGEST)
                .is_some_and(|d| d != digest)
        })
    {
        return Err(Ec2Error::client(
            "IdempotentParameterMismatch",
            "The client token was used before with different parameters",
        ));
    }
    let instances: Vec<Instance> = vms.into_iter().map(|vm| Instance::new(ctx, vm)).collect();
    let first = instances
        .first()
        .ok_or_else(|| Ec2Error::internal("RunInstances made no instance"))?;
    x.text("reservationId", &first.reservation())
        .text("ownerId", &ids::account(first.vm.meta.uid))
        .empty("groupSet")
        .list("instancesSet", &instances, write_instance);
    Ok(())
}

/// What RunInstances launches once the request is checked.
struct Launch {
    template_id: i32,
    /// Each instance's template but for the disks after the root and its launch index.
    base: Template,
    layout: block_devices::Layout,
    min: usize,
    max: usize,
    name: Option<String>,
    digest: String,
    token: Option<(String, String)>,
    volume_zone: String,
    volume_tags: Vec<(String, String)>,
}

impl Launch {
    /// Makes the volumes the instances need (as many instances' worth as the quota
    /// allows, at least `min`), then the instances; deletes the volumes of instances that
    /// were not made. A repeated client token makes nothing and names the first launch.
    async fn run(self, ctx: Ctx) -> Ec2Result<BatchOutcome> {
        let repeated = match &self.token {
            Some((attr, value)) => !ctx
                .core
                .batch_launched_with(&ctx.caller, attr, value)?
                .is_empty(),
            None => false,
        };
        let per_instance = self.layout.volumes_per_instance();
        let (volumes, count) = if repeated || per_instance == 0 {
            (Vec::new(), self.max)
        } else {
            let made = self.make_volumes(&ctx, per_instance).await?;
            let count = made.len() / per_instance;
            (made, count)
        };
        let extras: Vec<String> = (0..count)
            .map(|i| {
                let mut t = self.base.clone();
                let start = i * per_instance;
                let mine = volumes.get(start..start + per_instance).unwrap_or_default();
                for d in self.layout.disks_with(mine) {
                    t.push(Attribute::vector("DISK", d));
                }
                t.set(LAUNCH_INDEX, i.to_string());
                if let Some(n) = &self.name {
                    t.set("NAME", n.clone());
                }
                t.set(REQUEST_DIGEST, self.digest.clone());
                t.to_text()
            })
            .collect();
        let outcome = ctx
            .core
            .template_instantiate_batch(
                &ctx.caller,
                self.template_id,
                InstantiateBatch {
                    extras,
                    min: self.min,
                    token: self.token.clone(),
                },
            )
            .await
            .map_err(quota_exceeded("InstanceLimitExceeded"));
        let used = match &outcome {
            Ok(o) if o.created => o.ids.len() * per_instance,
            _ => 0,
        };
        drop_volumes(&ctx, volumes.get(used..).unwrap_or_default()).await;
        outcome
    }

    /// Makes the new volumes of up to `max` instances, in instance order, stopping at the
    /// first that cannot be made once `min` instances have theirs; otherwise those made are
    /// deleted and the error is returned.
    async fn make_volumes(&self, ctx: &Ctx, per_instance: usize) -> Ec2Result<Vec<i32>> {
        let mut made = Vec::new();
        for _ in 0..self.max {
            for d in &self.layout.disks {
                let block_devices::Disk::Volume {
                    size_gib,
                    volume_type,
                    ..
                } = d
                else {
                    continue;
                };
                let blank = volumes::Blank {
                    size_gib: *size_gib,
                    volume_type: volume_type.clone(),
                    zone: self.volume_zone.clone(),
                    tags: self.volume_tags.clone(),
                };
                match volumes::create_blank(ctx, &blank, None).await {
                    Ok(id) => made.push(id),
                    Err(_) if made.len() / per_instance >= self.min => {
                        let whole = made.len() - made.len() % per_instance;
                        drop_volumes(ctx, &made[whole..]).await;
                        made.truncate(whole);
                        return Ok(made);
                    }
                    Err(e) => {
                        drop_volumes(ctx, &made).await;
                        return Err(e);
                    }
                }
            }
        }
        Ok(made)
    }
}

/// Deletes volumes made for instances that were not launched.
async fn drop_volumes(ctx: &Ctx, ids: &[i32]) {
    for id in ids {
        if let Err(e) = ctx.core.image_delete(&ctx.caller, *id, false).await {
            tracing::warn!(image_id = id, error = %e, "cannot delete a volume made for a launch that did not happen");
        }
    }
}

/// SHA-256 of the request's parameters, signature and retry-invariant ones aside, in name
/// order: what must be equal for a repeated client token to be the same request.
fn request_digest(p: &Params) -> String {
    use sha2::{Digest, Sha256};
    const IGNORED: &[&str] = &[
        "ClientToken",
        "DryRun",
        "Version",
        "AWSAccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "Timestamp",
        "Expires",
    ];
    let mut hash = Sha256::new();
    for (k, v) in p.iter() {
        if IGNORED.contains(&k) || k.starts_with("X-Amz-") {
            continue;
        }
        hash.update(k.as_bytes());
        hash.update([0]);
        hash.update(v.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}
