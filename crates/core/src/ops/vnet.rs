//! Virtual network operations with OpenNebula's `one.vn.*` semantics: allocate (driver
//! checks, bridge and VLAN defaults, address ranges, clusters, the default security group),
//! delete, update and reservations. Address ranges and holds are in [`super::vnet_ranges`],
//! the ERROR state and recover in [`super::vnet_state`].

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::states::VnetState;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::address_range::{self as ars, value};
use super::cluster::DEFAULT_CLUSTER;
use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use super::vnet_reservation::{
    charge_leases, parse_reserve, pick_block, reservation_target, return_to_parent,
};
use super::vnet_state::{set_error, settle};
use crate::Core;
use crate::auth::{Caller, RestrictedKind, authorize_create_in};
use crate::model::{AddressRange, Cluster, LeaseOwner, Vnet};
use crate::state::State;
use crate::tx::Tx;

/// The default security group every network gets.
pub const DEFAULT_SECGROUP: Oid = 0;

/// What a network driver requires, after OpenNebula's `parse_phydev_vlans` table and the
/// `VN_MAD_CONF` bridge types of oned.conf.
#[derive(Debug, Clone, Copy, Default)]
struct DriverRules {
    phydev: bool,
    bridge: bool,
    vlan: bool,
    outer_vlan: bool,
    bridge_type: &'static str,
}

fn driver_rules(vn_mad: &str) -> DriverRules {
    let linux = DriverRules {
        bridge_type: "linux",
        ..DriverRules::default()
    };
    match vn_mad.to_ascii_lowercase().as_str() {
        "dummy" => DriverRules {
            bridge: true,
            ..linux
        },
        "802.1q" | "vxlan" => DriverRules {
            phydev: true,
            vlan: true,
            ..linux
        },
        "ovswitch" => DriverRules {
            bridge_type: "openvswitch",
            ..linux
        },
        "ovswitch_vxlan" => DriverRules {
            outer_vlan: true,
            bridge_type: "openvswitch",
            ..linux
        },
        "vcenter" => DriverRules {
            bridge_type: "vcenter_port_groups",
            ..linux
        },
        _ => linux,
    }
}

/// Whether the driver takes a VLAN id from the automatic pool (`VLAN_ID`, `OUTER_VLAN_ID`).
fn auto_vlan_kinds(vn_mad: &str) -> (bool, bool) {
    match vn_mad.to_ascii_lowercase().as_str() {
        "802.1q" | "vxlan" | "ovswitch" => (true, false),
        "ovswitch_vxlan" => (false, true),
        _ => (false, false),
    }
}

const BRIDGE_TYPES: [&str; 5] = [
    "linux",
    "openvswitch",
    "openvswitch_dpdk",
    "vcenter_port_groups",
    "none",
];

/// Removes every `name` attribute and returns the first non-blank single value.
fn take_single(t: &mut Template, name: &str) -> Option<String> {
    t.remove(name)
        .into_iter()
        .find_map(|a| a.value.as_single().map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
}

fn is_yes(text: Option<&str>) -> bool {
    text.is_some_and(|t| {
        ["YES", "TRUE", "1"]
            .iter()
            .any(|y| t.eq_ignore_ascii_case(y))
    })
}

/// The pairs of the first `name` vector of a template.
pub(super) fn first_vector(t: &Template, name: &str) -> Option<Vec<(String, String)>> {
    t.vectors(name).next().map(<[(String, String)]>::to_vec)
}

/// Random bits for the MACs of ranges without IPv4.
fn random_u32() -> Result<u32> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::internal(format!("no randomness available: {e}")))?;
    Ok(u32::from_be_bytes(bytes))
}

/// `VLAN_ID` / `AUTOMATIC_VLAN_ID` (or the OUTER pair): the id given, or whether to pick one.
fn parse_vlan(t: &mut Template, id_name: &str, auto_name: &str) -> (Option<String>, bool) {
    let auto = t.remove(auto_name);
    let auto = is_yes(auto.iter().find_map(|a| a.value.as_single()));
    match take_single(t, id_name) {
        Some(id) => {
            t.set(id_name, id.clone());
            (Some(id), false)
        }
        None => (None, auto),
    }
}

/// The lowest VLAN id from 2 up that no network uses (4095 is reserved).
fn pick_vlan(state: &State) -> String {
    let used: BTreeSet<u32> = state
        .vnets
        .values()
        .flat_map(|v| [v.vlan_id.as_deref(), v.outer_vlan_id.as_deref()])
        .flatten()
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    (2u32..)
        .find(|n| *n != 4095 && !used.contains(n))
        .unwrap_or(2)
        .to_string()
}

/// The network's `SECURITY_GROUPS`: the ones given plus the default group, sorted.
fn security_groups(t: &mut Template) -> Result<String> {
    let mut ids = BTreeSet::from([DEFAULT_SECGROUP]);
    if let Some(text) = take_single(t, "SECURITY_GROUPS") {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = part.parse::<Oid>().map_err(|_| {
                Error::api(format!(
                    "Invalid security group id \"{part}\" in SECURITY_GROUPS"
                ))
            })?;
            ids.insert(id);
        }
    }
    let ids: Vec<String> = ids.iter().map(Oid::to_string).collect();
    Ok(ids.join(","))
}

/// Parses a new range for `vnet` (next free id, the network's IPAM_MAD) and checks it
/// against the network's other ranges.
pub(super) fn new_range(
    existing: &[AddressRange],
    template: &Template,
    pairs: &[(String, String)],
) -> Result<AddressRange> {
    let mut pairs = pairs.to_vec();
    if let Some(ipam) = template.get("IPAM_MAD")
        && value(&pairs, "IPAM_MAD").is_none()
    {
        pairs.push(("IPAM_MAD".into(), ipam.to_string()));
    }
    let ar = ars::parse_ar(&pairs, ars::next_ar_id(existing), random_u32()?)?;
    ars::check_overlap(existing, &ar)?;
    Ok(ar)
}

/// The name of a new network: NAME, or `<TEMPLATE_NAME>-<id>` when instantiated unnamed.
fn vnet_name(t: &mut Template, id: Oid) -> Result<String> {
    let name = take_single(t, "NAME");
    let prefix = take_single(t, "TEMPLATE_NAME");
    match (name, prefix) {
        (Some(name), _) => Ok(name),
        (None, Some(prefix)) => Ok(format!("{prefix}-{id}")),
        (None, None) => Err(Error::api("No NAME in template for Virtual Network.")),
    }
}

/// Driver, device, bridge and VLAN settings read from an allocate template.
struct NetConfig {
    vn_mad: String,
    phydev: String,
    bridge: String,
    bridge_type: String,
    vlan: (Option<String>, bool),
    outer: (Option<String>, bool),
}

fn net_config(state: &State, t: &mut Template, id: Oid) -> Result<NetConfig> {
    let vn_mad = take_single(t, "VN_MAD")
        .ok_or_else(|| Error::api("No VN_MAD in template for Virtual Network."))?;
    t.set("VN_MAD", vn_mad.clone());
    let phydev = take_single(t, "PHYDEV").unwrap_or_default();
    t.set("PHYDEV", phydev.clone());
    let bridge = take_single(t, "BRIDGE").unwrap_or_default();
    let mut vlan = parse_vlan(t, "VLAN_ID", "AUTOMATIC_VLAN_ID");
    let mut outer = parse_vlan(t, "OUTER_VLAN_ID", "AUTOMATIC_OUTER_VLAN_ID");
    let rules = driver_rules(&vn_mad);
    let missing = |what: &str| {
        Err(Error::api(format!(
            "{what} is mandatory for driver {vn_mad}"
        )))
    };
    if rules.phydev && phydev.is_empty() {
        return missing("PHYDEV");
    }
    if rules.bridge && bridge.is_empty() {
        return missing("BRIDGE");
    }
    if rules.vlan && vlan.0.is_none() && !vlan.1 {
        return missing("VLAN_ID (or AUTOMATIC_VLAN_ID)");
    }
    if rules.outer_vlan && outer.0.is_none() && !outer.1 {
        return missing("OUTER_VLAN_ID (or AUTOMATIC_OUTER_VLAN_ID)");
    }
    let (auto_inner, auto_outer) = auto_vlan_kinds(&vn_mad);
    if vlan.1 && auto_inner {
        vlan.0 = Some(pick_vlan(state));
    }
    if outer.1 && auto_outer {
        outer.0 = Some(pick_vlan(state));
    }
    t.remove("BRIDGE_TYPE");
    let bridge_type = rules.bridge_type.to_string();
    t.set("BRIDGE_TYPE", bridge_type.clone());
    let bridge = match (bridge.is_empty(), &vlan.0) {
        (false, _) => bridge,
        (true, Some(v)) => format!("onebr.{v}"),
        (true, None) => format!("onebr{id}"),
    };
    t.set("BRIDGE", bridge.clone());
    Ok(NetConfig {
        vn_mad,
        phydev,
        bridge,
        bridge_type,
        vlan,
        outer,
    })
}

/// Builds (without storing) network `id`, owned by `caller`, from an allocate template.
fn vnet_from_template(
    state: &State,
    caller: &Caller,
    id: Oid,
    mut t: Template,
    template_id: Oid,
) -> Result<Vnet> {
    let name = vnet_name(&mut t, id)?;
    let net = net_config(state, &mut t, id)?;
    let sgs = security_groups(&mut t)?;
    t.set("SECURITY_GROUPS", sgs);
    // oned adds the ranges once the network exists (its IPAM `vnet_create` step, which
    // leaves it READY): a range it cannot add is left out and the network goes to ERROR with
    // the (last) reason.
    let mut ranges: Vec<AddressRange> = Vec::new();
    let mut range_error = None;
    for attr in t.remove("AR") {
        if let Some(pairs) = attr.value.as_vector() {
            match new_range(&ranges, &t, pairs) {
                Ok(ar) => ranges.push(ar),
                Err(e) => range_error = Some(e.to_string()),
            }
        }
    }
    let mut vnet = Vnet {
        meta: new_meta(caller, id, name),
        clusters: BTreeSet::new(),
        bridge: net.bridge,
        bridge_type: net.bridge_type,
        state: VnetState::Ready,
        prev_state: VnetState::Ready,
        parent_network_id: -1,
        template_id,
        vn_mad: net.vn_mad,
        phydev: net.phydev,
        vlan_id: net.vlan.0,
        outer_vlan_id: net.outer.0,
        vlan_id_automatic: net.vlan.1,
        outer_vlan_id_automatic: net.outer.1,
        vrouters: BTreeSet::new(),
        template: t,
        ars: ranges,
    };
    if let Some(message) = range_error {
        settle(&mut vnet, VnetState::Error);
        set_error(&mut vnet, &message);
    }
    Ok(vnet)
}

/// Stores a new network and adds it to each of its clusters.
fn store_new(tx: &mut Tx, vnet: Vnet) -> Result<Oid> {
    let id = vnet.meta.id;
    for cid in &vnet.clusters {
        let mut cluster = (**tx.state.get::<Cluster>(*cid)?).clone();
        cluster.vnets.insert(id);
        tx.put(cluster)?;
    }
    tx.put(vnet)?;
    Ok(id)
}

/// Creates a network from an allocate template (also used by vntemplate instantiation):
/// template errors are ALLOCATE failures.
pub(crate) fn create_vnet(
    tx: &mut Tx,
    caller: &Caller,
    template: Template,
    template_id: Oid,
    clusters: BTreeSet<Oid>,
) -> Result<Oid> {
    let alloc = |e: Error| Error::allocate(ObjectKind::Vnet, e.to_string());
    let id = tx.next_oid(ObjectKind::Vnet);
    let mut vnet =
        vnet_from_template(tx.state, caller, id, template, template_id).map_err(alloc)?;
    check_name::<Vnet>(tx.state, &vnet.meta.name, caller.uid, None).map_err(alloc)?;
    vnet.clusters = clusters;
    store_new(tx, vnet)
}

/// Network `id` for `vn.<what>` needing `op`, in a state that allows address changes.
/// Refused as VirtualNetworkAPI words it, typos included: rm_ar and free_ar
/// (rm_ar_helper) "Could not remove Adress Range, Virtual Network is in wrong state: S",
/// the others (VirtualNetworkAPI::authorize) "Could not execute one.vn.<what>Virtual
/// Network is in wrong state: S".
pub(super) fn ready_vnet(
    tx: &Tx,
    caller: &Caller,
    id: Oid,
    op: AuthOp,
    what: &str,
) -> Result<Vnet> {
    let vnet = (*fetch_for::<Vnet>(tx.state, caller, id, op)?).clone();
    if !matches!(vnet.state, VnetState::Ready | VnetState::UpdateFailure) {
        let s = vnet.state.name();
        return Err(Error::action(match what {
            "rm_ar" | "free_ar" => {
                format!("Could not remove Adress Range, Virtual Network is in wrong state: {s}")
            }
            _ => format!("Could not execute one.vn.{what}Virtual Network is in wrong state: {s}"),
        }));
    }
    Ok(vnet)
}

pub(super) fn no_range(ar_id: Oid) -> Error {
    Error::action(format!("Address Range {ar_id} does not exist"))
}

/// Removes a network: out of its clusters, its reserved addresses back to the parent.
pub(super) fn remove_vnet(tx: &mut Tx, vnet: &Vnet) -> Result<()> {
    for cid in &vnet.clusters {
        if let Some(cluster) = tx.state.clusters.get(cid) {
            let mut cluster = (**cluster).clone();
            cluster.vnets.remove(&vnet.meta.id);
            tx.put(cluster)?;
        }
    }
    if vnet.parent_network_id != -1 {
        return_to_parent(tx, vnet, &vnet.ars)?;
    }
    tx.delete::<Vnet>(vnet.meta.id);
    Ok(())
}

/// Re-reads the driver settings after a template update, as oned's `post_update_template`.
fn apply_config(vnet: &mut Vnet) {
    let t = &mut vnet.template;
    if let Some(vn_mad) = take_single(t, "VN_MAD") {
        vnet.vn_mad = vn_mad;
    }
    t.set("VN_MAD", vnet.vn_mad.clone());
    if let Some(phydev) = take_single(t, "PHYDEV") {
        vnet.phydev = phydev;
    }
    t.set("PHYDEV", vnet.phydev.clone());
    t.remove("AUTOMATIC_VLAN_ID");
    t.remove("AUTOMATIC_OUTER_VLAN_ID");
    for (name, auto, id) in [
        ("VLAN_ID", vnet.vlan_id_automatic, &mut vnet.vlan_id),
        (
            "OUTER_VLAN_ID",
            vnet.outer_vlan_id_automatic,
            &mut vnet.outer_vlan_id,
        ),
    ] {
        let given = take_single(t, name);
        if auto {
            continue;
        }
        if given.is_some() {
            *id = given;
        }
        if let Some(v) = id {
            t.set(name, v.clone());
        }
    }
    if let Some(bridge) = take_single(t, "BRIDGE") {
        vnet.bridge = bridge;
    }
    t.set("BRIDGE", vnet.bridge.clone());
    if let Some(bt) = take_single(t, "BRIDGE_TYPE").filter(|b| BRIDGE_TYPES.contains(&b.as_str())) {
        vnet.bridge_type = bt;
    }
    t.set("BRIDGE_TYPE", vnet.bridge_type.clone());
}

impl Core {
    /// Creates a network from a template in `cluster` (-1: the default cluster). Outside the
    /// oneadmin group the template may hold no restricted attribute (`VN_MAD` is one: as in
    /// oned, such users get networks from vnet templates).
    pub async fn vnet_allocate(&self, caller: &Caller, text: &str, cluster: Oid) -> Result<Oid> {
        let template =
            parse_template(text).map_err(|e| Error::allocate(ObjectKind::Vnet, e.to_string()))?;
        let cluster_id = if cluster == -1 {
            DEFAULT_CLUSTER
        } else {
            cluster
        };
        let restricted = &self.config().restricted;
        self.write(move |tx| {
            // oned's SharedAPI::allocate: the cluster must exist, and the caller may
            // create networks and administer it (-1 is the default cluster there too).
            let cluster = tx.state.get::<Cluster>(cluster_id)?;
            authorize_create_in(tx.state, caller, ObjectKind::Vnet, cluster)?;
            // oned's VirtualNetworkAllocate::allocate_authorization.
            restricted.check_worded(
                caller,
                RestrictedKind::Vnet,
                "VNET Template",
                &template,
                None,
            )?;
            create_vnet(tx, caller, template, -1, BTreeSet::from([cluster_id]))
        })
        .await
    }

    /// Deletes a network with no leases in use; a reservation gives its addresses back.
    pub async fn vnet_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            let vnet = fetch_for::<Vnet>(tx.state, caller, id, AuthOp::Manage)?;
            if matches!(vnet.state, VnetState::LockCreate | VnetState::LockDelete | VnetState::Done) {
                return Err(Error::action(format!(
                    "Cannot delete virtual network. Can not remove a Virtual Network, wrong state {}",
                    vnet.state.name()
                )));
            }
            if vnet.used_leases() > 0 {
                return Err(Error::action(
                    "Cannot delete virtual network. Can not remove a virtual network with leases in use",
                ));
            }
            remove_vnet(tx, &vnet)?;
            Ok(id)
        })
        .await
    }

    /// Replaces (append = 0) or merges into (append = 1) the template, then re-reads the
    /// driver, device, VLAN and bridge settings from it.
    pub async fn vnet_update(
        &self,
        caller: &Caller,
        id: Oid,
        text: &str,
        append: i32,
    ) -> Result<Oid> {
        self.update_template_with::<Vnet>(caller, id, text, append, |vnet| {
            apply_config(vnet);
            Ok(())
        })
        .await
    }

    /// Reserves addresses of network `id` into a new reservation network (`SIZE`, `NAME`)
    /// or an existing one (`NETWORK_ID`); optionally from `AR_ID` starting at IP/MAC/IP6.
    /// Returns the reservation network's id.
    pub async fn vnet_reserve(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let req = parse_reserve(text, id)?;
        self.config().restricted.check(
            caller,
            RestrictedKind::Vnet,
            &parse_template(text)?,
            None,
        )?;
        self.write(move |tx| {
            let mut parent = (*fetch_for::<Vnet>(tx.state, caller, id, AuthOp::Use)?).clone();
            if parent.parent_network_id != -1 {
                return Err(Error::action(
                    "Cannot reserve addresses from a reserved VNET",
                ));
            }
            let (mut child, is_new) = reservation_target(tx, caller, &parent, &req)?;
            let child_id = child.meta.id;
            charge_leases(tx, child.meta.uid, child.meta.gid, id, f64::from(req.size))?;
            let (pos, start) = pick_block(&parent, &req)?;
            let range = ars::child_range(
                &parent.ars[pos],
                start,
                req.size,
                ars::next_ar_id(&child.ars),
            );
            ars::take_block(
                &mut parent.ars[pos],
                start,
                req.size,
                LeaseOwner::Vnet(child_id),
            );
            child.ars.push(range);
            tx.put(parent)?;
            if is_new {
                store_new(tx, child)?;
            } else {
                tx.put(child)?;
            }
            Ok(child_id)
        })
        .await
    }
}
