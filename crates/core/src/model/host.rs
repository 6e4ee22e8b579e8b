//! A hypervisor host: drivers, cluster, capacity share and monitoring.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{ObjectKind, Oid, states::HostState};
use serde::{Deserialize, Serialize};

use super::PoolObject;
use crate::state::{Pool, State};

/// A host (`HOST` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Host id.
    pub id: Oid,
    /// Host name.
    pub name: String,
    /// State.
    pub state: HostState,
    /// Previous state.
    pub prev_state: HostState,
    /// Information (monitoring) driver.
    pub im_mad: String,
    /// Virtualization driver.
    pub vm_mad: String,
    /// Cluster id.
    pub cluster_id: Oid,
    /// Cluster name.
    pub cluster: String,
    /// Capacity share.
    pub share: HostShare,
    /// VMs on the host.
    pub vms: BTreeSet<Oid>,
    /// Host template.
    pub template: Template,
    /// Last monitoring time (epoch seconds, 0 if never).
    pub last_monitored: i64,
}

/// A host's capacity and its use (`HOST_SHARE`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostShare {
    /// Memory allocated to VMs (KB).
    pub mem_usage: i64,
    /// CPU allocated to VMs (percent, 100 = one core).
    pub cpu_usage: i64,
    /// Total memory (KB).
    pub total_mem: i64,
    /// Total CPU (percent).
    pub total_cpu: i64,
    /// Memory available to VMs (KB).
    pub max_mem: i64,
    /// CPU available to VMs (percent).
    pub max_cpu: i64,
    /// Running VMs.
    pub running_vms: i64,
    /// Disk allocated to VMs in system datastores (MB).
    #[serde(default)]
    pub disk_usage: i64,
}

impl PoolObject for Host {
    const KIND: ObjectKind = ObjectKind::Host;
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
        vec![self.cluster_id]
    }
    fn pool(state: &State) -> &Pool<Self> {
        &state.hosts
    }
    fn pool_mut(state: &mut State) -> &mut Pool<Self> {
        &mut state.hosts
    }
}
