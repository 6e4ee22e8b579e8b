//! The scheduler loop: woken when VMs become pending or capacity is freed (and every
//! `sched_retry` as a safety net), it plans all pending VMs on a consistent view of the
//! state and commits the placements in batches.

use nubo_scheduler::{Policy, place};

use super::placement::{candidates, pending};
use crate::Core;

/// Placements committed per write.
const BATCH: usize = 512;

pub(crate) async fn run(core: Core) {
    let notify = core.inner.runtime.schedule.clone();
    let retry = core.inner.runtime.config.sched_retry;
    loop {
        tokio::select! {
            () = notify.notified() => {}
            () = tokio::time::sleep(retry) => {}
        }
        if let Err(e) = round(&core).await {
            tracing::error!(error = %e, "scheduler round failed");
        }
    }
}

/// One round: plan every pending VM, commit what could be placed and the reasons for the
/// rest.
async fn round(core: &Core) -> nubo_types::Result<()> {
    let (decisions, broken) = core.read(|state| {
        let (requests, broken) = pending(state);
        if requests.is_empty() {
            return Ok((Vec::new(), broken));
        }
        let mut hosts = candidates(state);
        Ok((place(&mut hosts, &requests, &Policy::Striping), broken))
    })?;
    let mut outcomes: Vec<(i32, Result<i32, String>)> =
        decisions.into_iter().map(|d| (d.vm, d.host)).collect();
    outcomes.extend(broken.into_iter().map(|(vm, m)| (vm, Err(m))));
    for chunk in outcomes.chunks(BATCH) {
        core.place_vms(chunk.to_vec()).await?;
    }
    Ok(())
}
