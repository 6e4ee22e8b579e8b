//! From the state to the scheduler's inputs: candidate hosts and pending VMs.

use std::collections::{BTreeSet, HashMap};

use nubo_scheduler::{HostCandidate, VmRequest};
use nubo_template::{Rank, Requirements, Template};
use nubo_types::states::{HostState, VmState};

use crate::model::{Host, Vm};
use crate::ops::vmgroup::{roles_among, roles_of_vms, vm_affinity};
use crate::state::State;

/// Hosts that may take VMs: monitored and enabled.
pub fn candidates(state: &State) -> Vec<HostCandidate> {
    let index = roles_of_vms(state);
    state
        .hosts
        .values()
        .filter(|h| h.state == HostState::Monitored)
        .map(|h| HostCandidate {
            roles: roles_among(h.vms.iter().copied(), &index),
            ..candidate(state, h)
        })
        .collect()
}

fn singles(t: &Template, into: &mut HashMap<String, Vec<String>>) {
    for a in &t.attrs {
        if let Some(v) = a.value.as_single() {
            into.entry(a.name.clone()).or_default().push(v.to_string());
        }
    }
}

fn candidate(state: &State, h: &Host) -> HostCandidate {
    let mut attributes = HashMap::new();
    if let Some(c) = state.clusters.get(&h.cluster_id) {
        singles(&c.template, &mut attributes);
    }
    singles(&h.template, &mut attributes);
    HostCandidate {
        id: h.id,
        name: h.name.clone(),
        cluster_id: h.cluster_id,
        max_cpu: h.share.max_cpu,
        max_mem: h.share.max_mem,
        cpu_usage: h.share.cpu_usage,
        mem_usage: h.share.mem_usage,
        free_cpu_monitored: h.share.total_cpu.saturating_sub(h.share.cpu_usage),
        vms: h.vms.iter().copied().collect(),
        attributes,
        roles: BTreeSet::new(),
    }
}

/// Up to `limit` pending VMs with ids above `after`, oldest first, as scheduler requests
/// (VMs whose expressions do not parse come back apart with the message to show), and
/// whether more are waiting.
pub fn pending(
    state: &State,
    after: Option<i32>,
    limit: usize,
) -> (Vec<VmRequest>, Vec<(i32, String)>, bool) {
    let mut requests = Vec::new();
    let mut broken = Vec::new();
    let index = roles_of_vms(state);
    let from = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
    let mut waiting = state
        .vms
        .range((from, std::ops::Bound::Unbounded))
        .map(|(_, v)| v)
        .filter(|v| v.state == VmState::Pending);
    for vm in waiting.by_ref() {
        if requests.len() + broken.len() >= limit {
            return (requests, broken, true);
        }
        match request(vm) {
            Ok(r) => requests.push(VmRequest {
                affinity: vm_affinity(state, vm.meta.id, &index),
                ..r
            }),
            Err(message) => broken.push((vm.meta.id, message)),
        }
    }
    (requests, broken, false)
}

/// VMs flagged for rescheduling (RUNNING or POWEROFF with RESCHED=1) as requests that
/// avoid their current host: a host found for one is where it migrates.
pub fn rescheduled(state: &State) -> Vec<VmRequest> {
    let index = roles_of_vms(state);
    state
        .vms
        .values()
        .filter(|v| {
            v.resched
                && (v.state == VmState::Poweroff
                    || (v.state == VmState::Active
                        && v.lcm_state == nubo_types::states::LcmState::Running))
        })
        .filter_map(|vm| {
            let r = request(vm).ok()?;
            Some(VmRequest {
                avoid_host: vm.host_id(),
                affinity: vm_affinity(state, vm.meta.id, &index),
                ..r
            })
        })
        .collect()
}

fn request(vm: &Vm) -> Result<VmRequest, String> {
    let mut requirements = Vec::new();
    for (t, name) in [
        (&vm.template, "AUTOMATIC_REQUIREMENTS"),
        (&vm.user_template, "SCHED_REQUIREMENTS"),
    ] {
        if let Some(text) = t.get(name) {
            let r = Requirements::parse(text).map_err(|e| format!("Parse error in {name}: {e}"))?;
            if !r.is_empty() {
                requirements.push(r);
            }
        }
    }
    let rank = match vm.user_template.get("SCHED_RANK") {
        Some(text) if !text.trim().is_empty() => {
            Some(Rank::parse(text).map_err(|e| format!("Parse error in SCHED_RANK: {e}"))?)
        }
        _ => None,
    };
    Ok(VmRequest {
        id: vm.meta.id,
        cpu: vm.cpu.hundredths(),
        memory_kb: vm.memory_kb(),
        requirements,
        rank,
        avoid_host: None,
        affinity: None,
    })
}
