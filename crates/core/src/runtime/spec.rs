//! The description a real hypervisor gets of a VM ([`VmSpec`]), built from the VM's
//! template as the core filled it in: OS boot settings, DISKs (images by their source
//! path, volatile disks by size), NICs (leases, bridge, VLAN), the CONTEXT cdrom in
//! OpenNebula's `context.sh` form, and GRAPHICS.

use nubo_driver::{
    Change, ContextSpec, DiskKind, DiskSource, DiskSpec, GraphicsSpec, NicSpec, OsSpec, VmSpec,
};
use nubo_types::states::{ImageType, LcmState};

use crate::model::{PendingChange, Vm};
use crate::state::State;

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn yes(pairs: &[(String, String)], key: &str) -> bool {
    get(pairs, key).is_some_and(|v| v.eq_ignore_ascii_case("yes"))
}

/// The spec of `vm`; image files are fetched from `images_url` (the host agents' API of
/// this front-end) when given.
pub(crate) fn build(state: &State, vm: &Vm, images_url: Option<&str>) -> VmSpec {
    let t = &vm.template;
    let nics: Vec<NicSpec> = t.vectors("NIC").map(nic).collect();
    VmSpec {
        name: format!("one-{}", vm.meta.id),
        vcpu: vm.vcpu.max(1),
        memory_mb: u64::try_from(vm.memory_mb).unwrap_or(0),
        os: t.vectors("OS").next().map(os).unwrap_or_default(),
        disks: t
            .vectors("DISK")
            .map(|d| disk(state, d, images_url))
            .collect(),
        context: t
            .vectors("CONTEXT")
            .next()
            .map(|c| context(c, t.vectors("NIC"), vm.template.vectors("DISK").count())),
        graphics: t.vectors("GRAPHICS").next().map(|g| GraphicsSpec {
            kind: get(g, "TYPE").unwrap_or("VNC").to_ascii_uppercase(),
            listen: get(g, "LISTEN").unwrap_or("127.0.0.1").to_string(),
            port: get(g, "PORT")
                .and_then(|p| p.parse().ok())
                .or_else(|| u16::try_from(5900 + vm.meta.id).ok()),
        }),
        nics,
        keep_files: matches!(
            vm.lcm_state,
            LcmState::EpilogStop | LcmState::EpilogUndeploy
        ),
        change: vm.pending.as_ref().map(|p| change(vm, p)),
    }
}

/// The driver's view of the change a VM waits for.
fn change(vm: &Vm, pending: &PendingChange) -> Change {
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
                .find(|d| get(d, "DISK_ID").and_then(|v| v.parse().ok()) == Some(*disk_id))
                .and_then(|d| get(d, "SIZE"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        },
        P::DiskSaveas { disk_id, image_id } => Change::DiskSaveas {
            disk_id: *disk_id,
            image_id: *image_id,
        },
        P::Resize { .. } => Change::Resize,
    }
}

fn os(pairs: &[(String, String)]) -> OsSpec {
    let mut cmd = get(pairs, "KERNEL_CMD").map(str::to_string);
    if let Some(root) = get(pairs, "ROOT") {
        let root = format!("root=/dev/{root}");
        cmd = Some(match cmd {
            Some(c) => format!("{root} {c}"),
            None => root,
        });
    }
    OsSpec {
        kernel: get(pairs, "KERNEL").map(str::to_string),
        initrd: get(pairs, "INITRD").map(str::to_string),
        kernel_cmd: cmd,
        boot: get(pairs, "BOOT").map(str::to_string),
        machine: get(pairs, "MACHINE").map(str::to_string),
    }
}

fn disk(state: &State, pairs: &[(String, String)], images_url: Option<&str>) -> DiskSpec {
    let disk_id = get(pairs, "DISK_ID")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let image = get(pairs, "IMAGE_ID")
        .and_then(|v| v.parse().ok())
        .and_then(|id| state.images.get(&id));
    let size: Option<u64> = get(pairs, "SIZE").and_then(|v| v.parse().ok());
    let (source, kind) = match image {
        Some(img) => {
            let original: Option<u64> = get(pairs, "ORIGINAL_SIZE").and_then(|v| v.parse().ok());
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
                    format: get(pairs, "FORMAT").unwrap_or(&img.format).to_string(),
                    persistent: img.persistent,
                },
                (kind, size.filter(|s| original.is_some_and(|o| *s > o))),
            )
        }
        None => (
            DiskSource::Volatile {
                size_mb: size.unwrap_or(0),
                format: get(pairs, "FORMAT").unwrap_or("raw").to_string(),
            },
            (DiskKind::Disk, None),
        ),
    };
    DiskSpec {
        disk_id,
        kind: kind.0,
        source,
        target: get(pairs, "TARGET").unwrap_or_default().to_string(),
        readonly: yes(pairs, "READONLY"),
        size_mb: kind.1,
    }
}

fn nic(pairs: &[(String, String)]) -> NicSpec {
    NicSpec {
        nic_id: get(pairs, "NIC_ID")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        mac: get(pairs, "MAC").unwrap_or_default().to_string(),
        ip: get(pairs, "IP").map(str::to_string),
        bridge: get(pairs, "BRIDGE").map(str::to_string),
        vn_mad: get(pairs, "VN_MAD").unwrap_or("bridge").to_string(),
        vlan_id: get(pairs, "VLAN_ID").and_then(|v| v.parse().ok()),
        phydev: get(pairs, "PHYDEV").map(str::to_string),
        model: get(pairs, "MODEL").map(str::to_string),
        target: get(pairs, "TARGET").unwrap_or_default().to_string(),
        rules: Vec::new(),
    }
}

/// Context attributes that steer contextualization rather than reach the guest.
const CONTROL: &[&str] = &["NETWORK", "TARGET", "FILES_DS", "FILES", "TOKEN"];

/// Quotes a value for `context.sh` (single quotes; a quote inside becomes `'\''`).
fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

fn context<'a>(
    ctx: &[(String, String)],
    nics: impl Iterator<Item = &'a [(String, String)]>,
    disks: usize,
) -> ContextSpec {
    let mut text = String::from("# Context variables generated by Nubo\n");
    for (k, v) in ctx {
        let key = k.to_ascii_uppercase();
        if CONTROL.contains(&key.as_str()) {
            continue;
        }
        text.push_str(&format!("{key}={}\n", quote(v)));
    }
    if yes(ctx, "NETWORK") {
        for nic in nics {
            let id = get(nic, "NIC_ID").unwrap_or("0");
            for (ctx_key, nic_key) in [
                ("MAC", "MAC"),
                ("IP", "IP"),
                ("MASK", "NETWORK_MASK"),
                ("NETWORK", "NETWORK_ADDRESS"),
                ("GATEWAY", "GATEWAY"),
                ("DNS", "DNS"),
                ("MTU", "MTU"),
                ("VLAN_ID", "VLAN_ID"),
                ("IP6", "IP6"),
            ] {
                if let Some(v) = get(nic, nic_key) {
                    text.push_str(&format!("ETH{id}_{ctx_key}={}\n", quote(v)));
                }
            }
        }
    }
    let target = get(ctx, "TARGET").map(str::to_string).unwrap_or_else(|| {
        let letter = char::from(b'a' + u8::try_from(disks.min(25)).unwrap_or(0));
        format!("hd{letter}")
    });
    ContextSpec {
        label: "CONTEXT".into(),
        files: [("context.sh".to_string(), text)].into_iter().collect(),
        target,
    }
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
    fn context_sh_carries_the_variables_and_each_nic_when_network_is_yes() {
        let ctx = pairs(&[
            ("NETWORK", "YES"),
            ("SSH_PUBLIC_KEY", "ssh-ed25519 AAAA it's-me"),
            ("HOSTNAME", "web1"),
        ]);
        let nic = pairs(&[
            ("NIC_ID", "0"),
            ("MAC", "02:00:0a:00:00:02"),
            ("IP", "10.0.0.2"),
            ("NETWORK_MASK", "255.255.255.0"),
            ("GATEWAY", "10.0.0.1"),
        ]);
        let spec = context(&ctx, [nic.as_slice()].into_iter(), 1);
        let text = &spec.files["context.sh"];
        assert!(
            text.contains("SSH_PUBLIC_KEY='ssh-ed25519 AAAA it'\\''s-me'\n"),
            "{text}"
        );
        assert!(text.contains("HOSTNAME='web1'\n"));
        assert!(text.contains(
            "ETH0_MAC='02:00:0a:00:00:02'\nETH0_IP='10.0.0.2'\nETH0_MASK='255.255.255.0'\n"
        ));
        assert!(text.contains("ETH0_GATEWAY='10.0.0.1'\n"));
        assert!(!text.contains("NETWORK='YES'"));
        assert_eq!(spec.target, "hdb");
        let quiet = context(&pairs(&[("A", "1")]), [nic.as_slice()].into_iter(), 0);
        assert!(!quiet.files["context.sh"].contains("ETH0"));
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
}
