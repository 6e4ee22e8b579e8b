//! Host monitoring: every `monitor_interval` (and at once when a host is added), each
//! host's driver reports capacity and VMs; the results are committed in one write.
//! MONITORED hosts whose agents pushed a full report within the interval are asked only
//! every tenth round. A host
//! that cannot be monitored goes to ERROR; a RUNNING VM its host no longer knows goes to
//! UNKNOWN. Datastores' capacity is measured by a task of its own, at the same interval.

use std::collections::{HashMap, HashSet};

use nubo_driver::HostReport;
use nubo_types::states::HostState;
use tokio::task::JoinSet;

use crate::Core;

/// Every how many rounds hosts are asked even though their agents push reports (so a
/// host nubod cannot reach any more turns ERROR).
const ASK_ALL_EVERY: u64 = 10;

pub(crate) async fn run(core: Core) {
    let notify = core.inner.runtime.monitor_now.clone();
    let every = core.inner.runtime.config.monitor_interval;
    tokio::spawn(datastores(core.clone()));
    for n in 0u64.. {
        if let Err(e) = round(&core, n % ASK_ALL_EVERY == 0).await {
            tracing::error!(error = %e, "monitoring round failed");
        }
        tokio::select! {
            () = notify.notified() => {}
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Datastore monitoring, in its own task so that a hung mount under a datastore's
/// directory never holds up host monitoring: every `monitor_interval`, each datastore's
/// filesystem is measured (each measurement bounded in time, see
/// [`Core::monitor_datastores`]).
async fn datastores(core: Core) {
    let every = core.inner.runtime.config.monitor_interval;
    let busy = crate::ops::datastore::Busy::default();
    loop {
        if let Err(e) = core.monitor_datastores(&busy).await {
            tracing::error!(error = %e, "datastore monitoring failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// A host's report, with the operation sequence of each of its VMs when it was asked.
pub(crate) struct Monitored {
    pub host_id: i32,
    pub report: Result<HostReport, String>,
    pub vm_seqs: HashMap<i32, u64>,
    /// Pushed by the host's agent rather than asked for: it proves the agent alive, not
    /// that nubod reaches it, so it does not turn the host MONITORED.
    pub pushed: bool,
}

async fn round(core: &Core, ask_all: bool) -> nubo_types::Result<()> {
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
            .filter(|h| {
                let fresh = !ask_all && h.state == HostState::Monitored && pushed.contains(&h.id);
                h.state != HostState::Offline && !fresh
            })
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
                pushed: false,
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
