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

/// A host's usage that would overflow if a change were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} would overflow")]
pub struct UsageOverflow(pub &'static str);

/// `usage` moved by `delta`: growth is checked, a release stops at zero.
fn moved(usage: i64, delta: i64, name: &'static str) -> Result<i64, UsageOverflow> {
    if delta >= 0 {
        usage.checked_add(delta).ok_or(UsageOverflow(name))
    } else {
        Ok(usage.saturating_add(delta).max(0))
    }
}

impl HostShare {
    /// Whether `cpu` (hundredths) and `mem_kb` more stay within MAX_CPU and MAX_MEM; a sum
    /// that would overflow does not.
    pub fn has_room(&self, cpu: i64, mem_kb: i64) -> bool {
        let within = |usage: i64, more: i64, max: i64| {
            more <= 0 || usage.checked_add(more).is_some_and(|u| u <= max)
        };
        within(self.cpu_usage, cpu, self.max_cpu) && within(self.mem_usage, mem_kb, self.max_mem)
    }

    /// Moves CPU_USAGE (hundredths), MEM_USAGE (KB), DISK_USAGE (MB) and RUNNING_VMS by
    /// the given amounts, all or none: growth that would overflow is refused, a release
    /// never takes a usage below zero.
    pub fn add_usage(
        &mut self,
        cpu: i64,
        mem_kb: i64,
        disk_mb: i64,
        vms: i64,
    ) -> Result<(), UsageOverflow> {
        let cpu_usage = moved(self.cpu_usage, cpu, "CPU_USAGE")?;
        let mem_usage = moved(self.mem_usage, mem_kb, "MEM_USAGE")?;
        let disk_usage = moved(self.disk_usage, disk_mb, "DISK_USAGE")?;
        let running_vms = moved(self.running_vms, vms, "RUNNING_VMS")?;
        self.cpu_usage = cpu_usage;
        self.mem_usage = mem_usage;
        self.disk_usage = disk_usage;
        self.running_vms = running_vms;
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_never_overflows_nor_goes_negative() {
        let mut s = HostShare {
            max_cpu: 400,
            max_mem: 1024,
            ..HostShare::default()
        };
        assert!(s.has_room(400, 1024));
        assert!(!s.has_room(401, 0));
        s.add_usage(100, 512, 10, 1).expect("fits");
        assert!(!s.has_room(i64::MAX, 0), "an overflowing sum has no room");
        assert!(s.has_room(-5, 0));
        assert_eq!(
            s.add_usage(i64::MAX, 0, 0, 1),
            Err(UsageOverflow("CPU_USAGE"))
        );
        assert_eq!((s.cpu_usage, s.running_vms), (100, 1), "all or nothing");
        s.add_usage(-1000, -i64::MAX, i64::MIN, -5)
            .expect("release");
        assert_eq!(
            (s.cpu_usage, s.mem_usage, s.disk_usage, s.running_vms),
            (0, 0, 0, 0)
        );
    }
}
