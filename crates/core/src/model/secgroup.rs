//! A security group: firewall rules applied to the NICs of VMs.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{ObjectKind, Oid};
use serde::{Deserialize, Serialize};

use super::{Meta, owned_object};

/// A security group (`SECURITY_GROUP` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecGroup {
    /// Id, name, owner, permissions.
    pub meta: Meta,
    /// VMs whose rules are up to date.
    pub updated_vms: BTreeSet<Oid>,
    /// VMs whose rules must be updated.
    pub outdated_vms: BTreeSet<Oid>,
    /// VMs being updated.
    pub updating_vms: BTreeSet<Oid>,
    /// VMs whose update failed.
    pub error_vms: BTreeSet<Oid>,
    /// Template with `RULE` vectors.
    pub template: Template,
}

owned_object!(SecGroup, ObjectKind::SecGroup, secgroups);
