//! A disk image registered in a datastore.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{
    ObjectKind, Oid,
    states::{DiskType, ImageState, ImageType},
};
use serde::{Deserialize, Serialize};

use super::{Meta, owned_object};

/// An image (`IMAGE` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Id, name, owner, permissions, lock.
    pub meta: Meta,
    /// Image type.
    pub image_type: ImageType,
    /// Disk type.
    pub disk_type: DiskType,
    /// Persistent images serve one VM at a time and keep its changes.
    pub persistent: bool,
    /// Registration time (epoch seconds).
    pub regtime: i64,
    /// Last modification time (epoch seconds).
    pub modtime: i64,
    /// Where the datastore keeps it.
    pub source: String,
    /// Where it was imported from.
    pub path: String,
    /// Disk format (`raw`, `qcow2`, ...).
    pub format: String,
    /// File system to create on an empty datablock.
    pub fs: String,
    /// Size in MB.
    pub size: i64,
    /// State.
    pub state: ImageState,
    /// Previous state.
    pub prev_state: ImageState,
    /// VMs using it.
    pub running_vms: i64,
    /// Clones being made of it.
    pub cloning_ops: i64,
    /// The image it is being cloned from (-1 if none).
    pub cloning_id: Oid,
    /// Snapshot being operated on (-1 if none).
    pub target_snapshot: Oid,
    /// Datastore id.
    pub datastore_id: Oid,
    /// Datastore name.
    pub datastore: String,
    /// VMs using it.
    pub vms: BTreeSet<Oid>,
    /// Images cloned from it.
    pub clones: BTreeSet<Oid>,
    /// Marketplace apps made from it.
    pub app_clones: BTreeSet<Oid>,
    /// Image template.
    pub template: Template,
    /// Disk snapshots.
    pub snapshots: Vec<ImageSnapshot>,
}

/// A disk snapshot of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSnapshot {
    /// Snapshot id.
    pub id: Oid,
    /// Its name.
    pub name: String,
    /// Creation time.
    pub date: i64,
    /// Parent snapshot (-1 for none).
    pub parent: Oid,
    /// Size in MB.
    pub size: i64,
    /// Whether it is the active one.
    pub active: bool,
}

owned_object!(Image, ObjectKind::Image, images);
