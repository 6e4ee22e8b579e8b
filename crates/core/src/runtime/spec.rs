//! The description a real hypervisor gets of a VM ([`VmSpec`]), built from the VM's
//! template as the core filled it in: OS boot settings, DISKs (images by their source
//! path or URL, volatile disks by size), NICs (leases, bridge, VLAN, security group
//! rules), the CONTEXT cdrom (`context_cdrom.rs`), GRAPHICS, and the change in progress.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nubo_driver::{
    Change, DiskKind, DiskSource, DiskSpec, FirewallRule, GraphicsSpec, NicSpec, OsSpec, VmSpec,
};
use nubo_types::states::{ImageType, LcmState, VmState};

use crate::model::{PendingChange, Vm};
use crate::ops::address_range::value;
use crate::ops::vm::security_groups;
use crate::state::State;

pub(super) fn yes(pairs: &[(String, String)], key: &str) -> bool {
    value(pairs, key).is_some_and(|v| v.eq_ignore_ascii_case("yes"))
}

/// The spec of `vm`; image files are fetched from `images_url` (the host agents' API of
/// this front-end) when given.
pub(crate) fn build(state: &State, vm: &Vm, images_url: Option<&str>) -> VmSpec {
    let t = &vm.template;
    let nics: Vec<NicSpec> = t.vectors("NIC").map(|n| nic(state, n)).collect();
    VmSpec {
        name: format!("one-{}", vm.meta.id),
        vcpu: vm.vcpu.max(1),
        cpu_hundredths: vm.cpu.hundredths(),
        memory_mb: u64::try_from(vm.memory_mb).unwrap_or(0),
        os: t.vectors("OS").next().map(os).unwrap_or_default(),
        disks: t
            .vectors("DISK")
            .map(|d| disk(state, d, images_url))
            .collect(),
        context: t.vectors("CONTEXT").next().map(|c| {
            super::context_cdrom::build(
                vm.meta.id,
                c,
                t.vectors("NIC"),
                vm.template.vectors("DISK").count(),
            )
        }),
        graphics: t.vectors("GRAPHICS").next().map(|g| GraphicsSpec {
            kind: value(g, "TYPE").unwrap_or("VNC").to_ascii_uppercase(),
            listen: value(g, "LISTEN").unwrap_or("127.0.0.1").to_string(),
            port: value(g, "PORT")
                .and_then(|p| p.parse().ok())
                .or_else(|| u16::try_from(5900 + vm.meta.id).ok()),
        }),
        nics,
        keep_files: matches!(
            vm.lcm_state,
            LcmState::EpilogStop | LcmState::EpilogUndeploy
        ),
        change: vm.pending.as_ref().map(|p| change(vm, p, images_url)),
    }
}

/// The driver's view of the change a VM waits for.
fn change(vm: &Vm, pending: &PendingChange, images_url: Option<&str>) -> Change {
    use PendingChange as P;
    match pending {
        P::AttachDisk { disk_id } => Change::AttachDisk { disk_id: *disk_id },
        P::DetachDisk { disk_id } => Change::DetachDisk { disk_id: *disk_id },
        P::AttachNic { nic_id } => Change::AttachNic { nic_id: *nic_id },
        P::DetachNic { nic_id } => Change::DetachNic { nic_id: *nic_id },
        P::UpdateNic { nic_id, .. } => Change::UpdateNic { nic_id: *nic_id },
        P::SnapshotCreate { snap_id, .. } => Change::SnapshotCreate { snap_id: *snap_id },
        P::SnapshotRevert { snap_id } => Change::SnapshotRevert { snap_id: *snap_id },
        P::SnapshotDelete { snap_id } => Change::SnapshotDelete { snap_id: *snap_id },
        P::DiskSnapshotCreate {
            disk_id, snap_id, ..
        } => Change::DiskSnapshotCreate {
            disk_id: *disk_id,
            snap_id: *snap_id,
        },
        P::DiskSnapshotRevert { disk_id, snap_id } => Change::DiskSnapshotRevert {
            disk_id: *disk_id,
            snap_id: *snap_id,
        },
        P::DiskSnapshotDelete { disk_id, snap_id } => Change::DiskSnapshotDelete {
            disk_id: *disk_id,
            snap_id: *snap_id,
        },
        P::DiskResize { disk_id, .. } => Change::DiskResize {
            disk_id: *disk_id,
            size_mb: vm
                .template
                .vectors("DISK")
                .find(|d| value(d, "DISK_ID").and_then(|v| v.parse().ok()) == Some(*disk_id))
                .and_then(|d| value(d, "SIZE"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        },
        P::DiskSaveas {
            disk_id,
            image_id,
            snap_id,
        } => Change::DiskSaveas {
            disk_id: *disk_id,
            image_id: *image_id,
            snap_id: *snap_id,
            url: images_url
                .map(|u| format!("{u}{}{image_id}", nubo_hostapi::images::IMAGES_PATH))
                .unwrap_or_default(),
        },
        P::Resize { .. } => Change::Resize,
        P::Exec => Change::Exec(crate::ops::vm::exec_spec(vm)),
        P::ExecCancel => Change::ExecCancel,
    }
}

fn os(pairs: &[(String, String)]) -> OsSpec {
    let mut cmd = value(pairs, "KERNEL_CMD").map(str::to_string);
    if let Some(root) = value(pairs, "ROOT") {
        let root = format!("root=/dev/{root}");
        cmd = Some(match cmd {
            Some(c) => format!("{root} {c}"),
            None => root,
        });
    }
    OsSpec {
        kernel: value(pairs, "KERNEL").map(str::to_string),
        initrd: value(pairs, "INITRD").map(str::to_string),
        kernel_cmd: cmd,
        boot: value(pairs, "BOOT").map(str::to_string),
        machine: value(pairs, "MACHINE").map(str::to_string),
        init: value(pairs, "INIT").map(str::to_string),
    }
}

fn disk(state: &State, pairs: &[(String, String)], images_url: Option<&str>) -> DiskSpec {
    let disk_id = value(pairs, "DISK_ID")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let image = value(pairs, "IMAGE_ID")
        .and_then(|v| v.parse().ok())
        .and_then(|id| state.images.get(&id));
    let size: Option<u64> = value(pairs, "SIZE").and_then(|v| v.parse().ok());
    let (source, kind) = match image {
        Some(img) => {
            let original: Option<u64> = value(pairs, "ORIGINAL_SIZE").and_then(|v| v.parse().ok());
            let kind = if img.image_type == ImageType::Cdrom {
                DiskKind::Cdrom
            } else {
                DiskKind::Disk
            };
            (
                DiskSource::Image {
                    image_id: img.meta.id,
                    url: images_url
                        .map(|u| format!("{u}{}{}", nubo_hostapi::images::IMAGES_PATH, img.meta.id))
                        .unwrap_or_default(),
                    path: img.source.clone(),
                    sha256: String::new(),
                    format: value(pairs, "FORMAT").unwrap_or(&img.format).to_string(),
                    persistent: img.persistent,
                },
                (kind, size.filter(|s| original.is_some_and(|o| *s > o))),
            )
        }
        None => (
            DiskSource::Volatile {
                size_mb: size.unwrap_or(0),
                format: value(pairs, "FORMAT").unwrap_or("raw").to_string(),
            },
            (DiskKind::Disk, None),
        ),
    };
    DiskSpec {
        disk_id,
        kind: kind.0,
        source,
        target: value(pairs, "TARGET").unwrap_or_default().to_string(),
        readonly: yes(pairs, "READONLY"),
        size_mb: kind.1,
    }
}

fn nic(state: &State, pairs: &[(String, String)]) -> NicSpec {
    let vnet = value(pairs, "NETWORK_ID")
        .and_then(|v| v.parse().ok())
        .and_then(|id| state.vnets.get(&id));
    let groups = security_groups(pairs);
    let rules = groups
        .iter()
        .filter_map(|id| state.secgroups.get(id))
        .flat_map(|sg| sg.template.vectors("RULE"))
        .filter_map(|r| rule(state, r))
        .collect();
    let vn_mad = value(pairs, "VN_MAD").unwrap_or("bridge").to_string();
    // The network's word wins: a user cannot switch its filters off in a NIC.
    let yes = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case("YES"));
    let flag = |name: &str| yes(vnet.and_then(|n| n.template.get(name))) || yes(value(pairs, name));
    let vlan = vn_mad.eq_ignore_ascii_case("802.1Q") || vn_mad.eq_ignore_ascii_case("vxlan");
    NicSpec {
        nic_id: value(pairs, "NIC_ID")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        mac: value(pairs, "MAC").unwrap_or_default().to_string(),
        ip: value(pairs, "IP").map(str::to_string),
        bridge: value(pairs, "BRIDGE").map(str::to_string),
        vlan_id: value(pairs, "VLAN_ID")
            .and_then(|v| v.parse().ok())
            .or_else(|| vnet.and_then(|n| n.vlan_id.as_deref()?.parse().ok()))
            .filter(|_| vlan),
        phydev: value(pairs, "PHYDEV")
            .map(str::to_string)
            .or_else(|| vnet.map(|n| n.phydev.clone()).filter(|p| !p.is_empty()))
            .filter(|_| vlan),
        vn_mad,
        model: value(pairs, "MODEL").map(str::to_string),
        target: value(pairs, "TARGET").unwrap_or_default().to_string(),
        filtered: !groups.is_empty(),
        rules,
        filter_mac: flag("FILTER_MAC_SPOOFING"),
        filter_ip: flag("FILTER_IP_SPOOFING"),
    }
}

/// The addresses (IPv4 and IPv6) of the NICs in security group `gid` of its live VMs.
fn member_addresses(state: &State, gid: i32) -> Vec<String> {
    let Some(sg) = state.secgroups.get(&gid) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let members = sg
        .updated_vms
        .iter()
        .chain(&sg.outdated_vms)
        .chain(&sg.updating_vms)
        .chain(&sg.error_vms);
    for vm in members.filter_map(|id| state.vms.get(id)) {
        if vm.state == VmState::Done {
            continue;
        }
        for nic in vm.template.vectors("NIC") {
            if !security_groups(nic).contains(&gid) {
                continue;
            }
            for key in ["IP", "IP6", "IP6_GLOBAL", "IP6_ULA"] {
                match value(nic, key).and_then(|v| v.parse::<IpAddr>().ok()) {
                    Some(IpAddr::V4(ip)) => out.push(format!("{ip}/32")),
                    Some(IpAddr::V6(ip)) => out.push(format!("{ip}/128")),
                    None => {}
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The last of `size` (at least 1) addresses from `ip`, within its family. The most SIZE
/// can say (2^32 - 1 or 2^128 - 1 addresses) reaches the family's last address, so that
/// from 0.0.0.0 or :: it is every address.
fn last_address(ip: IpAddr, size: u128) -> IpAddr {
    let (first, max) = match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), u128::from(u32::MAX)),
        IpAddr::V6(a) => (u128::from(a), u128::MAX),
    };
    let last = if size >= max {
        max
    } else {
        first.saturating_add(size - 1).min(max)
    };
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(last).unwrap_or(u32::MAX))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(last)),
    }
}

/// One security group RULE for the host firewall: remote addresses from IP (IPv4 or IPv6)
/// and SIZE, from the IPv4 ranges of NETWORK_ID, or of the VMs in REMOTE_GROUP_ID. A
/// malformed IP matches nothing.
fn rule(state: &State, r: &[(String, String)]) -> Option<FirewallRule> {
    let mut addresses = Vec::new();
    if let Some(ip) = value(r, "IP") {
        let size: u128 = value(r, "SIZE")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        let ip: IpAddr = ip.parse().ok()?;
        addresses.push(format!("{ip}-{}", last_address(ip, size)));
    } else if let Some(gid) = crate::ops::secgroup::remote_group(r) {
        addresses = member_addresses(state, gid);
        if addresses.is_empty() {
            // A group without members lets nobody in, not everybody.
            return None;
        }
    } else if let Some(net) = value(r, "NETWORK_ID")
        .and_then(|v| v.parse().ok())
        .and_then(|id| state.vnets.get(&id))
    {
        for ar in &net.ars {
            if let (Some(first), Some(last)) = (ar.ip_at(0), ar.ip_at(ar.size.saturating_sub(1))) {
                addresses.push(format!("{first}-{last}"));
            }
        }
        if addresses.is_empty() {
            // A network without IPv4 ranges matches nothing, not everything.
            return None;
        }
    }
    Some(FirewallRule {
        direction: value(r, "RULE_TYPE")
            .unwrap_or("inbound")
            .to_ascii_lowercase(),
        protocol: value(r, "PROTOCOL").unwrap_or("ALL").to_ascii_uppercase(),
        addresses,
        ports: value(r, "RANGE").map(str::to_string),
        icmp_type: value(r, "ICMP_TYPE")
            .or_else(|| value(r, "ICMPV6_TYPE"))
            .and_then(|v| v.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn os_root_goes_in_front_of_the_kernel_command_line() {
        let o = os(&pairs(&[
            ("KERNEL", "/k"),
            ("ROOT", "vda"),
            ("KERNEL_CMD", "quiet"),
        ]));
        assert_eq!(o.kernel.as_deref(), Some("/k"));
        assert_eq!(o.kernel_cmd.as_deref(), Some("root=/dev/vda quiet"));
    }

    #[test]
    fn rule_addresses_come_in_either_family_and_bad_ones_match_nothing() {
        let state = State::default();
        let v6 = rule(
            &state,
            &pairs(&[
                ("PROTOCOL", "ICMPV6"),
                ("IP", "2001:db8::1"),
                ("SIZE", "16"),
            ]),
        )
        .expect("a rule");
        assert_eq!(v6.addresses, vec!["2001:db8::1-2001:db8::10".to_string()]);
        assert_eq!(v6.protocol, "ICMPV6");
        let v4 = rule(&state, &pairs(&[("IP", "10.0.0.5"), ("SIZE", "5")])).expect("a rule");
        assert_eq!(v4.addresses, vec!["10.0.0.5-10.0.0.9".to_string()]);
        assert!(rule(&state, &pairs(&[("IP", "not-an-address")])).is_none());
        // The most SIZE can say, from the first address, is every address of the family.
        let all4 = rule(&state, &pairs(&[("IP", "0.0.0.0"), ("SIZE", "4294967295")]));
        assert_eq!(
            all4.expect("a rule").addresses,
            vec!["0.0.0.0-255.255.255.255".to_string()]
        );
        let all6 = rule(
            &state,
            &pairs(&[("IP", "::"), ("SIZE", &u128::MAX.to_string())]),
        );
        assert_eq!(
            all6.expect("a rule").addresses,
            vec!["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".to_string()]
        );
        let net = rule(
            &state,
            &pairs(&[("IP", "2001:db8::"), ("SIZE", "18446744073709551616")]),
        )
        .expect("a /64");
        assert_eq!(
            net.addresses,
            vec!["2001:db8::-2001:db8::ffff:ffff:ffff:ffff".to_string()]
        );
        assert!(
            rule(&state, &pairs(&[("PROTOCOL", "TCP")]))
                .expect("a rule")
                .addresses
                .is_empty()
        );
        // A group with no members (or none at all) lets nobody in.
        assert!(
            rule(
                &state,
                &pairs(&[("PROTOCOL", "TCP"), ("REMOTE_GROUP_ID", "7")])
            )
            .is_none()
        );
    }
}
