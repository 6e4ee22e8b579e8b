//! The QEMU command line of a VM, built from its spec, its files and the disks prepared for
//! it. Every device gets a stable id (`disk<N>`, `nic<N>`), so QMP can address it later, and
//! a few free PCIe root ports are left for hot-plug.

use nubo_driver::{DiskKind, VmSpec};

use crate::accel::Accel;
use crate::layout::VmDir;

/// Disks with DISK_ID below this get a PCIe root port of their own (port `1 + DISK_ID`).
pub const DISK_PORTS: i32 = 16;
/// NICs with NIC_ID below this get a PCIe root port of their own (port `17 + NIC_ID`).
pub const NIC_PORTS: i32 = 8;

/// The root port of disk `disk_id` on q35 (the same whether it was there at boot or
/// plugged in later, so both ends of a migration build the same machine).
pub fn disk_port(disk_id: i32) -> Option<String> {
    (0..DISK_PORTS)
        .contains(&disk_id)
        .then(|| format!("rp{}", 1 + disk_id))
}

/// The root port of NIC `nic_id` on q35.
pub fn nic_port(nic_id: i32) -> Option<String> {
    (0..NIC_PORTS)
        .contains(&nic_id)
        .then(|| format!("rp{}", 1 + DISK_PORTS + nic_id))
}

/// A disk ready for QEMU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedDisk {
    /// DISK_ID.
    pub disk_id: i32,
    /// The file QEMU opens.
    pub path: String,
    /// Its format.
    pub format: String,
    /// Disk or cdrom.
    pub kind: DiskKind,
    /// Read-only.
    pub readonly: bool,
}

/// Where a VM's memory comes from at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A fresh boot.
    Boot,
    /// A file written by a save (`file:` URI).
    File(String),
    /// A live migration arriving on this TCP address.
    Tcp(String),
}

/// Settings that come from the driver, not the VM.
#[derive(Debug, Clone)]
pub struct Machine<'a> {
    /// The acceleration.
    pub accel: Accel,
    /// TCG translation cache size (MB).
    pub tcg_tb_size_mb: u32,
    /// The VM's files.
    pub dir: &'a VmDir,
}

/// The arguments after the program name.
pub fn build(
    spec: &VmSpec,
    machine: &Machine<'_>,
    disks: &[PreparedDisk],
    context_iso: Option<&str>,
    incoming: &Incoming,
) -> Vec<String> {
    let dir = machine.dir;
    let mut a: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
    let accel = match machine.accel {
        Accel::Kvm => "kvm".to_string(),
        Accel::Tcg => format!("tcg,tb-size={}", machine.tcg_tb_size_mb),
    };
    let cpu = match machine.accel {
        Accel::Kvm => "host",
        Accel::Tcg => "max",
    };
    let kind = spec.os.machine.clone().unwrap_or_else(|| "q35".into());
    push(&["-name", &format!("guest={},debug-threads=on", spec.name)]);
    push(&["-accel", &accel, "-cpu", cpu, "-machine", &kind]);
    push(&["-m", &format!("{}M", spec.memory_mb.max(16))]);
    push(&["-smp", &spec.vcpu.max(1).to_string()]);
    // -no-shutdown: when the guest powers off, QEMU stays (in "shutdown") so the agent can
    // tell a guest that powered off from a QEMU that died.
    push(&[
        "-nodefaults",
        "-no-user-config",
        "-daemonize",
        "-no-shutdown",
    ]);
    push(&["-pidfile", &dir.pid().display().to_string()]);
    push(&[
        "-chardev",
        &format!(
            "socket,id=serial0,path={},server=on,wait=off,logfile={},logappend=on",
            dir.serial().display(),
            dir.serial_log().display()
        ),
        "-serial",
        "chardev:serial0",
    ]);
    push(&[
        "-qmp",
        &format!("unix:{},server=on,wait=off", dir.qmp().display()),
    ]);
    match &spec.graphics {
        Some(g) if g.kind.eq_ignore_ascii_case("VNC") => {
            let display = g.port.map_or(0, |p| p.saturating_sub(5900));
            let listen = if g.listen.is_empty() {
                "127.0.0.1"
            } else {
                g.listen.as_str()
            };
            push(&["-vga", "std", "-vnc", &format!("{listen}:{display}")]);
        }
        _ => push(&["-display", "none"]),
    }
    if let Some(kernel) = &spec.os.kernel {
        push(&["-kernel", kernel]);
        if let Some(initrd) = &spec.os.initrd {
            push(&["-initrd", initrd]);
        }
        if let Some(cmd) = &spec.os.kernel_cmd {
            push(&["-append", cmd]);
        }
    }
    // On q35 every disk and NIC sits on a root port of its own, fixed by its id, so it can
    // be unplugged, and ports wait for the ones plugged in later.
    let pcie = kind.starts_with("q35") || kind.starts_with("pc-q35");
    if pcie {
        for n in 1..=DISK_PORTS + NIC_PORTS {
            push(&[
                "-device",
                &format!("pcie-root-port,id=rp{n},chassis={n},slot={n}"),
            ]);
        }
    }
    let on = |port: Option<String>| match port {
        Some(p) if pcie => format!(",bus={p}"),
        _ => String::new(),
    };
    // Always there, so cdroms can be plugged in and both ends of a migration match.
    push(&["-device", "virtio-scsi-pci,id=scsi0"]);
    for (boot_index, d) in (1..).zip(disks.iter()) {
        let node = format!("d{}", d.disk_id);
        let readonly = d.readonly || d.kind == DiskKind::Cdrom;
        push(&[
            "-blockdev",
            &format!(
                "driver=file,filename={},node-name={node}f,read-only={}",
                d.path,
                on_off(readonly)
            ),
            "-blockdev",
            &format!(
                "driver={},file={node}f,node-name={node},read-only={}",
                d.format,
                on_off(readonly)
            ),
        ]);
        let device = match d.kind {
            DiskKind::Disk => format!(
                "virtio-blk-pci,drive={node},id=disk{},bootindex={boot_index}{}",
                d.disk_id,
                on(disk_port(d.disk_id))
            ),
            DiskKind::Cdrom => format!(
                "scsi-cd,drive={node},id=disk{},bus=scsi0.0,bootindex={boot_index}",
                d.disk_id
            ),
        };
        push(&["-device", &device]);
    }
    if let Some(iso) = context_iso {
        push(&[
            "-blockdev",
            &format!("driver=file,filename={iso},node-name=ctxf,read-only=on"),
            "-blockdev",
            "driver=raw,file=ctxf,node-name=ctx,read-only=on",
            "-device",
            "scsi-cd,drive=ctx,id=context,bus=scsi0.0",
        ]);
    }
    for nic in &spec.nics {
        let netdev = match &nic.bridge {
            Some(_) => format!(
                "tap,id=n{},ifname={},script=no,downscript=no",
                nic.nic_id, nic.target
            ),
            None => format!("user,id=n{}", nic.nic_id),
        };
        let model = match nic.model.as_deref() {
            None | Some("virtio") | Some("") => "virtio-net-pci",
            Some(other) => other,
        };
        push(&[
            "-netdev",
            &netdev,
            "-device",
            &format!(
                "{model},netdev=n{},mac={},id=nic{}{}",
                nic.nic_id,
                nic.mac,
                nic.nic_id,
                on(nic_port(nic.nic_id))
            ),
        ]);
    }
    match incoming {
        Incoming::Boot => {}
        Incoming::File(path) => push(&["-incoming", &format!("file:{path}")]),
        Incoming::Tcp(addr) => push(&["-incoming", &format!("tcp:{addr}")]),
    }
    a
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_driver::{NicSpec, OsSpec};
    use std::path::Path;

    fn spec() -> VmSpec {
        VmSpec {
            name: "one-7".into(),
            vcpu: 2,
            memory_mb: 128,
            os: OsSpec {
                kernel: Some("/k".into()),
                initrd: Some("/i".into()),
                kernel_cmd: Some("console=ttyS0".into()),
                ..OsSpec::default()
            },
            nics: vec![NicSpec {
                nic_id: 0,
                mac: "02:00:0a:00:00:02".into(),
                bridge: Some("br0".into()),
                target: "one-7-0".into(),
                ..NicSpec::default()
            }],
            ..VmSpec::default()
        }
    }

    #[test]
    fn a_tcg_guest_boots_its_kernel_with_disks_context_and_a_tap() {
        let dir = VmDir::new(Path::new("/var/lib/nubo-hostd"), 7);
        let m = Machine {
            accel: Accel::Tcg,
            tcg_tb_size_mb: 32,
            dir: &dir,
        };
        let disks = [PreparedDisk {
            disk_id: 0,
            path: "/x/disk.0".into(),
            format: "qcow2".into(),
            kind: DiskKind::Disk,
            readonly: false,
        }];
        let a = build(&spec(), &m, &disks, Some("/x/context.iso"), &Incoming::Boot).join(" ");
        for part in [
            "-accel tcg,tb-size=32 -cpu max -machine q35",
            "-m 128M -smp 2",
            "-kernel /k -initrd /i -append console=ttyS0",
            "-pidfile /var/lib/nubo-hostd/vms/7/qemu.pid",
            "driver=qcow2,file=d0f,node-name=d0,read-only=off",
            "virtio-blk-pci,drive=d0,id=disk0,bootindex=1,bus=rp1",
            "scsi-cd,drive=ctx,id=context,bus=scsi0.0",
            "tap,id=n0,ifname=one-7-0,script=no,downscript=no",
            "virtio-net-pci,netdev=n0,mac=02:00:0a:00:00:02,id=nic0,bus=rp17",
            "pcie-root-port,id=rp24,chassis=24,slot=24",
            "-display none",
        ] {
            assert!(a.contains(part), "{part} missing from {a}");
        }
        assert!(!a.contains("-incoming") && !a.contains("id=rp25,"));
    }

    #[test]
    fn a_restore_and_a_migration_wait_for_incoming_memory() {
        let dir = VmDir::new(Path::new("/s"), 1);
        let m = Machine {
            accel: Accel::Kvm,
            tcg_tb_size_mb: 32,
            dir: &dir,
        };
        let file = build(&spec(), &m, &[], None, &Incoming::File("/s/m".into())).join(" ");
        assert!(file.contains("-accel kvm -cpu host") && file.ends_with("-incoming file:/s/m"));
        let tcp = build(
            &spec(),
            &m,
            &[],
            None,
            &Incoming::Tcp("0.0.0.0:4000".into()),
        )
        .join(" ");
        assert!(tcp.ends_with("-incoming tcp:0.0.0.0:4000"));
    }
}
