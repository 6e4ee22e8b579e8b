//! Host monitoring: every `monitor_interval` (and at once when a host is added), each
//! host's driver reports capacity and VMs; the results are committed in one write. Hosts
//! whose agents pushed a full report within the interval are not asked. A host
//! that cannot be monitored goes to ERROR; a RUNNING VM its host no longer knows goes to
//! UNKNOWN.

use std::collections::{HashMap, HashSet};

use nubo_driver::HostReport;
use nubo_types::states::HostState;
use tokio::task::JoinSet;

use crate::Core;

pub(crate) async fn run(core: Core) {
    let notify = core.inner.runtime.monitor_now.clone();
    let every = core.inner.runtime.config.monitor_interval;
    loop {
        if let Err(e) = round(&core).await {
            tracing::error!(error = %e, "monitoring round failed");
        }
        tokio::select! {
            () = notify.notified() => {}
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// A host's report, with the operation sequence of each of its VMs when it was asked.
pub(crate) struct Monitored {
    pub host_id: i32,
    pub report: Result<HostReport, String>,
    pub vm_seqs: HashMap<i32, u64>,
}

async fn round(core: &Core) -> nubo_types::Result<()> {
    let every = core.inner.runtime.config.monitor_interval;
    let pushed: HashSet<i32> = core
        .inner
        .runtime
        .pushed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|(_, at)| at.elapsed() < every)
        .map(|(id, _)| *id)
        .collect();
    let targets = core.read(|state| {
        Ok(state
            .hosts
            .values()
            .filter(|h| h.state != HostState::Offline && !pushed.contains(&h.id))
            .map(|h| {
                let seqs = h
                    .vms
                    .iter()
                    .filter_map(|v| state.vms.get(v).map(|vm| (*v, vm.op_seq)))
                    .collect::<HashMap<_, _>>();
                (h.id, core.inner.runtime.drivers.of(h), seqs)
            })
            .collect::<Vec<_>>())
    })?;
    let mut set = JoinSet::new();
    for (host_id, driver, vm_seqs) in targets {
        set.spawn(async move {
            let report = match driver {
                Ok(d) => d.monitor().await,
                Err(e) => Err(e),
            };
            Monitored {
                host_id,
                report,
                vm_seqs,
            }
        });
    }
    let mut results = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(m) = done {
            results.push(m);
        }
    }
    if !results.is_empty() {
        core.apply_monitoring(results).await?;
    }
    Ok(())
}
