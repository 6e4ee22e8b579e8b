//! Committing a monitoring round: host capacity and state, and VMs their host no longer
//! knows (RUNNING → UNKNOWN).

use nubo_lifecycle::Event;
use nubo_types::Result;
use nubo_types::states::{HostState, LcmState, VmState};

use super::vm::{Followup, apply_event};
use crate::Core;
use crate::model::{Host, Vm};
use crate::runtime::Monitored;

/// Seconds after which an unchanged host's monitoring time is stored again.
const STORE_EVERY: i64 = 300;

impl Core {
    pub(crate) async fn apply_monitoring(&self, results: Vec<Monitored>) -> Result<()> {
        let now = crate::now();
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
                            host.share.total_cpu = r.total_cpu;
                            host.share.total_mem = r.total_memory_kb;
                            host.share.max_cpu = r.total_cpu;
                            host.share.max_mem = r.total_memory_kb;
                            host.last_monitored = now;
                            if matches!(host.state, HostState::Init | HostState::Error) {
                                host.state = HostState::Monitored;
                            }
                            for (k, v) in &r.attributes {
                                if host.template.get(k) != Some(v.as_str()) {
                                    host.template.set(k, v.clone());
                                }
                            }
                            let known: std::collections::HashSet<i32> =
                                r.vms.iter().map(|v| v.vm_id).collect();
                            for (vm_id, seq) in &m.vm_seqs {
                                if known.contains(vm_id) {
                                    continue;
                                }
                                let Ok(vm) = tx.get::<Vm>(*vm_id) else {
                                    continue;
                                };
                                if vm.op_seq != *seq
                                    || (vm.state, vm.lcm_state)
                                        != (VmState::Active, LcmState::Running)
                                {
                                    continue;
                                }
                                let mut vm = (*vm).clone();
                                if let Ok(f) =
                                    apply_event(tx, None, &mut vm, Event::MonitorMissing, None)
                                {
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
                    if m.report.is_ok() {
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
        Ok(())
    }
}
