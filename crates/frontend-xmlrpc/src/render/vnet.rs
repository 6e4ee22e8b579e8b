//! `VNET` and `VNET_POOL`, per vnet.xsd and vnet_pool.xsd. The single form lists each
//! address range with its computed ends, usage and leases; the pool form, as oned, only
//! the range attributes (plus `ALLOCATED`).
//!
//! Leases of VMs, virtual routers and holds are listed address by address, as oned does. A
//! block reserved by another network is listed once, as the `LEASE` of its first address
//! with `VNET` (oned lists every address of it): the reservation's own range shows the whole
//! block, `USED_LEASES` counts every address, and the document grows with the number of
//! holders, not of addresses (a 65,536-address reservation is one element, not 4 MB).

use std::sync::Arc;

use nubo_core::model::{AddressRange, LeaseOwner, Vnet, format_mac};
use nubo_core::ops::address_range::format_prefix;
use nubo_types::ObjectKind;

use super::common::{lock, owner_head, permissions, pool, template};
use crate::xml::Xml;

/// The link-local prefix of SLAAC leases.
const LINK_PREFIX: u64 = 0xfe80_0000_0000_0000;

fn optional_cdata(x: &mut Xml, name: &str, value: Option<&str>) {
    match value {
        Some(v) => x.cdata(name, v),
        None => x.empty(name),
    };
}

fn head(x: &mut Xml, v: &Vnet) {
    owner_head(x, &v.meta);
    lock(x, v.meta.lock.as_ref());
    permissions(x, v.meta.perms);
    x.ids("CLUSTERS", &v.clusters)
        .cdata("BRIDGE", &v.bridge)
        .cdata("BRIDGE_TYPE", &v.bridge_type)
        .num("STATE", v.state.code())
        .num("PREV_STATE", v.prev_state.code());
    if v.parent_network_id >= 0 {
        x.num("PARENT_NETWORK_ID", v.parent_network_id);
    } else {
        x.empty("PARENT_NETWORK_ID");
    }
    x.num("TEMPLATE_ID", v.template_id)
        .cdata("VN_MAD", &v.vn_mad)
        .cdata("PHYDEV", &v.phydev);
    optional_cdata(x, "VLAN_ID", v.vlan_id.as_deref());
    optional_cdata(x, "OUTER_VLAN_ID", v.outer_vlan_id.as_deref());
    x.flag("VLAN_ID_AUTOMATIC", v.vlan_id_automatic)
        .flag("OUTER_VLAN_ID_AUTOMATIC", v.outer_vlan_id_automatic)
        .num("USED_LEASES", v.used_leases())
        .ids("VROUTERS", &v.vrouters)
        .empty("UPDATED_VMS")
        .empty("OUTDATED_VMS")
        .empty("UPDATING_VMS")
        .empty("ERROR_VMS");
    template(x, "TEMPLATE", &v.template);
}

fn attr(x: &mut Xml, ar: &AddressRange, name: &str) {
    if let Some(v) = ar.attr(name) {
        x.cdata(name, v);
    }
}

/// Range attributes the XSD places (`PORT_*` only in the single form).
const PLACED: &[&str] = &[
    "CVLANS",
    "SHARED",
    "VLAN_ID",
    "VN_MAD",
    "PORT_START",
    "PORT_SIZE",
];

/// The range's other attributes (`GATEWAY`, `DNS`, any custom one, and a static range's
/// `PREFIX_LENGTH`), sorted by name: oned shows every attribute of the range. The XSD knows
/// none of them; they come after `VN_MAD`, where the placed ones end.
fn ar_extras(x: &mut Xml, ar: &AddressRange) {
    let mut extras: Vec<(String, String)> = ar
        .attrs
        .iter()
        .filter(|(k, _)| !PLACED.iter().any(|p| p.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    if let Some(pl) = ar.prefix_length {
        extras.push(("PREFIX_LENGTH".into(), pl.to_string()));
    }
    extras.sort();
    for (name, value) in &extras {
        x.cdata(name, value);
    }
}

/// The range attributes both forms share, up to `VN_MAD` (XSD order), then the others.
fn ar_attributes(x: &mut Xml, ar: &AddressRange) {
    x.cdata("AR_ID", &ar.id.to_string());
    attr(x, ar, "CVLANS");
    if let Some(p) = ar.global_prefix {
        x.cdata("GLOBAL_PREFIX", &format_prefix(p));
    }
    if let Some(ip) = ar.ip {
        x.cdata("IP", &ip.to_string());
    }
    x.cdata("MAC", &format_mac(ar.mac))
        .num("NEXT_INDEX", ar.next_index);
    if let Some(p) = ar.parent_network_ar_id {
        x.cdata("PARENT_NETWORK_AR_ID", &p.to_string());
    }
    attr(x, ar, "SHARED");
    x.num("SIZE", ar.size).cdata("TYPE", ar.ar_type.name());
    attr(x, ar, "VLAN_ID");
    if let Some(p) = ar.ula_prefix {
        x.cdata("ULA_PREFIX", &format_prefix(p));
    }
    attr(x, ar, "VN_MAD");
    ar_extras(x, ar);
}

/// The computed first/last addresses of a range (single form only).
fn ar_ends(x: &mut Xml, ar: &AddressRange) {
    let last = ar.size.saturating_sub(1);
    x.cdata("MAC_END", &format_mac(ar.mac_at(last)));
    if let Some(ip) = ar.ip_at(last) {
        x.cdata("IP_END", &ip.to_string());
    }
    for (prefix, first, end) in [
        (ar.ula_prefix, "IP6_ULA", "IP6_ULA_END"),
        (ar.global_prefix, "IP6_GLOBAL", "IP6_GLOBAL_END"),
    ] {
        if let Some(p) = prefix {
            x.cdata(first, &ar.slaac_at(p, 0).to_string())
                .cdata(end, &ar.slaac_at(p, last).to_string());
        }
    }
    if let (Some(ip6), Some(end)) = (ar.ip6, ar.ip6_at(last)) {
        x.cdata("IP6", &ip6.to_string())
            .cdata("IP6_END", &end.to_string());
    }
    attr(x, ar, "PORT_START");
    attr(x, ar, "PORT_SIZE");
}

fn lease(x: &mut Xml, ar: &AddressRange, index: u32, owner: LeaseOwner) {
    x.open("LEASE");
    if let Some(ip) = ar.ip_at(index) {
        x.cdata("IP", &ip.to_string());
    }
    if let Some(ip6) = ar.ip6_at(index) {
        x.cdata("IP6", &ip6.to_string());
    }
    if ar.ar_type.has_ip6_slaac() {
        if let Some(p) = ar.global_prefix {
            x.cdata("IP6_GLOBAL", &ar.slaac_at(p, index).to_string());
        }
        x.cdata("IP6_LINK", &ar.slaac_at(LINK_PREFIX, index).to_string());
        if let Some(p) = ar.ula_prefix {
            x.cdata("IP6_ULA", &ar.slaac_at(p, index).to_string());
        }
    }
    x.cdata("MAC", &format_mac(ar.mac_at(index)));
    match owner {
        LeaseOwner::Vm(id) => x.num("VM", id),
        LeaseOwner::Hold => x.num("VM", -1),
        LeaseOwner::Vnet(id) => x.num("VNET", id),
        LeaseOwner::VRouter(id) => x.num("VROUTER", id),
    };
    x.close("LEASE");
}

/// The leases listed for `ar`: address by address, but a reserved block once (its first
/// address).
fn listed(ar: &AddressRange) -> impl Iterator<Item = (u32, LeaseOwner)> + '_ {
    ar.leases.runs().flat_map(|run| {
        let shown = match run.owner {
            LeaseOwner::Vnet(_) => 1,
            _ => run.size,
        };
        (0..shown).map(move |k| (run.start + k, run.owner))
    })
}

fn ar_full(x: &mut Xml, ar: &AddressRange) {
    x.open("AR");
    ar_attributes(x, ar);
    ar_ends(x, ar);
    x.num("USED_LEASES", ar.used_leases());
    if ar.leases.is_empty() {
        x.empty("LEASES");
    } else {
        x.open("LEASES");
        for (index, owner) in listed(ar) {
            lease(x, ar, index, owner);
        }
        x.close("LEASES");
    }
    x.close("AR");
}

/// OpenNebula's `ALLOCATED` attribute: ` <index> <owner>` pairs, the owner packed as the
/// object type bit ORed with its id (a reserved block once, as in `LEASES`).
fn allocated(ar: &AddressRange) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (index, owner) in listed(ar) {
        let (kind, id) = match owner {
            LeaseOwner::Vm(id) => (ObjectKind::Vm, id),
            LeaseOwner::Hold => (ObjectKind::Vm, -1),
            LeaseOwner::Vnet(id) => (ObjectKind::Vnet, id),
            LeaseOwner::VRouter(id) => (ObjectKind::VRouter, id),
        };
        let packed = kind.acl_bit() | u64::from(id as u32);
        let _ = write!(out, " {index} {packed}");
    }
    out
}

fn ar_short(x: &mut Xml, ar: &AddressRange) {
    x.open("AR").cdata("ALLOCATED", &allocated(ar));
    ar_attributes(x, ar);
    x.close("AR");
}

fn write_full(x: &mut Xml, v: &Vnet) {
    x.open("VNET");
    head(x, v);
    x.open("AR_POOL");
    for ar in &v.ars {
        ar_full(x, ar);
    }
    x.close("AR_POOL").close("VNET");
}

fn write_short(x: &mut Xml, v: &Vnet) {
    x.open("VNET");
    head(x, v);
    x.open("AR_POOL");
    for ar in &v.ars {
        ar_short(x, ar);
    }
    x.close("AR_POOL").close("VNET");
}

/// One virtual network, with its leases.
pub fn vnet(v: &Vnet) -> String {
    let mut x = Xml::new();
    write_full(&mut x, v);
    x.finish()
}

/// The virtual network pool (ranges without leases).
pub fn vnet_pool(items: &[Arc<Vnet>]) -> String {
    pool("VNET_POOL", items, write_short)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use nubo_core::model::{Meta, Vnet};
    use nubo_core::ops::address_range::parse_ar;
    use nubo_template::Template;
    use nubo_types::{Permissions, states::VnetState};

    use super::*;

    /// A network with one 2^24-address ETHER range.
    fn huge() -> Vnet {
        let pairs =
            [("TYPE", "ETHER"), ("SIZE", "16777216")].map(|(k, v)| (k.to_string(), v.to_string()));
        Vnet {
            meta: Meta::of_oneadmin(0, "huge", Permissions::from_umask(0o177)),
            clusters: BTreeSet::from([0]),
            bridge: "br0".into(),
            bridge_type: "linux".into(),
            state: VnetState::Ready,
            prev_state: VnetState::Init,
            parent_network_id: -1,
            template_id: -1,
            vn_mad: "bridge".into(),
            phydev: String::new(),
            vlan_id: None,
            outer_vlan_id: None,
            vlan_id_automatic: false,
            outer_vlan_id_automatic: false,
            vrouters: BTreeSet::new(),
            template: Template::new(),
            ars: vec![parse_ar(&pairs, 0, 1).expect("range")],
        }
    }

    fn plain(wire: &str) -> String {
        wire.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    #[test]
    fn a_reserved_block_is_listed_once_and_other_leases_one_by_one() {
        let mut v = huge();
        let leases = &mut v.ars[0].leases;
        assert!(leases.take(0, 65_536, LeaseOwner::Vnet(5)));
        assert!(leases.take(65_536, 65_536, LeaseOwner::Vnet(6)));
        assert!(leases.take(200_000, 1, LeaseOwner::Vm(7)));
        assert!(leases.take(200_001, 1, LeaseOwner::Vm(7)));
        assert!(leases.take(300_000, 2, LeaseOwner::Hold));
        let xml = plain(&vnet(&v));
        assert!(xml.len() < 6_000, "{} bytes", xml.len());
        assert!(xml.contains("<USED_LEASES>131076</USED_LEASES>"), "{xml}");
        assert_eq!(xml.matches("<LEASE>").count(), 6, "{xml}");
        assert_eq!(xml.matches("<VNET>5</VNET>").count(), 1);
        assert_eq!(xml.matches("<VNET>6</VNET>").count(), 1);
        assert_eq!(xml.matches("<VM>7</VM>").count(), 2);
        assert_eq!(xml.matches("<VM>-1</VM>").count(), 2);
        assert!(
            xml.contains("<LEASE><MAC><![CDATA[02:00:00:01:00:01]]></MAC><VNET>6</VNET></LEASE>")
        );
        let pool = plain(&vnet_pool(&[Arc::new(v)]));
        assert!(pool.len() < 3_000, "{} bytes", pool.len());
        let vnet_bit = ObjectKind::Vnet.acl_bit();
        assert!(pool.contains(&format!(
            "<ALLOCATED><![CDATA[ 0 {} 65536 {} 200000 ",
            vnet_bit | 5,
            vnet_bit | 6
        )));
    }

    #[test]
    fn every_range_attribute_is_shown_after_the_placed_ones() {
        let mut v = huge();
        let pairs = [
            ("TYPE", "IP4"),
            ("IP", "10.0.0.1"),
            ("SIZE", "4"),
            ("MY_ATTR", "x"),
            ("GATEWAY", "10.0.0.254"),
            ("VN_MAD", "bridge"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        v.ars = vec![parse_ar(&pairs, 0, 1).expect("range")];
        let whole = plain(&vnet(&v));
        let xml = &whole[whole.find("<AR_POOL>").expect("AR_POOL")..];
        let at = |tag: &str| xml.find(&format!("<{tag}>")).expect(tag);
        assert!(at("VN_MAD") < at("GATEWAY"), "{xml}");
        assert!(at("GATEWAY") < at("MY_ATTR") && at("MY_ATTR") < at("MAC_END"));
        assert_eq!(xml.matches("<VN_MAD>").count(), 1, "shown once: {xml}");
        let pool = plain(&vnet_pool(&[Arc::new(v)]));
        assert!(pool.contains("<MY_ATTR><![CDATA[x]]></MY_ATTR>"), "{pool}");
    }
}
