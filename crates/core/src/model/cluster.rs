//! A cluster: a named set of hosts, datastores and virtual networks.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{ObjectKind, Oid};
use serde::{Deserialize, Serialize};

use super::PoolObject;
use crate::state::{Pool, State};

/// A cluster (`CLUSTER` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Cluster id.
    pub id: Oid,
    /// Cluster name.
    pub name: String,
    /// Member hosts.
    pub hosts: BTreeSet<Oid>,
    /// Member datastores.
    pub datastores: BTreeSet<Oid>,
    /// Member virtual networks.
    pub vnets: BTreeSet<Oid>,
    /// Cluster template.
    pub template: Template,
}

impl PoolObject for Cluster {
    const KIND: ObjectKind = ObjectKind::Cluster;
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
        -1
    }
    fn clusters(&self) -> Vec<Oid> {
        vec![self.id]
    }
    fn pool(state: &State) -> &Pool<Self> {
        &state.clusters
    }
    fn pool_mut(state: &mut State) -> &mut Pool<Self> {
        &mut state.clusters
    }
}
