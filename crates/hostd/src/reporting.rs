//! What the agent tells nubod on its own: a hello when it starts (repeated until nubod
//! answers), carrying the address nubod should use, then the host's full report (capacity,
//! use, disk space, guests with their CPU, memory and network bytes, and the last
//! operation carried out on each), pushed every `push_every` and at once whenever a guest
//! changes state (one powered off, one went away). The guests are looked at every
//! [`LOOK_EVERY`], and also as soon as the driver says a guest's process ended (the
//! container driver does: a build container's end reaches nubod within milliseconds, not
//! up to two seconds later).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nubo_driver::{GuestState, Hypervisor};
use nubo_hostapi::Hello;
use nubo_hostapi::front::{hello, push_report};
use nubo_hostapi::images::HostIdentity;
use tokio::sync::Notify;

/// How often the guests are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// The least time between two looks, when the driver says guests ended (several ending
/// together are one look).
const LOOK_AGAIN_AFTER: Duration = Duration::from_millis(20);

/// Runs forever: a hello, then reports to nubod at `front`.
pub async fn run(
    driver: Arc<dyn Hypervisor>,
    who: HostIdentity,
    front: String,
    endpoint: Option<String>,
    push_every: Duration,
    guest_ended: Option<Arc<Notify>>,
) {
    let message = Hello { endpoint };
    let mut said = false;
    let mut last: Option<BTreeMap<i32, GuestState>> = None;
    let mut pushed: Option<Instant> = None;
    loop {
        if !said {
            match hello(&who, &front, &message).await {
                Ok(()) => {
                    tracing::info!(%front, "nubod knows this agent");
                    said = true;
                }
                Err(e) => tracing::warn!(%front, error = %e, "cannot say hello to nubod"),
            }
        }
        if let Ok(report) = driver.monitor().await {
            let now: BTreeMap<i32, GuestState> =
                report.vms.iter().map(|v| (v.vm_id, v.state)).collect();
            let changed = last.as_ref().is_some_and(|l| *l != now);
            let due = pushed.is_none_or(|at| at.elapsed() >= push_every);
            if said && (changed || due) {
                match push_report(&who, &front, &report).await {
                    Ok(()) => {
                        pushed = Some(Instant::now());
                        last = Some(now);
                    }
                    // The change is told again at the next look.
                    Err(e) => tracing::warn!(%front, error = %e, "cannot push the report to nubod"),
                }
            } else if last.is_none() {
                last = Some(now);
            }
        }
        match &guest_ended {
            Some(ended) => {
                tokio::time::sleep(LOOK_AGAIN_AFTER).await;
                tokio::select! {
                    _ = tokio::time::sleep(LOOK_EVERY - LOOK_AGAIN_AFTER) => {}
                    _ = ended.notified() => {}
                }
            }
            None => tokio::time::sleep(LOOK_EVERY).await,
        }
    }
}
