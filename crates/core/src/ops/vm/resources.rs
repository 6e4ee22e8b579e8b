//! What a VM takes from other objects and gives back when it ends: each NIC takes a lease
//! from its network (and joins the network's security groups), each DISK takes its image
//! (a persistent image serves one VM at a time; a non-persistent one is cloned for each
//! VM), volatile disks take room in the system datastore. The NETWORK, IMAGE and VM
//! (`SYSTEM_DISK_SIZE`) quotas are charged and released with them, and the clusters that
//! hold every network and image datastore become the VM's `AUTOMATIC_REQUIREMENTS`.

use std::collections::BTreeSet;

use nubo_template::{Template, Value};
use nubo_types::states::{ImageState, ImageType};
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use crate::auth::Caller;
use crate::model::{Datastore, Image, LeaseOwner, QuotaKind, SecGroup, Vm, Vnet, format_mac};
use crate::ops::address_range::{self as ars, AddrQuery};
use crate::ops::generic::fetch_for;
use crate::ops::quota::charge_owners;
use crate::tx::Tx;

fn alloc(message: impl Into<String>) -> Error {
    Error::allocate(ObjectKind::Vm, message.into())
}

/// A vector's value (case-insensitive key; blank is missing).
pub(super) use crate::ops::address_range::value as get;

pub(super) fn set(pairs: &mut Vec<(String, String)>, key: &str, value: impl Into<String>) {
    let value = value.into();
    match pairs.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key.to_string(), value)),
    }
}

fn parse_id(pairs: &[(String, String)], key: &str, what: &str) -> Result<Option<Oid>> {
    get(pairs, key)
        .map(|v| {
            v.parse::<Oid>()
                .ok()
                .filter(|id| *id >= 0)
                .ok_or_else(|| alloc(format!("Invalid {key} \"{v}\" in {what}")))
        })
        .transpose()
}

/// The user an object is looked up by name for: `<PREFIX>_UID`, `<PREFIX>_UNAME`, or the
/// caller.
fn name_owner(tx: &Tx, pairs: &[(String, String)], prefix: &str, caller: &Caller) -> Result<Oid> {
    if let Some(uid) = parse_id(pairs, &format!("{prefix}_UID"), prefix)? {
        return Ok(uid);
    }
    match get(pairs, &format!("{prefix}_UNAME")) {
        Some(name) => tx
            .state
            .users
            .values()
            .find(|u| u.name == name)
            .map(|u| u.id)
            .ok_or_else(|| alloc(format!("User \"{name}\" does not exist"))),
        None => Ok(caller.uid),
    }
}

/// Disk target names: vda, vdb, … (hd, sd by DEV_PREFIX).
pub fn target_name(prefix: &str, index: usize) -> String {
    let mut suffix = String::new();
    let mut n = index;
    loop {
        suffix.insert(0, char::from(b'a' + (n % 26) as u8));
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    format!("{prefix}{suffix}")
}

/// What a new VM takes, computed while staging it.
#[derive(Debug, Default)]
pub(super) struct Taken {
    /// Clusters allowed by each network and image datastore (intersected).
    clusters: Option<BTreeSet<Oid>>,
}

impl Taken {
    fn restrict(&mut self, clusters: &BTreeSet<Oid>) {
        self.clusters = Some(match self.clusters.take() {
            None => clusters.clone(),
            Some(c) => c.intersection(clusters).copied().collect(),
        });
    }
}

/// Takes the resources of new VM `vm` (its id, owner and template are set): rewrites
/// every NIC and DISK with what it got, charges quotas and sets
/// `AUTOMATIC_REQUIREMENTS`.
pub(crate) fn acquire(tx: &mut Tx, caller: &Caller, vm: &mut Vm) -> Result<()> {
    let mut taken = Taken::default();
    let mut attrs = std::mem::take(&mut vm.template.attrs);
    let result = (|| {
        let mut nic_id = 0;
        let mut disk_id = 0;
        for attr in attrs.iter_mut() {
            let Value::Vector(pairs) = &mut attr.value else {
                if matches!(attr.name.as_str(), "NIC" | "NIC_ALIAS" | "DISK") {
                    return Err(alloc(format!("{} must be a vector attribute", attr.name)));
                }
                continue;
            };
            match attr.name.as_str() {
                "NIC" => {
                    take_lease(tx, caller, vm, pairs, nic_id, &mut taken)?;
                    nic_id += 1;
                }
                "DISK" => {
                    take_disk(tx, caller, vm, pairs, disk_id, &mut taken)?;
                    disk_id += 1;
                }
                _ => {}
            }
        }
        // Aliases once every NIC they may name has its NAME and NIC_ID.
        let parents = parents_in(attrs.iter().filter(|a| a.name == "NIC"));
        for attr in attrs.iter_mut().filter(|a| a.name == "NIC_ALIAS") {
            if let Value::Vector(pairs) = &mut attr.value {
                take_alias(tx, caller, vm, &parents, pairs, nic_id, &mut taken)?;
                nic_id += 1;
            }
        }
        Ok(())
    })();
    vm.template.attrs = attrs;
    result?;
    if let Some(clusters) = taken.clusters {
        if clusters.is_empty() {
            return Err(alloc(
                "There is no cluster that holds every network and image datastore of the VM",
            ));
        }
        let any = clusters
            .iter()
            .map(|c| format!("CLUSTER_ID = {c}"))
            .collect::<Vec<_>>()
            .join(" | ");
        super::create::set_system(
            &mut vm.template,
            "AUTOMATIC_REQUIREMENTS",
            format!("({any}) & !(PUBLIC_CLOUD = YES)"),
        );
    }
    Ok(())
}

/// The (NAME, NIC_ID) of the NICs among `attrs`: what a NIC_ALIAS's PARENT may name.
pub(super) fn parents_in<'a>(
    attrs: impl Iterator<Item = &'a nubo_template::Attribute>,
) -> Vec<(String, String)> {
    attrs
        .filter_map(|a| a.value.as_vector())
        .filter_map(|p| Some((get(p, "NAME")?.to_string(), get(p, "NIC_ID")?.to_string())))
        .collect()
}

/// Takes the lease of a NIC_ALIAS: like a NIC's (the network and any security groups it
/// names authorized the same way), on top of a NIC of the VM that its PARENT names.
pub(super) fn take_alias(
    tx: &mut Tx,
    caller: &Caller,
    vm: &Vm,
    parents: &[(String, String)],
    pairs: &mut Vec<(String, String)>,
    nic_id: usize,
    taken: &mut Taken,
) -> Result<()> {
    let parent = get(pairs, "PARENT")
        .ok_or_else(|| alloc("NIC_ALIAS must name its PARENT, the NAME of one of the VM's NICs"))?
        .to_string();
    let parent_id = parents
        .iter()
        .find(|(name, _)| *name == parent)
        .map(|(_, id)| id.clone())
        .ok_or_else(|| {
            alloc(format!(
                "NIC_ALIAS PARENT \"{parent}\" is not a NIC of the VM"
            ))
        })?;
    take_lease(tx, caller, vm, pairs, nic_id, taken)?;
    set(pairs, "NAME", format!("{parent}_ALIAS{nic_id}"));
    set(pairs, "PARENT", parent);
    set(pairs, "PARENT_ID", parent_id);
    Ok(())
}

/// The network attribute that makes a network a pool of EC2 Elastic IPs.
pub const ELASTIC_IP_POOL_ATTR: &str = "EC2_ELASTIC_IPS";

/// Whether `net` is an EC2 Elastic IP: a reservation whose parent network is an Elastic
/// IP pool (`EC2_ELASTIC_IPS = "YES"`).
fn is_elastic_ip(tx: &Tx, net: &Vnet) -> bool {
    net.parent_network_id != -1
        && tx
            .state
            .get::<Vnet>(net.parent_network_id)
            .is_ok_and(|parent| {
                parent.parent_network_id == -1
                    && parent
                        .template
                        .get(ELASTIC_IP_POOL_ATTR)
                        .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes"))
            })
}

pub(super) fn take_lease(
    tx: &mut Tx,
    caller: &Caller,
    vm: &Vm,
    pairs: &mut Vec<(String, String)>,
    nic_id: usize,
    taken: &mut Taken,
) -> Result<()> {
    let net_id = match parse_id(pairs, "NETWORK_ID", "NIC")? {
        Some(id) => id,
        None => {
            let Some(name) = get(pairs, "NETWORK").map(str::to_string) else {
                return Err(alloc("NIC must have a NETWORK_ID or a NETWORK"));
            };
            let uid = name_owner(tx, pairs, "NETWORK", caller)?;
            tx.state
                .vnets
                .values()
                .find(|n| n.meta.name == name && n.meta.uid == uid)
                .map(|n| n.meta.id)
                // VirtualNetworkPool::get_nic_by_name
                .ok_or_else(|| {
                    alloc(format!(
                        "User {uid} does not own a network with name: {name} . \
                         Set NETWORK_UNAME or NETWORK_UID of owner in NIC."
                    ))
                })?
        }
    };
    // Read through the transaction: other VMs of the same write may have taken leases.
    let net = fetch_for::<Vnet>(tx.state, caller, net_id, AuthOp::Use).map_err(|e| match e {
        // VirtualNetworkPool::get_nic_by_id
        Error::NoExists { .. } => {
            alloc(format!("Virtual network with ID: {net_id} does not exist"))
        }
        other => other,
    })?;
    // An EC2 Elastic IP is its account's own: leasing it needs MANAGE, not the USE every
    // group of the default VDC has on every network.
    if is_elastic_ip(tx, &net) {
        fetch_for::<Vnet>(tx.state, caller, net_id, AuthOp::Manage)?;
    }
    let mut vnet = tx.get_mut::<Vnet>(net_id)?;
    let ar_id = parse_id(pairs, "AR_ID", "NIC")?;
    let query = AddrQuery::from_pairs(pairs).map_err(|e| alloc(e.to_string()))?;
    let owner = LeaseOwner::Vm(vm.meta.id);
    let (pos, index) = match query {
        Some(q) => {
            let (pos, index) = ars::locate(&vnet.ars, q, ar_id).ok_or_else(|| {
                alloc(format!(
                    "The address requested is not in virtual network {net_id}"
                ))
            })?;
            if vnet.ars[pos].leases.contains_key(&index) {
                return Err(alloc(format!(
                    "The address requested is already in use in virtual network {net_id}"
                )));
            }
            (pos, index)
        }
        None => vnet
            .ars
            .iter()
            .enumerate()
            .filter(|(_, ar)| ar_id.is_none_or(|id| ar.id == id))
            .find_map(|(pos, ar)| ars::free_block(ar, 1).map(|i| (pos, i)))
            .ok_or_else(|| alloc(format!("No free address lease in virtual network {net_id}")))?,
    };
    let ar = &mut vnet.ars[pos];
    ars::take_block(ar, index, 1, owner);
    set(pairs, "AR_ID", ar.id.to_string());
    set(pairs, "BRIDGE", vnet.bridge.clone());
    set(pairs, "BRIDGE_TYPE", vnet.bridge_type.clone());
    let clusters: Vec<String> = vnet.clusters.iter().map(|c| c.to_string()).collect();
    set(pairs, "CLUSTER_ID", clusters.join(","));
    if let Some(ip) = ar.ip_at(index) {
        set(pairs, "IP", ip.to_string());
    }
    if let Some(ip6) = ar.ip6_at(index) {
        set(pairs, "IP6", ip6.to_string());
    }
    for (key, prefix) in [("IP6_GLOBAL", ar.global_prefix), ("IP6_ULA", ar.ula_prefix)] {
        if let Some(p) = prefix {
            set(pairs, key, ar.slaac_at(p, index).to_string());
        }
    }
    set(pairs, "MAC", format_mac(ar.mac_at(index)));
    for key in [
        "GATEWAY",
        "DNS",
        "NETWORK_MASK",
        "NETWORK_ADDRESS",
        "MTU",
        "VLAN_ID",
    ] {
        if get(pairs, key).is_none()
            && let Some(v) = ar.attr(key).or_else(|| vnet.template.get(key))
        {
            set(pairs, key, v.to_string());
        }
    }
    set(pairs, "NAME", format!("NIC{nic_id}"));
    set(pairs, "NETWORK", vnet.meta.name.clone());
    set(pairs, "NETWORK_ID", net_id.to_string());
    set(pairs, "NETWORK_UNAME", vnet.meta.uname.clone());
    set(pairs, "NIC_ID", nic_id.to_string());
    // The NIC's own groups join the network's, as in OpenNebula. Those the network brings
    // come with the right to use it; those the NIC names need the right to use each.
    let mut groups: BTreeSet<Oid> = BTreeSet::new();
    for (text, named) in [
        (vnet.template.get("SECURITY_GROUPS").unwrap_or("0"), false),
        (get(pairs, "SECURITY_GROUPS").unwrap_or(""), true),
    ] {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id: Oid = part.parse().map_err(|_| {
                alloc(format!(
                    "Invalid security group id \"{part}\" in NIC SECURITY_GROUPS"
                ))
            })?;
            if !tx.state.secgroups.contains_key(&id) {
                return Err(alloc(format!("Security group {id} does not exist")));
            }
            if named && !groups.contains(&id) {
                fetch_for::<SecGroup>(tx.state, caller, id, AuthOp::Use)?;
            }
            groups.insert(id);
        }
    }
    let sgs = groups
        .iter()
        .map(|g| g.to_string())
        .collect::<Vec<_>>()
        .join(",");
    set(pairs, "SECURITY_GROUPS", sgs.clone());
    set(pairs, "TARGET", format!("one-{}-{nic_id}", vm.meta.id));
    set(pairs, "VN_MAD", vnet.vn_mad.clone());
    pairs.retain(|(k, _)| !k.eq_ignore_ascii_case("NETWORK_UID"));
    taken.restrict(&vnet.clusters.clone());
    tx.put(vnet)?;
    for sg in sgs.split(',').filter_map(|s| s.trim().parse::<Oid>().ok()) {
        join_group(tx, vm.meta.id, sg)?;
    }
    charge_owners(
        tx,
        vm.meta.uid,
        vm.meta.gid,
        QuotaKind::Network,
        net_id,
        &[("LEASES", 1.0)],
    )
}

fn parse_size_mb(pairs: &[(String, String)]) -> Result<Option<i64>> {
    get(pairs, "SIZE")
        .map(|v| {
            v.parse::<i64>().ok().filter(|s| *s > 0).ok_or_else(|| {
                alloc(format!(
                    "DISK SIZE must be a positive integer (MB), not \"{v}\""
                ))
            })
        })
        .transpose()
}

pub(super) fn take_disk(
    tx: &mut Tx,
    caller: &Caller,
    vm: &Vm,
    pairs: &mut Vec<(String, String)>,
    disk_id: usize,
    taken: &mut Taken,
) -> Result<()> {
    let image_id = match parse_id(pairs, "IMAGE_ID", "DISK")? {
        Some(id) => Some(id),
        None => match get(pairs, "IMAGE").map(str::to_string) {
            Some(name) => {
                let uid = name_owner(tx, pairs, "IMAGE", caller)?;
                Some(
                    tx.state
                        .images
                        .values()
                        .find(|i| i.meta.name == name && i.meta.uid == uid)
                        .map(|i| i.meta.id)
                        // ImageManager::acquire_image
                        .ok_or_else(|| {
                            alloc(format!(
                                "User {uid} does not own an image with name: {name} . \
                                 Set IMAGE_UNAME or IMAGE_UID of owner in DISK."
                            ))
                        })?,
                )
            }
            None => None,
        },
    };
    let prefix = get(pairs, "DEV_PREFIX").unwrap_or("vd").to_string();
    set(pairs, "DEV_PREFIX", prefix.clone());
    set(pairs, "DISK_ID", disk_id.to_string());
    if get(pairs, "TARGET").is_none() {
        set(pairs, "TARGET", target_name(&prefix, disk_id));
    }
    let Some(image_id) = image_id else {
        // A volatile disk: TYPE fs (the default) or swap and SIZE (MB), made in the
        // system datastore; refused in ImagePool::disk_attribute's words and order.
        let kind = get(pairs, "TYPE").unwrap_or("fs").to_ascii_lowercase();
        if kind != "fs" && kind != "swap" {
            return Err(alloc(format!(
                "Unknown disk type {}",
                kind.to_ascii_uppercase()
            )));
        }
        let size = parse_size_mb(pairs)
            .ok()
            .flatten()
            .ok_or_else(|| alloc("SIZE attribute must be a positive integer value."))?;
        set(pairs, "TYPE", kind);
        if get(pairs, "FORMAT").is_none() {
            set(pairs, "FORMAT", "raw");
        }
        set(pairs, "SIZE", size.to_string());
        return Ok(());
    };
    fetch_for::<Image>(tx.state, caller, image_id, AuthOp::Use).map_err(|e| match e {
        // ImageManager::acquire_image
        Error::NoExists { .. } => alloc(format!("Image with ID: {image_id} does not exist")),
        other => other,
    })?;
    let mut image = tx.get_mut::<Image>(image_id)?;
    match image.image_type {
        ImageType::Os | ImageType::Cdrom | ImageType::Datablock => {}
        other => {
            return Err(alloc(format!(
                "Image {image_id} is of type {} and cannot be used as a DISK",
                other.name()
            )));
        }
    }
    match image.state {
        ImageState::Ready => {}
        ImageState::Used if !image.persistent => {}
        ImageState::UsedPers | ImageState::Used => {
            return Err(alloc(format!(
                "Cannot acquire image {image_id}: it is persistent and already in use by VM {}",
                image.vms.iter().next().copied().unwrap_or(-1)
            )));
        }
        other => {
            return Err(alloc(format!(
                "Cannot acquire image {image_id}: it is in state {}",
                other.name()
            )));
        }
    }
    let ds = tx.get::<Datastore>(image.datastore_id)?;
    image.running_vms += 1;
    image.vms.insert(vm.meta.id);
    image.state = if image.persistent {
        ImageState::UsedPers
    } else {
        ImageState::Used
    };
    let size = match parse_size_mb(pairs)? {
        Some(s) if s < image.size => {
            return Err(alloc(format!(
                "DISK SIZE {s} MB is smaller than image {image_id} ({} MB)",
                image.size
            )));
        }
        Some(s) => s,
        None => image.size,
    };
    let persistent = image.persistent;
    let readonly = image.image_type == ImageType::Cdrom;
    for (key, value) in [
        ("CLONE", if persistent { "NO" } else { "YES" }.to_string()),
        ("CLONE_TARGET", "SYSTEM".to_string()),
        ("CLUSTER_ID", cluster_list(&ds.clusters)),
        ("DATASTORE", ds.meta.name.clone()),
        ("DATASTORE_ID", ds.meta.id.to_string()),
        ("DISK_TYPE", image.disk_type.name().to_string()),
        ("DRIVER", image.format.clone()),
        ("FORMAT", image.format.clone()),
        ("IMAGE", image.meta.name.clone()),
        ("IMAGE_ID", image_id.to_string()),
        ("IMAGE_STATE", image.state.code().to_string()),
        ("IMAGE_UNAME", image.meta.uname.clone()),
        ("ORIGINAL_SIZE", image.size.to_string()),
        (
            "PERSISTENT",
            if persistent { "YES" } else { "NO" }.to_string(),
        ),
        ("READONLY", if readonly { "YES" } else { "NO" }.to_string()),
        ("SAVE", if persistent { "YES" } else { "NO" }.to_string()),
        ("SIZE", size.to_string()),
        ("SOURCE", image.source.clone()),
        ("TM_MAD", ds.tm_mad.clone()),
        ("TYPE", image.disk_type.name().to_string()),
    ] {
        set(pairs, key, value);
    }
    pairs.retain(|(k, _)| !k.eq_ignore_ascii_case("IMAGE_UID"));
    taken.restrict(&ds.clusters.clone());
    tx.put(image)?;
    charge_owners(
        tx,
        vm.meta.uid,
        vm.meta.gid,
        QuotaKind::Image,
        image_id,
        &[("RVMS", 1.0)],
    )
}

fn cluster_list(clusters: &BTreeSet<Oid>) -> String {
    clusters
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// MB the VM's disks take in the system datastore: volatile disks and clones of
/// non-persistent images.
pub fn system_disk_mb(template: &Template) -> i64 {
    template
        .vectors("DISK")
        .filter(|d| get(d, "IMAGE_ID").is_none() || get(d, "CLONE") == Some("YES"))
        .filter_map(|d| get(d, "SIZE").and_then(|s| s.parse::<i64>().ok()))
        .sum()
}

/// Gives back the lease of one NIC of `vm` (and its security group membership when no
/// other NIC keeps it), releasing the NETWORK quota.
pub(super) fn release_nic(tx: &mut Tx, vm: &Vm, nic: &[(String, String)]) -> Result<()> {
    let owner = LeaseOwner::Vm(vm.meta.id);
    if let Some(net_id) = get(nic, "NETWORK_ID").and_then(|v| v.parse::<Oid>().ok())
        && let Ok(mut vnet) = tx.get_mut::<Vnet>(net_id)
    {
        let mac = get(nic, "MAC").and_then(crate::model::parse_mac);
        let ar_id = get(nic, "AR_ID").and_then(|v| v.parse::<Oid>().ok());
        let freed = mac
            .and_then(|m| ars::locate(&vnet.ars, AddrQuery::Mac(m), ar_id))
            .and_then(|(pos, index)| {
                let ar = vnet.ars.get_mut(pos)?;
                (ar.leases.get(&index).map(|l| l.owner) == Some(owner))
                    .then(|| ar.leases.remove(&index))
            })
            .is_some();
        tx.put(vnet)?;
        if freed {
            charge_owners(
                tx,
                vm.meta.uid,
                vm.meta.gid,
                QuotaKind::Network,
                net_id,
                &[("LEASES", -1.0)],
            )?;
        }
    }
    for sg in security_groups(nic) {
        leave_with_nic(tx, vm, get(nic, "NIC_ID"), sg)?;
    }
    Ok(())
}

/// Takes NIC `nic_id` of VM `vm_id` out of group `sg` (see [`leave_with_nic`]).
pub(super) fn nic_leaves_group(tx: &mut Tx, vm_id: Oid, nic_id: i32, sg: Oid) -> Result<()> {
    match tx.state.vms.get(&vm_id).cloned() {
        Some(vm) => leave_with_nic(tx, &vm, Some(&nic_id.to_string()), sg),
        None => leave_group(tx, vm_id, sg),
    }
}

/// Takes the NIC of `vm` with id `nic_id` out of group `sg`: the VM leaves the group
/// unless another of its NICs is in it; either way the groups naming `sg` see an address
/// go.
fn leave_with_nic(tx: &mut Tx, vm: &Vm, nic_id: Option<&str>, sg: Oid) -> Result<()> {
    let kept = lease_vectors(&vm.template)
        .any(|n| get(n, "NIC_ID") != nic_id && security_groups(n).contains(&sg));
    if kept {
        crate::ops::secgroup_updates::outdate_referrers(tx, sg)
    } else {
        leave_group(tx, vm.meta.id, sg)
    }
}

/// The vectors that hold a lease: NICs and their aliases.
pub(crate) fn lease_vectors(t: &Template) -> impl Iterator<Item = &[(String, String)]> {
    t.vectors("NIC").chain(t.vectors("NIC_ALIAS"))
}

/// The security groups of a NIC.
pub(crate) fn security_groups(nic: &[(String, String)]) -> Vec<Oid> {
    get(nic, "SECURITY_GROUPS")
        .map(|s| s.split(',').filter_map(|p| p.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Adds VM `vm` to security group `sg` (if it exists).
pub(super) fn join_group(tx: &mut Tx, vm: Oid, sg: Oid) -> Result<()> {
    if let Ok(mut group) = tx.get_mut::<SecGroup>(sg) {
        group.updated_vms.insert(vm);
        tx.put(group)?;
        crate::ops::secgroup_updates::outdate_referrers(tx, sg)?;
    }
    Ok(())
}

/// Removes VM `vm` from security group `sg`.
pub(super) fn leave_group(tx: &mut Tx, vm: Oid, sg: Oid) -> Result<()> {
    if let Ok(mut group) = tx.get_mut::<SecGroup>(sg) {
        for set in [
            &mut group.updated_vms,
            &mut group.outdated_vms,
            &mut group.updating_vms,
            &mut group.error_vms,
        ] {
            set.remove(&vm);
        }
        tx.put(group)?;
        crate::ops::secgroup_updates::outdate_referrers(tx, sg)?;
    }
    Ok(())
}

/// Gives back the image of one DISK of `vm`, releasing the IMAGE quota.
pub(super) fn release_disk(tx: &mut Tx, vm: &Vm, disk: &[(String, String)]) -> Result<()> {
    let Some(image_id) = get(disk, "IMAGE_ID").and_then(|v| v.parse::<Oid>().ok()) else {
        return Ok(());
    };
    if let Ok(mut image) = tx.get_mut::<Image>(image_id)
        && image.vms.remove(&vm.meta.id)
    {
        image.running_vms = (image.running_vms - 1).max(0);
        if image.running_vms == 0 && matches!(image.state, ImageState::Used | ImageState::UsedPers)
        {
            image.state = ImageState::Ready;
        }
        tx.put(image)?;
    }
    charge_owners(
        tx,
        vm.meta.uid,
        vm.meta.gid,
        QuotaKind::Image,
        image_id,
        &[("RVMS", -1.0)],
    )
}

/// Gives back everything `vm` took: leases, images, security group membership, and the
/// NETWORK and IMAGE quotas.
pub(crate) fn release(tx: &mut Tx, vm: &Vm) -> Result<()> {
    let nics: Vec<Vec<(String, String)>> = lease_vectors(&vm.template).map(<[_]>::to_vec).collect();
    for nic in &nics {
        release_nic(tx, vm, nic)?;
    }
    for sg in nics.iter().flat_map(|n| security_groups(n)) {
        leave_group(tx, vm.meta.id, sg)?;
    }
    let disks: Vec<Vec<(String, String)>> =
        vm.template.vectors("DISK").map(<[_]>::to_vec).collect();
    for disk in &disks {
        release_disk(tx, vm, disk)?;
    }
    Ok(())
}

/// Moves the NETWORK and IMAGE quota usage of `vm` to a new owner (staged by a chown).
pub(crate) fn move_quota(tx: &mut Tx, vm: &Vm, uid: Oid, gid: Oid) -> Result<()> {
    let mut charges: Vec<(QuotaKind, Oid, &'static str)> = Vec::new();
    for nic in lease_vectors(&vm.template) {
        if let Some(id) = get(nic, "NETWORK_ID").and_then(|v| v.parse().ok()) {
            charges.push((QuotaKind::Network, id, "LEASES"));
        }
    }
    for disk in vm.template.vectors("DISK") {
        if let Some(id) = get(disk, "IMAGE_ID").and_then(|v| v.parse().ok()) {
            charges.push((QuotaKind::Image, id, "RVMS"));
        }
    }
    for (kind, id, field) in charges {
        charge_owners(tx, vm.meta.uid, vm.meta.gid, kind, id, &[(field, -1.0)])?;
        charge_owners(tx, uid, gid, kind, id, &[(field, 1.0)])?;
    }
    Ok(())
}

/// A NIC or DISK attribute as the VM keeps it (for tests).
#[cfg(test)]
fn vector(attr: &nubo_template::Attribute) -> &[(String, String)] {
    attr.value.as_vector().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_the_alphabet() {
        assert_eq!(target_name("vd", 0), "vda");
        assert_eq!(target_name("vd", 25), "vdz");
        assert_eq!(target_name("sd", 26), "sdaa");
        assert_eq!(target_name("hd", 27), "hdab");
    }

    #[test]
    fn system_disk_counts_volatile_disks_and_clones() {
        let t = Template::parse(
            "DISK=[SIZE=100,TYPE=fs]\nDISK=[IMAGE_ID=1,CLONE=YES,SIZE=50]\nDISK=[IMAGE_ID=2,CLONE=NO,SIZE=70]",
        )
        .expect("template");
        assert_eq!(system_disk_mb(&t), 150);
        let first = t.get_all("DISK").next().expect("disk");
        assert_eq!(get(vector(first), "type"), Some("fs"));
    }
}
