//! VM placement, pure. [`place`] takes the candidate hosts (capacity left, attributes for
//! expressions), the VMs waiting for a host (size, requirements, rank, affinity) and a
//! [`Policy`], and decides for each VM in order: a host, or the reason none fits. Capacity
//! is taken as VMs are placed, so one round never over-commits a host.

mod host_vars;

use std::collections::{BTreeSet, HashMap};

use nubo_template::{Rank, Requirements};

pub use host_vars::HostVars;

/// A host that may receive VMs.
#[derive(Debug, Clone, PartialEq)]
pub struct HostCandidate {
    /// Host id.
    pub id: i32,
    /// Host name.
    pub name: String,
    /// Cluster id.
    pub cluster_id: i32,
    /// CPU available to VMs (percent, MAX_CPU).
    pub max_cpu: i64,
    /// Memory available to VMs (KB, MAX_MEM).
    pub max_mem: i64,
    /// CPU allocated (percent).
    pub cpu_usage: i64,
    /// Memory allocated (KB).
    pub mem_usage: i64,
    /// CPU actually free as monitored (percent), for the load-aware policy.
    pub free_cpu_monitored: i64,
    /// VMs on the host.
    pub vms: Vec<i32>,
    /// The host's template attributes (and cluster attributes), for expressions.
    pub attributes: HashMap<String, Vec<String>>,
}

/// A VM waiting for a host.
#[derive(Debug, Clone, PartialEq)]
pub struct VmRequest {
    /// VM id.
    pub id: i32,
    /// CPU (percent: CPU × 100).
    pub cpu: i64,
    /// Memory (KB).
    pub memory_kb: i64,
    /// Expressions that must all hold (SCHED_REQUIREMENTS, AUTOMATIC_REQUIREMENTS).
    pub requirements: Vec<Requirements>,
    /// SCHED_RANK, overriding the policy when set.
    pub rank: Option<Rank>,
    /// A host the VM must leave (a rescheduled VM).
    pub avoid_host: Option<i32>,
    /// When set, only these hosts (VM group affinity).
    pub only_hosts: Option<BTreeSet<i32>>,
    /// Hosts the VM must not use (VM group anti-affinity).
    pub not_hosts: BTreeSet<i32>,
}

/// How to choose among the hosts that fit.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Fill hosts first: most running VMs wins.
    Packing,
    /// Spread: fewest running VMs wins (OpenNebula's default).
    Striping,
    /// Most free CPU (monitored) wins.
    LoadAware,
    /// The highest value of an expression wins.
    Custom(Rank),
}

/// The decision for one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The VM.
    pub vm: i32,
    /// The chosen host, or why no host fits.
    pub host: Result<i32, String>,
}

/// Why a host does not fit; the first that applies is reported.
fn misfit(host: &HostCandidate, vm: &VmRequest) -> Option<&'static str> {
    if vm.avoid_host == Some(host.id) {
        return Some("rescheduled away");
    }
    if vm
        .only_hosts
        .as_ref()
        .is_some_and(|o| !o.contains(&host.id))
        || vm.not_hosts.contains(&host.id)
    {
        return Some("VM group rules");
    }
    if host.cpu_usage + vm.cpu > host.max_cpu {
        return Some("not enough CPU");
    }
    if host.mem_usage + vm.memory_kb > host.max_mem {
        return Some("not enough memory");
    }
    let vars = HostVars::new(host);
    if !vm.requirements.iter().all(|r| r.eval(&vars)) {
        return Some("requirements not met");
    }
    None
}

fn score(host: &HostCandidate, vm: &VmRequest, policy: &Policy) -> f64 {
    if let Some(rank) = &vm.rank {
        return rank.eval(&HostVars::new(host));
    }
    match policy {
        Policy::Packing => host.vms.len() as f64,
        Policy::Striping => -(host.vms.len() as f64),
        Policy::LoadAware => host.free_cpu_monitored as f64,
        Policy::Custom(rank) => rank.eval(&HostVars::new(host)),
    }
}

/// Places `vms` in order on `hosts` (whose usage is updated as VMs are placed).
pub fn place(hosts: &mut [HostCandidate], vms: &[VmRequest], policy: &Policy) -> Vec<Decision> {
    vms.iter()
        .map(|vm| {
            let mut best: Option<(f64, usize)> = None;
            let mut reasons: HashMap<&'static str, usize> = HashMap::new();
            for (i, host) in hosts.iter().enumerate() {
                if let Some(why) = misfit(host, vm) {
                    *reasons.entry(why).or_default() += 1;
                    continue;
                }
                let s = score(host, vm, policy);
                // Ties go to the lowest host id (the first in the list).
                if best.is_none_or(|(b, _)| s > b) {
                    best = Some((s, i));
                }
            }
            let host = match best {
                Some((_, i)) => {
                    let h = &mut hosts[i];
                    h.cpu_usage += vm.cpu;
                    h.mem_usage += vm.memory_kb;
                    h.vms.push(vm.id);
                    Ok(h.id)
                }
                None => Err(no_host_message(hosts.len(), &reasons)),
            };
            Decision { vm: vm.id, host }
        })
        .collect()
}

fn no_host_message(candidates: usize, reasons: &HashMap<&'static str, usize>) -> String {
    if candidates == 0 {
        return "No host available: no host is enabled and monitored".to_string();
    }
    let mut parts: Vec<(usize, &str)> = reasons.iter().map(|(w, n)| (*n, *w)).collect();
    parts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let detail: Vec<String> = parts.iter().map(|(n, w)| format!("{w} on {n}")).collect();
    format!(
        "Cannot dispatch VM: no host of {candidates} fits ({})",
        detail.join(", ")
    )
}

#[cfg(test)]
mod tests;
