//! RunInstances' `BlockDeviceMapping.N`: the root disk's size, blank disks (volatile, or
//! new volumes kept after termination), disks made from snapshots, and `NoDevice` to leave
//! out one of the instance type's disks. A mapping replaces the type's disk on the same
//! device; device names map to virtio targets as in AttachVolume.

use std::collections::HashSet;

use nubo_core::model::Image;
use nubo_core::ops::address_range::value;
use nubo_core::ops::vm::target_name;

use crate::error::{Ec2Error, Ec2Result};
use crate::ids::IMAGE;
use crate::params::Params;

use super::super::volumes::{self, DEVICE, gib};
use super::super::{Ctx, snapshots};

/// Pairs of one DISK vector.
type Pairs = Vec<(String, String)>;

/// The disks of each instance a RunInstances launches.
#[derive(Debug, Default)]
pub struct Layout {
    /// MB the root disk (the image) is grown to.
    pub root_size_mb: Option<i64>,
    /// The disks after the root, in order.
    pub disks: Vec<Disk>,
}

/// One disk after the root.
#[derive(Debug, Clone)]
pub enum Disk {
    /// The same DISK for every instance (deleted with it).
    Fixed(Pairs),
    /// A new empty volume for each instance, kept after termination.
    Volume {
        size_gib: i64,
        volume_type: String,
        target: String,
        device: String,
    },
}

impl Layout {
    /// How many volumes each instance needs made.
    pub fn volumes_per_instance(&self) -> usize {
        self.disks
            .iter()
            .filter(|d| matches!(d, Disk::Volume { .. }))
            .count()
    }

    /// The DISK vectors after the root of one instance, given the volumes made for it.
    pub fn disks_with(&self, volumes: &[i32]) -> Vec<Pairs> {
        let mut made = volumes.iter();
        self.disks
            .iter()
            .filter_map(|d| match d {
                Disk::Fixed(pairs) => Some(pairs.clone()),
                Disk::Volume { target, device, .. } => made.next().map(|id| {
                    pairs(&[
                        ("IMAGE_ID", id.to_string()),
                        ("TARGET", target.clone()),
                        (DEVICE, device.clone()),
                    ])
                }),
            })
            .collect()
    }
}

fn pairs(list: &[(&str, String)]) -> Pairs {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// `InvalidBlockDeviceMapping` with `message`.
fn invalid(message: impl Into<String>) -> Ec2Error {
    Ec2Error::client("InvalidBlockDeviceMapping", message)
}

/// `Unsupported` with `message`.
fn unsupported(message: impl Into<String>) -> Ec2Error {
    Ec2Error::client("Unsupported", message)
}

/// Whether `device` names the root disk (`/dev/vda`, `/dev/sda`, `/dev/xvda`, or one of
/// them with a partition number, as images on EC2 name their root `/dev/sda1`).
fn is_root(device: &str) -> bool {
    let name = device.trim_end_matches(|c: char| c.is_ascii_digit());
    volumes::target_of(name).is_ok_and(|t| t == "vda")
}

/// The disks of `image` launched as an instance of a type whose disks after the first are
/// `type_disks`, as the request's mappings change them.
pub fn layout(ctx: &Ctx, p: &Params, image: &Image, type_disks: Vec<Pairs>) -> Ec2Result<Layout> {
    // Each disk keyed by its virtio name (a type's `sdb` or `hdb` is `vdb` too).
    let mut disks: Vec<(String, Disk)> = type_disks
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            let target = value(&d, "TARGET")
                .map(str::to_string)
                .unwrap_or_else(|| target_name(value(&d, "DEV_PREFIX").unwrap_or("vd"), i + 1));
            d.retain(|(k, _)| !k.eq_ignore_ascii_case("TARGET"));
            d.push(("TARGET".into(), target.clone()));
            (virtio_name(&target), Disk::Fixed(d))
        })
        .collect();
    let mut root_size_mb = None;
    let mut seen = HashSet::new();
    for m in p.structs("BlockDeviceMapping") {
        let device = m
            .required("DeviceName")
            .map_err(|_| Ec2Error::missing("BlockDeviceMapping.N.DeviceName"))?;
        let root = is_root(device);
        let target = if root {
            "vda".to_string()
        } else {
            volumes::target_of(device).map_err(|_| {
                Ec2Error::invalid(
                    "BlockDeviceMapping.N.DeviceName",
                    device,
                    "Use a name like /dev/sdf or /dev/xvdf.",
                )
            })?
        };
        if !seen.insert(target.clone()) {
            return Err(invalid(format!(
                "The device {device} is mapped more than once"
            )));
        }
        if m.get("VirtualName").is_some_and(|v| !v.is_empty()) {
            return Err(unsupported(
                "Instance store volumes (VirtualName) are not offered; map an Ebs volume instead",
            ));
        }
        let no_device = m.get("NoDevice").is_some();
        let size = m.int("Ebs.VolumeSize")?;
        let snapshot = m.get("Ebs.SnapshotId").filter(|s| !s.is_empty());
        let keep = m.bool("Ebs.DeleteOnTermination")? == Some(false);
        if m.bool("Ebs.Encrypted")? == Some(true) {
            return Err(unsupported("Encrypted volumes are not offered"));
        }
        if let Some(s) = size {
            volumes::check_size("BlockDeviceMapping.N.Ebs.VolumeSize", s)?;
        }
        if root {
            if no_device {
                return Err(invalid("The root device cannot be left out"));
            }
            if snapshot.is_some() {
                return Err(invalid(
                    "The root device is made from the image and cannot come from a snapshot",
                ));
            }
            if keep {
                return Err(unsupported(
                    "The root disk is deleted with its instance; keep data on a volume mapped \
                     to another device",
                ));
            }
            if let Some(s) = size {
                if s < gib(image.size) {
                    return Err(invalid(format!(
                        "Volume of size {s} GiB is smaller than the image {} ({} GiB)",
                        IMAGE.id(image.meta.id),
                        gib(image.size)
                    )));
                }
                root_size_mb = Some(s * 1024);
            }
            continue;
        }
        disks.retain(|(t, _)| *t != target);
        if no_device {
            continue;
        }
        let disk = match snapshot {
            Some(snap_text) => {
                let snap = snapshots::completed(ctx, snap_text)?;
                if keep {
                    return Err(unsupported(
                        "A disk made from a snapshot at launch is deleted with its instance; \
                         create a volume from the snapshot and attach it to keep it",
                    ));
                }
                let mut d = pairs(&[
                    ("IMAGE_ID", snap.meta.id.to_string()),
                    ("TARGET", target.clone()),
                    (DEVICE, device.to_string()),
                ]);
                if let Some(s) = size {
                    if let Some(why) = snapshots::too_small(s, &snap, snap_text) {
                        return Err(invalid(why));
                    }
                    d.push(("SIZE".into(), (s * 1024).to_string()));
                }
                Disk::Fixed(d)
            }
            None => {
                let size_gib = size.ok_or_else(|| {
                    invalid(format!(
                        "The mapping of {device} needs Ebs.VolumeSize, Ebs.SnapshotId or NoDevice"
                    ))
                })?;
                if keep {
                    Disk::Volume {
                        size_gib,
                        volume_type: m.get("Ebs.VolumeType").unwrap_or("standard").to_string(),
                        target: target.clone(),
                        device: device.to_string(),
                    }
                } else {
                    Disk::Fixed(pairs(&[
                        ("TYPE", "fs".to_string()),
                        ("FORMAT", "raw".to_string()),
                        ("SIZE", (size_gib * 1024).to_string()),
                        ("TARGET", target.clone()),
                        (DEVICE, device.to_string()),
                    ]))
                }
            }
        };
        disks.push((target, disk));
    }
    // The guest names its disks in the order they are plugged: in target order, the
    // names it sees match the mapped devices' as long as no letter is skipped.
    disks.sort_by(|(a, _), (b, _)| (a.len(), a).cmp(&(b.len(), b)));
    Ok(Layout {
        root_size_mb,
        disks: disks.into_iter().map(|(_, d)| d).collect(),
    })
}

/// The virtio name (`vdb`) of a target with any prefix (`sdb`, `hdb`, `xvdb`).
fn virtio_name(target: &str) -> String {
    volumes::target_of(target).unwrap_or_else(|_| target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_devices_are_recognised_in_every_spelling() {
        for root in ["/dev/vda", "/dev/sda1", "/dev/xvda", "/dev/sda", "vda"] {
            assert!(is_root(root), "{root}");
        }
        for other in ["/dev/sdb", "/dev/xvdf", "/dev/sdaa", "/dev/nvme0n1"] {
            assert!(!is_root(other), "{other}");
        }
    }

    #[test]
    fn type_disks_of_any_prefix_are_keyed_by_their_virtio_name() {
        assert_eq!(virtio_name("sdb"), "vdb");
        assert_eq!(virtio_name("hdc"), "vdc");
        assert_eq!(virtio_name("vdd"), "vdd");
    }

    #[test]
    fn targets_are_named_like_the_core_names_them() {
        assert_eq!(target_name("vd", 1), "vdb");
        assert_eq!(target_name("vd", 25), "vdz");
        assert_eq!(target_name("sd", 26), "sdaa");
    }

    #[test]
    fn each_instance_gets_its_own_volumes_in_place() {
        let layout = Layout {
            root_size_mb: None,
            disks: vec![
                Disk::Fixed(pairs(&[("SIZE", "1024".into())])),
                Disk::Volume {
                    size_gib: 1,
                    volume_type: "gp3".into(),
                    target: "vdc".into(),
                    device: "/dev/sdc".into(),
                },
            ],
        };
        assert_eq!(layout.volumes_per_instance(), 1);
        let disks = layout.disks_with(&[42]);
        assert_eq!(disks.len(), 2);
        assert_eq!(value(&disks[1], "IMAGE_ID"), Some("42"));
        assert_eq!(value(&disks[1], "TARGET"), Some("vdc"));
        assert_eq!(value(&disks[1], DEVICE), Some("/dev/sdc"));
    }
}
