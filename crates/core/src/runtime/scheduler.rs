//! The scheduler loop: woken when VMs become pending or capacity is freed (and every
//! `sched_retry` as a safety net), it plans all pending VMs on a consistent view of the
//! state and commits the placements in batches.

use nubo_scheduler::place;

use super::placement::{candidates, pending, rescheduled};
use super::placement_wait::Waits;
use crate::Core;

/// Placements committed per write.
const BATCH: usize = 512;

/// The most pending VMs planned in one round (the oldest first); the next round follows at
/// once, so placements reach the hosts while the rest is still being planned.
const ROUND: usize = 2048;

/// How long a wake-up waits for more VMs to become pending, so a burst of requests is
/// planned in a few rounds rather than one round per request.
const WINDOW: std::time::Duration = std::time::Duration::from_millis(10);

pub(crate) async fn run(core: Core) {
    let notify = core.inner.runtime.schedule.clone();
    let retry = core.inner.runtime.config.sched_retry;
    let mut waits = Waits::default();
    loop {
        let notified = tokio::select! {
            () = notify.notified() => true,
            () = tokio::time::sleep(retry) => false,
        };
        let woken = std::time::Instant::now();
        if notified {
            tokio::time::sleep(WINDOW).await;
        }
        let mut after = None;
        waits.begin();
        loop {
            match round(&core, after, &mut waits, woken).await {
                Ok(Some(last)) => after = Some(last),
                Ok(None) => {
                    waits.end();
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, "scheduler round failed");
                    break;
                }
            }
        }
        if let Err(e) = resched_round(&core).await {
            tracing::error!(error = %e, "rescheduling round failed");
        }
    }
}

/// One round: plan up to [`ROUND`] pending VMs with ids above `after`, commit what could
/// be placed and the reasons for the rest. Returns the last id planned when more pending
/// VMs wait behind it. The plan is made on a copy of what it needs, so writers are not
/// held up meanwhile. `waits` learns which VMs wait (since `woken` at the latest) and
/// which were placed.
async fn round(
    core: &Core,
    after: Option<i32>,
    waits: &mut Waits,
    woken: std::time::Instant,
) -> nubo_types::Result<Option<i32>> {
    let (requests, broken, mut hosts, more) = core.read(|state| {
        let (requests, broken, more) = pending(state, after, ROUND);
        let hosts = if requests.is_empty() {
            Vec::new()
        } else {
            candidates(state)
        };
        Ok((requests, broken, hosts, more))
    })?;
    let decisions = if requests.is_empty() {
        Vec::new()
    } else {
        place(
            &mut hosts,
            &requests,
            &core.inner.runtime.config.sched_policy,
        )
    };
    let last = requests
        .iter()
        .map(|r| r.id)
        .chain(broken.iter().map(|(id, _)| *id))
        .max();
    let mut outcomes: Vec<(i32, Result<i32, String>)> =
        decisions.into_iter().map(|d| (d.vm, d.host)).collect();
    outcomes.extend(broken.into_iter().map(|(vm, m)| (vm, Err(m))));
    waits.seen(outcomes.iter().map(|(vm, _)| *vm), woken);
    let observer = &core.inner.runtime.config.placement_observer;
    for chunk in outcomes.chunks(BATCH) {
        core.place_vms(chunk.to_vec()).await?;
        if observer.is_on() {
            let placed = core.read(|state| {
                Ok(chunk
                    .iter()
                    .filter(|(_, host)| host.is_ok())
                    .filter(|(vm, _)| {
                        state
                            .vms
                            .get(vm)
                            .is_some_and(|v| v.state != nubo_types::states::VmState::Pending)
                    })
                    .map(|(vm, _)| *vm)
                    .collect::<Vec<_>>())
            })?;
            waits.placed(placed, observer);
        }
    }
    Ok(last.filter(|_| more))
}

/// Moves VMs flagged for rescheduling to another host that fits them (live for a RUNNING
/// VM, cold for a powered-off one); a VM that fits nowhere else stays where it is.
async fn resched_round(core: &Core) -> nubo_types::Result<()> {
    let (requests, mut hosts) = core.read(|state| {
        let requests = rescheduled(state);
        let hosts = if requests.is_empty() {
            Vec::new()
        } else {
            candidates(state)
        };
        Ok((requests, hosts))
    })?;
    if requests.is_empty() {
        return Ok(());
    }
    let moves: Vec<(i32, i32)> = place(
        &mut hosts,
        &requests,
        &core.inner.runtime.config.sched_policy,
    )
    .into_iter()
    .filter_map(|d| d.host.ok().map(|h| (d.vm, h)))
    .collect();
    for chunk in moves.chunks(BATCH) {
        core.migrate_vms(chunk.to_vec()).await?;
    }
    Ok(())
}
