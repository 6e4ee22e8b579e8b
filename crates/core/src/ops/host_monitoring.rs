//! Committing a monitoring round: host capacity and state, and what the hypervisor says of
//! the VMs: gone (RUNNING → UNKNOWN), powered off by the guest (RUNNING → POWEROFF), or
//! running again (UNKNOWN or POWEROFF → RUNNING), or still there though the cloud deleted
//! it (a zombie, dropped: [`crate::runtime::zombies`]); from rounds nubod runs and from
//! reports host agents push.

use std::collections::HashMap;

use nubo_driver::{GuestState, HostReport};
use nubo_lifecycle::Event;
use nubo_types::Result;
use nubo_types::states::{HostState, LcmState, VmState};

use super::vm::{Followup, apply_event};
use crate::Core;
use crate::auth::Caller;
use crate::model::{Host, MAX_HOST_CPU, MAX_HOST_MEMORY_KB, Vm};
use crate::monitoring::{HostSample, VmSample};
use crate::ops::pool::PoolFilter;
use crate::runtime::Monitored;
use crate::runtime::zombies;

/// Seconds after which an unchanged host's monitoring time is stored again.
const STORE_EVERY: i64 = 300;

impl Core {
    pub(crate) async fn apply_monitoring(&self, results: Vec<Monitored>) -> Result<()> {
        let now = crate::now();
        let log = &self.inner.monitoring;
        log.prune(now);
        for m in &results {
            let Ok(r) = &m.report else { continue };
            log.record_host(
                m.host_id,
                HostSample {
                    timestamp: now,
                    total_cpu: r.total_cpu,
                    used_cpu: r.used_cpu,
                    total_memory: r.total_memory_kb,
                    used_memory: r.used_memory_kb,
                },
            );
            log.record_vms(r.vms.iter().map(|v| {
                let sample = VmSample {
                    timestamp: now,
                    cpu: v.cpu,
                    memory_kb: v.memory_kb,
                    netrx: v.netrx,
                    nettx: v.nettx,
                    disk_io: v.disk_io,
                    disk_sizes: v.disk_sizes.clone(),
                };
                (v.vm_id, sample)
            }));
        }
        let zombies: Vec<(i32, Vec<i32>)> = self.read(|state| {
            Ok(results
                .iter()
                .filter_map(|m| {
                    let host = state.hosts.get(&m.host_id)?;
                    let report = m.report.as_ref().ok()?;
                    Some((m.host_id, zombies::in_report(state, host, report, now)))
                })
                .filter(|(_, vms)| !vms.is_empty())
                .collect())
        })?;
        let follow = self
            .write(move |tx| {
                let mut follow = Followup::default();
                for m in results {
                    let Ok(host) = tx.get::<Host>(m.host_id) else {
                        continue;
                    };
                    let mut host = (*host).clone();
                    let before = (host.state, host.share.max_cpu, host.share.max_mem);
                    let template_before = host.template.clone();
                    let last_stored = host.last_monitored;
                    match &m.report {
                        Ok(r) => {
                            // What a driver reports (an agent, or SIM_CPU and SIM_MEMORY
                            // set by host.update) is brought within bounds, so capacity
                            // sums never overflow.
                            let cpu = r.total_cpu.clamp(0, MAX_HOST_CPU);
                            let mem = r.total_memory_kb.clamp(0, MAX_HOST_MEMORY_KB);
                            host.share.total_cpu = cpu;
                            host.share.total_mem = mem;
                            host.share.max_cpu = cpu;
                            host.share.max_mem = mem;
                            host.last_monitored = now;
                            if matches!(host.state, HostState::Init | HostState::Error) && !m.pushed
                            {
                                host.state = HostState::Monitored;
                            }
                            // The hypervisor's name (HYPERVISOR, which SCHED_REQUIREMENTS
                            // such as HYPERVISOR=lxc match), then what else it says.
                            let named = (!r.hypervisor.is_empty())
                                .then(|| ("HYPERVISOR".to_string(), r.hypervisor.clone()));
                            for (k, v) in
                                named.iter().map(|(k, v)| (k, v)).chain(r.attributes.iter())
                            {
                                if host.template.get(k) != Some(v.as_str()) {
                                    host.template.set(k, v.clone());
                                }
                            }
                            let known: std::collections::HashMap<i32, GuestState> =
                                r.vms.iter().map(|v| (v.vm_id, v.state)).collect();
                            let execs: HashMap<i32, &nubo_driver::ExecReport> = r
                                .vms
                                .iter()
                                .filter_map(|v| Some((v.vm_id, v.exec.as_ref()?)))
                                .collect();
                            for (vm_id, seq) in &m.vm_seqs {
                                let Ok(vm) = tx.get::<Vm>(*vm_id) else {
                                    continue;
                                };
                                if vm.op_seq != *seq {
                                    continue;
                                }
                                // A report the host made before it carried out the VM's
                                // latest operation says nothing of that operation's outcome
                                // (a container not yet started is not a vanished one).
                                if r.seqs.get(vm_id).is_some_and(|s| *s != vm.op_seq) {
                                    continue;
                                }
                                // A command the guest ran: its result, once.
                                let vm = match execs.get(vm_id) {
                                    Some(e) => {
                                        let mut changed = (*vm).clone();
                                        if super::vm::take_exec_result(&mut changed, e) {
                                            tx.put(changed)?;
                                            tx.get::<Vm>(*vm_id)?
                                        } else {
                                            vm
                                        }
                                    }
                                    None => vm,
                                };
                                let Some(event) =
                                    monitor_event(vm.state, vm.lcm_state, known.get(vm_id))
                                else {
                                    continue;
                                };
                                let mut vm = (*vm).clone();
                                if let Ok(f) = apply_event(tx, None, &mut vm, event, None) {
                                    follow.extend(f);
                                    tx.put(vm)?;
                                }
                            }
                        }
                        Err(message) => {
                            if host.state != HostState::Disabled {
                                host.state = HostState::Error;
                            }
                            host.template.set("ERROR", message.clone());
                        }
                    }
                    if m.report.is_ok() && !m.pushed {
                        host.template.remove("ERROR");
                    }
                    let after = (host.state, host.share.max_cpu, host.share.max_mem);
                    if after != before {
                        follow.schedule = true;
                    }
                    // Unchanged hosts are stored again only now and then, so a large
                    // cloud's monitoring does not rewrite every host every round.
                    if after != before
                        || host.template != template_before
                        || now - last_stored >= STORE_EVERY
                    {
                        tx.put(host)?;
                    }
                }
                Ok(follow)
            })
            .await?;
        self.follow_up(follow);
        for (host_id, vms) in zombies {
            zombies::drop_zombies(self, host_id, vms);
        }
        Ok(())
    }
}

impl Core {
    /// A report host `host_name`'s agent pushed. It is applied like one nubod asked for,
    /// but for each VM only when the agent had carried out the VM's latest operation (a
    /// report made before an operation ended says nothing about its outcome). It does not
    /// turn a host MONITORED (only nubod reaching the agent does). When it covers every VM
    /// of a MONITORED host, the host is not asked at the next monitoring rounds.
    pub async fn host_report_pushed(&self, host_name: &str, report: HostReport) -> Result<()> {
        let found = self.read(|state| {
            let host = state.host_named(host_name)?;
            if host.state == HostState::Offline {
                return Ok(None);
            }
            let mut vm_seqs = HashMap::new();
            let mut covered = true;
            for id in &host.vms {
                let Some(vm) = state.vms.get(id) else {
                    continue;
                };
                match report.seqs.get(id) {
                    Some(seq) if *seq == vm.op_seq => {
                        vm_seqs.insert(*id, *seq);
                    }
                    _ => covered = false,
                }
            }
            Ok(Some((host.id, vm_seqs, covered)))
        })?;
        let Some((host_id, vm_seqs, covered)) = found else {
            return Ok(());
        };
        {
            let mut pushed = self
                .inner
                .runtime
                .pushed
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if covered {
                pushed.insert(host_id, std::time::Instant::now());
            } else {
                pushed.remove(&host_id);
            }
        }
        self.apply_monitoring(vec![Monitored {
            host_id,
            report: Ok(report),
            vm_seqs,
            pushed: true,
        }])
        .await
    }

    /// `host.monitoring`: the recent samples of one host.
    pub fn host_monitoring(&self, caller: &Caller, id: i32) -> Result<Vec<HostSample>> {
        self.info::<Host>(caller, id)?;
        Ok(self.inner.monitoring.host(id, 0))
    }

    /// The latest monitoring sample of host `id`, if a round has reported one since the
    /// start: what `host.info` shows in MONITORING (the caller has already been allowed to
    /// see the host).
    pub fn host_latest_sample(&self, id: i32) -> Option<HostSample> {
        self.inner.monitoring.host_latest(id)
    }

    /// `hostpool.monitoring`: samples of every host the caller may see, from the last
    /// `seconds` (-1: all kept; 0: only the latest of each).
    pub fn host_pool_monitoring(
        &self,
        caller: &Caller,
        seconds: i32,
    ) -> Result<Vec<(i32, HostSample)>> {
        let hosts = self.pool_info::<Host>(caller, PoolFilter::ALL)?;
        let since = if seconds > 0 {
            crate::now() - i64::from(seconds)
        } else {
            0
        };
        let log = &self.inner.monitoring;
        Ok(hosts
            .iter()
            .flat_map(|h| {
                let samples = if seconds == 0 {
                    log.host_latest(h.id).into_iter().collect()
                } else {
                    log.host(h.id, since)
                };
                samples.into_iter().map(move |s| (h.id, s))
            })
            .collect())
    }
}

/// The life-cycle event a hypervisor's word on a VM means, if any.
fn monitor_event(state: VmState, lcm: LcmState, seen: Option<&GuestState>) -> Option<Event> {
    match (state, lcm, seen) {
        (VmState::Active, LcmState::Running, None) => Some(Event::MonitorMissing),
        (VmState::Active, LcmState::Running | LcmState::Unknown, Some(GuestState::Poweroff)) => {
            Some(Event::MonitorPoweroff)
        }
        (VmState::Active, LcmState::Unknown, Some(GuestState::Running))
        | (VmState::Poweroff, _, Some(GuestState::Running)) => Some(Event::MonitorRunning),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hypervisors_word_maps_onto_monitor_events() {
        use GuestState as G;
        let running = (VmState::Active, LcmState::Running);
        let ev = |(s, l): (VmState, LcmState), g: Option<G>| monitor_event(s, l, g.as_ref());
        assert_eq!(ev(running, None), Some(Event::MonitorMissing));
        assert_eq!(ev(running, Some(G::Poweroff)), Some(Event::MonitorPoweroff));
        assert_eq!(ev(running, Some(G::Running)), None);
        assert_eq!(ev(running, Some(G::Paused)), None);
        let unknown = (VmState::Active, LcmState::Unknown);
        assert_eq!(ev(unknown, Some(G::Running)), Some(Event::MonitorRunning));
        assert_eq!(ev(unknown, None), None);
        assert_eq!(ev(unknown, Some(G::Poweroff)), Some(Event::MonitorPoweroff));
        let off = (VmState::Poweroff, LcmState::LcmInit);
        assert_eq!(ev(off, Some(G::Running)), Some(Event::MonitorRunning));
        assert_eq!(ev(off, Some(G::Poweroff)), None);
        let suspended = (VmState::Suspended, LcmState::LcmInit);
        assert_eq!(ev(suspended, Some(G::Poweroff)), None);
    }
}
