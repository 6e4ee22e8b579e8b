//! A group: its members, administrators and quotas.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{ObjectKind, Oid};
use serde::{Deserialize, Serialize};

use super::{PoolObject, Quotas};
use crate::state::{Pool, State};

/// A group (`GROUP` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Group id.
    pub id: Oid,
    /// Group name.
    pub name: String,
    /// Group template.
    pub template: Template,
    /// Member user ids.
    pub users: BTreeSet<Oid>,
    /// Administrator user ids.
    pub admins: BTreeSet<Oid>,
    /// Quotas and their usage.
    pub quotas: Quotas,
    /// VLAN ranges delegated to the group (`group.vlan`).
    #[serde(default)]
    pub vlan_rules: Vec<VlanRule>,
}

/// A VLAN range delegated to a group: which VLAN ids, where, through which vnet template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VlanRule {
    /// VLAN ids, e.g. `1,33,400-700`.
    pub ids: String,
    /// Where they apply (a cluster or network).
    pub scope: String,
    /// The network template members instantiate with them.
    pub vntemplate: String,
}

impl PoolObject for Group {
    const KIND: ObjectKind = ObjectKind::Group;
    fn oid(&self) -> Oid {
        self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn uid(&self) -> Oid {
        -1
    }
    fn gid(&self) -> Oid {
        self.id
    }
    fn pool(state: &State) -> &Pool<Self> {
        &state.groups
    }
    fn pool_mut(state: &mut State) -> &mut Pool<Self> {
        &mut state.groups
    }
}
