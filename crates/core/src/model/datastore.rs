//! A datastore: where images (or running VMs' disks, or files) are kept, and its capacity.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{
    ObjectKind, Oid,
    states::{DatastoreState, DatastoreType, DiskType},
};
use serde::{Deserialize, Serialize};

use super::{Meta, owned_object};

/// A datastore (`DATASTORE` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datastore {
    /// Id, name, owner, permissions.
    pub meta: Meta,
    /// Datastore driver (`fs`, `dummy`, ...).
    pub ds_mad: String,
    /// Transfer driver (`qcow2`, `ssh`, `shared`, `dummy`, ...).
    pub tm_mad: String,
    /// Where its files live on the front-end.
    pub base_path: String,
    /// Kind of datastore.
    pub ds_type: DatastoreType,
    /// Disk type of its images.
    pub disk_type: DiskType,
    /// State.
    pub state: DatastoreState,
    /// Clusters it belongs to.
    pub clusters: BTreeSet<Oid>,
    /// Capacity (MB).
    pub total_mb: i64,
    /// Free space (MB).
    pub free_mb: i64,
    /// Used space (MB).
    pub used_mb: i64,
    /// Images it holds.
    pub images: BTreeSet<Oid>,
    /// Datastore template.
    pub template: Template,
}

owned_object!(Datastore, ObjectKind::Datastore, datastores, clusters);
