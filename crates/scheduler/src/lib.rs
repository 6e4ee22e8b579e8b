//! VM placement, pure. [`place`] takes the candidate hosts (capacity left, attributes for
//! expressions, VM group roles present), the VMs waiting for a host (size, requirements,
//! rank, VM group affinity) and a [`Policy`], and decides for each VM in order: a host, or
//! the reason none fits. Capacity is taken as VMs are placed, so one round never
//! over-commits a host, and later VMs see the roles earlier ones brought (`affinity`).

mod affinity;
mod host_vars;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use nubo_template::{Rank, Requirements};

pub use affinity::{Affinity, RoleRef, Rule, check as check_affinity};
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
    /// The VM group roles of the VMs on the host.
    pub roles: BTreeSet<RoleRef>,
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
    /// The VM group rules of the VM's role, if it has one.
    pub affinity: Option<Affinity>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Misfit {
    /// The VM is being rescheduled away from it.
    Rescheduled,
    /// A VM group rule.
    Group(Rule),
    /// Not enough CPU left.
    Cpu,
    /// Not enough memory left.
    Memory,
    /// SCHED_REQUIREMENTS / AUTOMATIC_REQUIREMENTS do not hold.
    Requirements,
}

impl Misfit {
    fn describe(&self, names: &BTreeMap<RoleRef, String>) -> String {
        match self {
            Misfit::Rescheduled => "rescheduled away".to_string(),
            Misfit::Group(rule) => rule.describe(names),
            Misfit::Cpu => "not enough CPU".to_string(),
            Misfit::Memory => "not enough memory".to_string(),
            Misfit::Requirements => "requirements not met".to_string(),
        }
    }
}

/// The rules a host breaks for `vm` (rescheduling, VM group rules), capacity aside.
fn rules_misfit(
    host: &HostCandidate,
    vm: &VmRequest,
    placed: &BTreeSet<RoleRef>,
) -> Option<Misfit> {
    if vm.avoid_host == Some(host.id) {
        return Some(Misfit::Rescheduled);
    }
    let affinity = vm.affinity.as_ref()?;
    affinity::check(host.id, &host.roles, affinity, placed)
        .err()
        .map(Misfit::Group)
}

/// Why a host lacks room for `cpu` and `memory_kb` more, if it does (a sum that would
/// overflow never fits, rather than wrapping round).
fn capacity_misfit(host: &HostCandidate, cpu: i64, memory_kb: i64) -> Option<Misfit> {
    let over = |usage: i64, more: i64, max: i64| usage.checked_add(more).is_none_or(|u| u > max);
    if over(host.cpu_usage, cpu, host.max_cpu) {
        return Some(Misfit::Cpu);
    }
    if over(host.mem_usage, memory_kb, host.max_mem) {
        return Some(Misfit::Memory);
    }
    None
}

fn requirements_misfit(host: &HostCandidate, vm: &VmRequest) -> Option<Misfit> {
    let vars = HostVars::new(host);
    (!vm.requirements.iter().all(|r| r.eval(&vars))).then_some(Misfit::Requirements)
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

/// Places `vms` in order on `hosts` (whose usage is updated as VMs are placed). The
/// pending VMs of affined roles none of whose VMs runs yet are placed together, when the
/// first of them comes up: on one host that fits them all, or none is placed.
pub fn place(hosts: &mut [HostCandidate], vms: &[VmRequest], policy: &Policy) -> Vec<Decision> {
    let mut placed: BTreeSet<RoleRef> = hosts
        .iter()
        .flat_map(|h| h.roles.iter().copied())
        .chain(
            vms.iter()
                .filter_map(|v| v.affinity.as_ref())
                .flat_map(|a| a.placed.iter().copied()),
        )
        .collect();
    // Decisions taken ahead of their turn, for the members of an affined set.
    let mut early: HashMap<usize, Result<i32, String>> = HashMap::new();
    let mut decisions = Vec::with_capacity(vms.len());
    for (i, vm) in vms.iter().enumerate() {
        let host = match early.remove(&i) {
            Some(decided) => decided,
            None => match vm
                .affinity
                .as_ref()
                .filter(|a| a.starts_affined_set(&placed))
            {
                Some(leader) => {
                    let members: Vec<usize> = std::iter::once(i)
                        .chain((i + 1..vms.len()).filter(|j| {
                            !early.contains_key(j)
                                && vms[*j]
                                    .affinity
                                    .as_ref()
                                    .is_some_and(|a| leader.affined.contains(&a.role))
                        }))
                        .collect();
                    let outcome = place_together(hosts, vms, &members, policy, &mut placed);
                    for j in &members[1..] {
                        early.insert(*j, outcome.clone());
                    }
                    outcome
                }
                None => place_one(hosts, vm, policy, &mut placed),
            },
        };
        decisions.push(Decision { vm: vm.id, host });
    }
    decisions
}

/// Takes `vm`'s share of `host`.
fn take(host: &mut HostCandidate, vm: &VmRequest, placed: &mut BTreeSet<RoleRef>) {
    host.cpu_usage = host.cpu_usage.saturating_add(vm.cpu);
    host.mem_usage = host.mem_usage.saturating_add(vm.memory_kb);
    host.vms.push(vm.id);
    if let Some(a) = &vm.affinity {
        host.roles.insert(a.role);
        placed.insert(a.role);
    }
}

fn names_of<'a>(vms: impl IntoIterator<Item = &'a VmRequest>) -> BTreeMap<RoleRef, String> {
    vms.into_iter()
        .filter_map(|v| v.affinity.as_ref())
        .flat_map(|a| a.names.iter().map(|(r, n)| (*r, n.clone())))
        .collect()
}

fn place_one(
    hosts: &mut [HostCandidate],
    vm: &VmRequest,
    policy: &Policy,
    placed: &mut BTreeSet<RoleRef>,
) -> Result<i32, String> {
    let mut best: Option<(f64, usize)> = None;
    let mut reasons: BTreeMap<Misfit, usize> = BTreeMap::new();
    for (i, host) in hosts.iter().enumerate() {
        let why = rules_misfit(host, vm, placed)
            .or_else(|| capacity_misfit(host, vm.cpu, vm.memory_kb))
            .or_else(|| requirements_misfit(host, vm));
        if let Some(why) = why {
            *reasons.entry(why).or_default() += 1;
            continue;
        }
        let s = score(host, vm, policy);
        // Ties go to the lowest host id (the first in the list).
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, i));
        }
    }
    match best {
        Some((_, i)) => {
            take(&mut hosts[i], vm, placed);
            Ok(hosts[i].id)
        }
        None => Err(no_host_message(hosts.len(), &reasons, &names_of([vm]), "")),
    }
}

/// Places the VMs at `members` (the first leads: its rank decides) on one host, or none.
fn place_together(
    hosts: &mut [HostCandidate],
    vms: &[VmRequest],
    members: &[usize],
    policy: &Policy,
    placed: &mut BTreeSet<RoleRef>,
) -> Result<i32, String> {
    let group: Vec<&VmRequest> = members.iter().map(|i| &vms[*i]).collect();
    let names = names_of(group.iter().copied());
    // Members that may not share a host with each other can never be placed together.
    for (a, b) in group
        .iter()
        .flat_map(|a| group.iter().map(move |b| (*a, *b)))
    {
        if let (Some(x), Some(y)) = (&a.affinity, &b.affinity)
            && a.id != b.id
            && x.anti_affined.contains(&y.role)
        {
            let rule = Rule::AntiAffined {
                role: x.role,
                with: y.role,
            };
            return Err(format!(
                "Cannot dispatch VM: its affined VMs break the {}",
                rule.describe(&names)
            ));
        }
    }
    let cpu = group.iter().fold(0i64, |s, v| s.saturating_add(v.cpu));
    let memory_kb = group
        .iter()
        .fold(0i64, |s, v| s.saturating_add(v.memory_kb));
    let mut best: Option<(f64, usize)> = None;
    let mut reasons: BTreeMap<Misfit, usize> = BTreeMap::new();
    for (i, host) in hosts.iter().enumerate() {
        let why = group
            .iter()
            .find_map(|v| rules_misfit(host, v, placed))
            .or_else(|| capacity_misfit(host, cpu, memory_kb))
            .or_else(|| group.iter().find_map(|v| requirements_misfit(host, v)));
        if let Some(why) = why {
            *reasons.entry(why).or_default() += 1;
            continue;
        }
        let s = score(host, group[0], policy);
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, i));
        }
    }
    match best {
        Some((_, i)) => {
            for vm in &group {
                take(&mut hosts[i], vm, placed);
            }
            Ok(hosts[i].id)
        }
        None => Err(no_host_message(
            hosts.len(),
            &reasons,
            &names,
            &format!(" the {} VMs of its affined roles together", group.len()),
        )),
    }
}

fn no_host_message(
    candidates: usize,
    reasons: &BTreeMap<Misfit, usize>,
    names: &BTreeMap<RoleRef, String>,
    what: &str,
) -> String {
    if candidates == 0 {
        return "No host available: no host is enabled and monitored".to_string();
    }
    let mut parts: Vec<(usize, String)> = reasons
        .iter()
        .map(|(w, n)| (*n, w.describe(names)))
        .collect();
    parts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let detail: Vec<String> = parts.iter().map(|(n, w)| format!("{w} on {n}")).collect();
    format!(
        "Cannot dispatch VM: no host of {candidates} fits{what} ({})",
        detail.join(", ")
    )
}

#[cfg(test)]
mod affinity_tests;
#[cfg(test)]
mod tests;
