//! Elastic IPs come from the networks an administrator marks with
//! `EC2_ELASTIC_IPS = "YES"`: AllocateAddress reserves one address of such a network into
//! a reservation network of the caller's own (its id is the allocation id), AssociateAddress
//! attaches a NIC on it to the instance, DisassociateAddress detaches that NIC,
//! ReleaseAddress deletes the reservation, giving the address back.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use nubo_core::PoolFilter;
use nubo_core::model::{LeaseOwner, Vm, Vnet};
use nubo_template::{Attribute, Template};
use nubo_types::AuthOp;

use crate::error::{Ec2Error, Ec2Result, state_refused};
use crate::filters::{Facts, Filters, tag_facts};
use crate::ids::{ALLOCATION, ASSOCIATION, INSTANCE};
use crate::params::Params;
use crate::tags;
use crate::xml::Xml;

use super::{Ctx, tag_specifications};

/// The network attribute that makes a network a pool of elastic IPs (the core's, which
/// leases their addresses only to who may manage them).
pub const POOL_ATTR: &str = nubo_core::ops::vm::ELASTIC_IP_POOL_ATTR;

/// One elastic IP: a reservation network of one address.
pub struct Address {
    net: Arc<Vnet>,
    ip: Option<Ipv4Addr>,
    /// The VM holding the address, if associated.
    vm: Option<i32>,
    tags: Vec<(String, String)>,
}

impl Address {
    fn public_ip(&self) -> String {
        self.ip.map(|i| i.to_string()).unwrap_or_default()
    }
    fn allocation(&self) -> String {
        ALLOCATION.id(self.net.meta.id)
    }
}

impl Facts for Address {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "public-ip" => vec![self.public_ip()],
            "allocation-id" => vec![self.allocation()],
            "domain" => vec!["vpc".into()],
            "instance-id" => self.vm.map(|v| INSTANCE.id(v)).into_iter().collect(),
            "association-id" => self
                .vm
                .map(|_| ASSOCIATION.id(self.net.meta.id))
                .into_iter()
                .collect(),
            n => return tag_facts(&self.tags, n),
        })
    }
}

/// Whether network `net` is a pool of elastic IPs.
fn is_pool(net: &Vnet) -> bool {
    net.parent_network_id == -1
        && net
            .template
            .get(POOL_ATTR)
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
}

/// Every elastic IP of the caller's: the reservations it may manage (as on EC2, an
/// account's addresses are its own; networks other users may merely use, as every network
/// of the default VDC, are not).
pub fn all(ctx: &Ctx) -> Ec2Result<Vec<Address>> {
    let nets = ctx.core.pool_info::<Vnet>(&ctx.caller, PoolFilter::ALL)?;
    let pools: Vec<i32> = nets
        .iter()
        .filter(|n| is_pool(n))
        .map(|n| n.meta.id)
        .collect();
    Ok(nets
        .into_iter()
        .filter(|n| pools.contains(&n.parent_network_id))
        .filter(|n| ctx.may::<Vnet>(n.meta.id, AuthOp::Manage).is_ok())
        .map(|net| {
            let ar = net.ars.first();
            let ip = ar.and_then(|a| a.ip_at(0));
            let vm = ar.and_then(|a| {
                a.leases.runs().find_map(|l| match l.owner {
                    LeaseOwner::Vm(v) => Some(v),
                    _ => None,
                })
            });
            Address {
                tags: tags::read(&net.template),
                net,
                ip,
                vm,
            }
        })
        .collect())
}

/// The public address of an instance: a NIC on an elastic IP's network.
pub fn public_ip_of(ctx: &Ctx, vm: &Vm) -> Option<String> {
    vm.template.vectors("NIC").find_map(|nic| {
        let get = |k: &str| nic.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let net = ctx
            .core
            .info::<Vnet>(&ctx.caller, get("NETWORK_ID")?.parse().ok()?)
            .ok()?;
        if net.parent_network_id < 0 {
            return None;
        }
        let parent = ctx
            .core
            .info::<Vnet>(&ctx.caller, net.parent_network_id)
            .ok()?;
        is_pool(&parent).then(|| get("IP").map(str::to_string))?
    })
}

fn not_found(what: &str) -> Ec2Error {
    if what.starts_with("eipalloc-") {
        ALLOCATION.unknown_id(what)
    } else {
        Ec2Error::client(
            "InvalidAddress.NotFound",
            format!("Address '{what}' not found."),
        )
    }
}

/// The address a request names by `AllocationId` or `PublicIp`.
fn target(ctx: &Ctx, p: &Params) -> Ec2Result<Address> {
    let all = all(ctx)?;
    if let Some(text) = p.get("AllocationId").filter(|a| !a.is_empty()) {
        let id = ALLOCATION.parse(text)?;
        return all
            .into_iter()
            .find(|a| a.net.meta.id == id)
            .ok_or_else(|| not_found(text));
    }
    let ip = p
        .get("PublicIp")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Ec2Error::missing("AllocationId"))?;
    all.into_iter()
        .find(|a| a.public_ip() == ip)
        .ok_or_else(|| not_found(ip))
}

fn write_address(x: &mut Xml, a: &Address) {
    x.text("publicIp", &a.public_ip())
        .text("allocationId", &a.allocation())
        .text("domain", "vpc");
    if let Some(vm) = a.vm {
        x.text("instanceId", &INSTANCE.id(vm))
            .text("associationId", &ASSOCIATION.id(a.net.meta.id));
    }
    x.text("publicIpv4Pool", "nubo").tags(&a.tags);
}

/// AllocateAddress.
pub async fn allocate(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let pools: Vec<Arc<Vnet>> = ctx
        .core
        .pool_info::<Vnet>(&ctx.caller, PoolFilter::ALL)?
        .into_iter()
        .filter(|n| is_pool(n))
        .collect();
    if pools.is_empty() {
        return Err(Ec2Error::client(
            "AddressLimitExceeded",
            format!(
                "No network you may use offers elastic IPs (an administrator marks one with {POOL_ATTR}=\"YES\")"
            ),
        ));
    }
    let tags = tag_specifications(p, "elastic-ip")?;
    ctx.check_new_tags(&tags)?;
    ctx.proceed()?;
    let wanted = p.get("Address").filter(|a| !a.is_empty());
    let mut last = None;
    for pool in &pools {
        let mut req = Template::new();
        req.set("SIZE", "1");
        req.set("NAME", crate::ids::random("eip", 12)?);
        if let Some(ip) = wanted {
            let Some(ar) = pool.ars.iter().find(|ar| {
                ar.ip.is_some_and(|start| {
                    ip.parse::<Ipv4Addr>().is_ok_and(|want| {
                        let (want, start) =
                            (u64::from(u32::from(want)), u64::from(u32::from(start)));
                        want >= start && want < start + u64::from(ar.size)
                    })
                })
            }) else {
                continue;
            };
            req.set("AR_ID", ar.id.to_string());
            req.set("IP", ip);
        }
        match ctx
            .core
            .vnet_reserve(&ctx.caller, pool.meta.id, &req.to_text())
            .await
        {
            Ok(id) => {
                let tags = tags.clone();
                ctx.edit::<Vnet, _>(id, move |t| tags::add(t, &tags))
                    .await?;
                let a = all(ctx)?
                    .into_iter()
                    .find(|a| a.net.meta.id == id)
                    .ok_or_else(|| Ec2Error::internal("the new address vanished"))?;
                x.text("publicIp", &a.public_ip())
                    .text("allocationId", &a.allocation())
                    .text("domain", "vpc")
                    .text("publicIpv4Pool", "nubo")
                    .text("networkBorderGroup", &ctx.region);
                return Ok(());
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(nubo_types::Error::Quota { message }) => {
            Ec2Error::client("AddressLimitExceeded", message)
        }
        Some(nubo_types::Error::Action { message }) => Ec2Error::client(
            "AddressLimitExceeded",
            format!("No elastic IP is free: {message}"),
        ),
        Some(other) => other.into(),
        None => Ec2Error::client(
            "InvalidParameterValue",
            format!(
                "No elastic IP pool holds the address {}",
                wanted.unwrap_or("")
            ),
        ),
    })
}

/// DescribeAddresses.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    filters.check(&|n| {
        n.starts_with("tag:")
            || matches!(
                n,
                "public-ip"
                    | "allocation-id"
                    | "domain"
                    | "instance-id"
                    | "association-id"
                    | "tag-key"
                    | "tag-value"
            )
    })?;
    let all = all(ctx)?;
    let (ips, allocs) = (p.list("PublicIp"), p.list("AllocationId"));
    if let Some(bad) = ips.iter().find(|ip| ip.parse::<IpAddr>().is_err()) {
        return Err(Ec2Error::invalid(
            "PublicIp",
            bad,
            "It must be an IP address.",
        ));
    }
    for ip in &ips {
        if !all.iter().any(|a| a.public_ip() == *ip) {
            return Err(not_found(ip));
        }
    }
    for text in &allocs {
        let id = ALLOCATION.parse(text)?;
        if !all.iter().any(|a| a.net.meta.id == id) {
            return Err(not_found(text));
        }
    }
    let chosen = all.iter().filter(|a| {
        (ips.is_empty() || ips.contains(&a.public_ip().as_str()))
            && (allocs.is_empty() || allocs.contains(&a.allocation().as_str()))
            && filters.matches(*a)
    });
    x.list("addressesSet", chosen, write_address);
    Ok(())
}

/// The NIC of `vm` on network `net`.
fn nic_on(vm: &Vm, net: i32) -> Option<i32> {
    vm.template.vectors("NIC").find_map(|nic| {
        let get = |k: &str| nic.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        (get("NETWORK_ID")?.parse::<i32>().ok()? == net)
            .then(|| get("NIC_ID")?.parse().ok())
            .flatten()
    })
}

async fn unplug(ctx: &Ctx, a: &Address) -> Ec2Result<()> {
    let Some(vm_id) = a.vm else {
        return Ok(());
    };
    let vm = ctx.core.info::<Vm>(&ctx.caller, vm_id)?;
    let nic = nic_on(&vm, a.net.meta.id)
        .ok_or_else(|| Ec2Error::internal("the address's NIC is not on its instance"))?;
    ctx.core
        .vm_detach_nic(&ctx.caller, vm_id, nic)
        .await
        .map_err(state_refused("IncorrectInstanceState"))?;
    Ok(())
}

/// How long moving an address waits for the previous instance to let go of it (ms).
const RELEASE_WAIT_MS: u64 = 30_000;

/// Waits until the address of reservation `net` is held by no VM (a NIC detach finishes
/// after the call that asks for it).
async fn released(ctx: &Ctx, net: i32) -> Ec2Result<()> {
    let mut waited = 0;
    loop {
        let held = all(ctx)?
            .into_iter()
            .any(|a| a.net.meta.id == net && a.vm.is_some());
        if !held {
            return Ok(());
        }
        if waited >= RELEASE_WAIT_MS {
            return Err(Ec2Error::client(
                "IncorrectInstanceState",
                "The address's previous instance did not release it in time",
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 100;
    }
}

/// AssociateAddress.
pub async fn associate(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let a = target(ctx, p)?;
    let inst = p.required("InstanceId")?;
    let vm_id = super::instances::live(ctx, inst)?.meta.id;
    ctx.may::<Vm>(vm_id, AuthOp::Manage)?;
    ctx.may::<Vnet>(a.net.meta.id, AuthOp::Use)?;
    if let Some(previous) = a.vm {
        ctx.may::<Vm>(previous, AuthOp::Manage)?;
    }
    ctx.proceed()?;
    match a.vm {
        Some(v) if v == vm_id => {}
        Some(_) if p.bool("AllowReassociation")? != Some(true) => {
            return Err(Ec2Error::client(
                "Resource.AlreadyAssociated",
                format!("The address {} is already associated", a.public_ip()),
            ));
        }
        _ => {
            if a.vm.is_some() {
                unplug(ctx, &a).await?;
                released(ctx, a.net.meta.id).await?;
            }
            let mut t = Template::new();
            t.push(Attribute::vector(
                "NIC",
                [("NETWORK_ID", a.net.meta.id.to_string())],
            ));
            ctx.core
                .vm_attach_nic(&ctx.caller, vm_id, &t.to_text())
                .await
                .map_err(state_refused("IncorrectInstanceState"))?;
        }
    }
    x.flag("return", true)
        .text("associationId", &ASSOCIATION.id(a.net.meta.id));
    Ok(())
}

/// DisassociateAddress.
pub async fn disassociate(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let a = match p.get("AssociationId").filter(|a| !a.is_empty()) {
        Some(text) => {
            let id = ASSOCIATION.parse(text)?;
            all(ctx)?
                .into_iter()
                .find(|a| a.net.meta.id == id && a.vm.is_some())
                .ok_or_else(|| ASSOCIATION.unknown_id(text))?
        }
        None => target(ctx, p)?,
    };
    if a.vm.is_none() {
        return Err(Ec2Error::client(
            "InvalidAssociationID.NotFound",
            format!("The address {} is not associated", a.public_ip()),
        ));
    }
    if let Some(vm) = a.vm {
        ctx.may::<Vm>(vm, AuthOp::Manage)?;
    }
    ctx.proceed()?;
    unplug(ctx, &a).await?;
    x.flag("return", true);
    Ok(())
}

/// ReleaseAddress.
pub async fn release(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let given = |name: &str| p.get(name).is_some_and(|v| !v.is_empty());
    if given("PublicIp") && given("AllocationId") {
        return Err(Ec2Error::client(
            "InvalidParameterCombination",
            "You may specify public IP or allocation id, but not both in the same call",
        ));
    }
    let a = target(ctx, p)?;
    if a.vm.is_some() {
        return Err(Ec2Error::client(
            "InvalidIPAddress.InUse",
            format!(
                "The address {} is associated with an instance",
                a.public_ip()
            ),
        ));
    }
    ctx.may::<Vnet>(a.net.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    ctx.core.vnet_delete(&ctx.caller, a.net.meta.id).await?;
    x.flag("return", true);
    Ok(())
}
