//! What a real hypervisor needs to know to run a VM: its boot settings, disks, NICs,
//! contextualization files and console. The core builds a [`VmSpec`] from the VM's template
//! (names and values as OpenNebula's deployment files carry them); drivers that simulate
//! guests never ask for one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything a driver needs to start (or restore) one VM.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VmSpec {
    /// The hypervisor's name of the VM (`one-<id>`).
    pub name: String,
    /// Virtual CPUs.
    pub vcpu: u32,
    /// The share of physical CPUs (CPU), in hundredths (150: 1.5 CPUs); 0 when not given.
    /// Containers get it as their CPU weight.
    #[serde(default)]
    pub cpu_hundredths: i64,
    /// Memory (MB).
    pub memory_mb: u64,
    /// Boot settings (OS section).
    pub os: OsSpec,
    /// Disks, in DISK_ID order.
    pub disks: Vec<DiskSpec>,
    /// NICs, in NIC_ID order.
    pub nics: Vec<NicSpec>,
    /// The contextualization cdrom, when the VM has a CONTEXT.
    pub context: Option<ContextSpec>,
    /// The remote console, when the VM has GRAPHICS.
    pub graphics: Option<GraphicsSpec>,
    /// The VM is being stopped or undeployed: EPILOG keeps its disks and saved memory on
    /// the host for the resume, instead of removing them.
    #[serde(default)]
    pub keep_files: bool,
    /// The in-place change a reconfiguring operation carries out.
    #[serde(default)]
    pub change: Option<Change>,
}

/// An in-place change of a VM (hot-plug, snapshots, resizes), named by the ids in the
/// spec's disks and NICs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// Plug in the disk with this DISK_ID (it is in the spec).
    AttachDisk {
        /// DISK_ID.
        disk_id: i32,
    },
    /// Unplug the disk with this DISK_ID.
    DetachDisk {
        /// DISK_ID.
        disk_id: i32,
    },
    /// Plug in the NIC with this NIC_ID (it is in the spec).
    AttachNic {
        /// NIC_ID.
        nic_id: i32,
    },
    /// Unplug the NIC with this NIC_ID.
    DetachNic {
        /// NIC_ID.
        nic_id: i32,
    },
    /// Apply the NIC's settings (security group rules) again.
    UpdateNic {
        /// NIC_ID.
        nic_id: i32,
    },
    /// Take a snapshot of the whole VM (memory and disks).
    SnapshotCreate {
        /// SNAPSHOT_ID.
        snap_id: i32,
    },
    /// Go back to a VM snapshot.
    SnapshotRevert {
        /// SNAPSHOT_ID.
        snap_id: i32,
    },
    /// Delete a VM snapshot.
    SnapshotDelete {
        /// SNAPSHOT_ID.
        snap_id: i32,
    },
    /// Snapshot one disk.
    DiskSnapshotCreate {
        /// DISK_ID.
        disk_id: i32,
        /// The snapshot's id.
        snap_id: i32,
    },
    /// Take a disk back to a snapshot.
    DiskSnapshotRevert {
        /// DISK_ID.
        disk_id: i32,
        /// The snapshot's id.
        snap_id: i32,
    },
    /// Delete a disk snapshot.
    DiskSnapshotDelete {
        /// DISK_ID.
        disk_id: i32,
        /// The snapshot's id.
        snap_id: i32,
    },
    /// Grow a disk.
    DiskResize {
        /// DISK_ID.
        disk_id: i32,
        /// The new size (MB).
        size_mb: u64,
    },
    /// Copy a disk into a new image.
    DiskSaveas {
        /// DISK_ID.
        disk_id: i32,
        /// The new image's id.
        image_id: i32,
        /// The disk snapshot to save (-1: the disk as it is now).
        #[serde(default = "no_snapshot")]
        snap_id: i32,
        /// Where the host sends the new image's content (empty: the front-end shares
        /// its datastore with the host).
        #[serde(default)]
        url: String,
    },
    /// New CPU and memory (in the spec).
    Resize,
    /// Run a command in the guest.
    Exec(ExecSpec),
    /// Stop the command run in the guest.
    ExecCancel,
}

/// A command to run in a guest (`vm.exec`), as OpenNebula's drivers take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecSpec {
    /// The command line, split into program and arguments as a shell splits words (no
    /// shell runs it).
    pub command: String,
    /// Its standard input, base64.
    pub stdin_b64: String,
}

/// The OS section: direct kernel boot or the disks' boot order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OsSpec {
    /// A kernel file on the host (OS/KERNEL), for direct kernel boot.
    pub kernel: Option<String>,
    /// An initrd file on the host (OS/INITRD).
    pub initrd: Option<String>,
    /// The kernel command line (OS/KERNEL_CMD, plus `root=` from OS/ROOT).
    pub kernel_cmd: Option<String>,
    /// Boot order (OS/BOOT), e.g. `disk0,nic0`.
    pub boot: Option<String>,
    /// QEMU machine type (OS/MACHINE), e.g. `q35` or `pc`.
    pub machine: Option<String>,
    /// A container's first process (OS/INIT), a command line run by `/bin/sh -c`; without
    /// it a container runs its root filesystem's `/sbin/init`.
    #[serde(default)]
    pub init: Option<String>,
}

/// What kind of device a disk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DiskKind {
    /// A block device (virtio).
    #[default]
    Disk,
    /// A read-only cdrom.
    Cdrom,
}

/// Where a disk's contents come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DiskSource {
    /// An image of the front-end's datastore: the host fetches it (by URL, checked
    /// against the checksum) unless it already has it.
    Image {
        /// The image's id.
        image_id: i32,
        /// Where the host can fetch the image (empty when the file is reachable as
        /// `path` on the host, e.g. on the front-end itself).
        url: String,
        /// The image's path on the front-end.
        path: String,
        /// SHA-256 of the image file, hex (empty when not known).
        sha256: String,
        /// The image's format (`qcow2`, `raw`).
        format: String,
        /// Persistent: the VM writes the image itself; otherwise it writes a copy-on-write
        /// overlay that goes away with the VM.
        persistent: bool,
    },
    /// A volatile disk made empty on the host.
    Volatile {
        /// Size (MB).
        size_mb: u64,
        /// `raw` or `qcow2`.
        format: String,
    },
}

/// One disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskSpec {
    /// DISK_ID.
    pub disk_id: i32,
    /// Disk or cdrom.
    pub kind: DiskKind,
    /// Where its contents come from.
    pub source: DiskSource,
    /// The guest's device name (TARGET), e.g. `vda`.
    pub target: String,
    /// Read-only.
    pub readonly: bool,
    /// Size the disk should have (MB), when it should be larger than its image.
    pub size_mb: Option<u64>,
}

/// One NIC.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NicSpec {
    /// NIC_ID.
    pub nic_id: i32,
    /// MAC address.
    pub mac: String,
    /// IPv4 address of the lease, if any.
    pub ip: Option<String>,
    /// Linux bridge the tap joins (BRIDGE); none means user-mode networking.
    pub bridge: Option<String>,
    /// Network driver (VN_MAD): `bridge`, `802.1Q`, `dummy`, …
    pub vn_mad: String,
    /// VLAN_ID: the 802.1Q tag for `802.1Q` networks, the VNI for `vxlan` ones.
    pub vlan_id: Option<u16>,
    /// Physical device the VLAN rides on (PHYDEV).
    pub phydev: Option<String>,
    /// Device model (MODEL), default `virtio`.
    pub model: Option<String>,
    /// The host's name of the tap (TARGET), e.g. `one-7-0`.
    pub target: String,
    /// Whether security groups filter this NIC's traffic (then only what `rules` allow
    /// passes, besides answers to allowed traffic).
    #[serde(default)]
    pub filtered: bool,
    /// Security group rules that apply to this NIC's traffic.
    pub rules: Vec<FirewallRule>,
    /// Only frames from the NIC's own MAC may leave it (FILTER_MAC_SPOOFING).
    #[serde(default)]
    pub filter_mac: bool,
    /// Only IPv4 packets and ARP from the NIC's lease may leave it (FILTER_IP_SPOOFING).
    #[serde(default)]
    pub filter_ip: bool,
}

/// One security group rule, as the host firewall applies it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FirewallRule {
    /// `inbound` (to the VM) or `outbound` (from it).
    pub direction: String,
    /// `ALL`, `TCP`, `UDP`, `ICMP`, `ICMPV6` or `IPSEC`.
    pub protocol: String,
    /// Remote IPv4 addresses: CIDRs (`10.0.0.0/24`) or ranges (`10.0.0.5-10.0.0.9`); none
    /// means any.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Ports: `22`, `22,80`, `1000:2000`; none means any.
    pub ports: Option<String>,
    /// ICMP type, for ICMP rules.
    #[serde(default)]
    pub icmp_type: Option<u8>,
}

/// The contextualization cdrom: file name → contents. The OpenNebula form carries
/// `context.sh`; a cloud-init NoCloud seed carries `meta-data`, `user-data` and
/// `network-config`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContextSpec {
    /// The volume label: `CONTEXT` or `cidata`.
    pub label: String,
    /// Files on the cdrom.
    pub files: BTreeMap<String, String>,
    /// The cdrom's guest device name (TARGET of the context).
    pub target: String,
}

/// The remote console.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GraphicsSpec {
    /// `VNC`.
    pub kind: String,
    /// Address to listen on.
    pub listen: String,
    /// TCP port (5900 + display); none lets the driver choose.
    pub port: Option<u16>,
}

fn no_snapshot() -> i32 {
    -1
}
