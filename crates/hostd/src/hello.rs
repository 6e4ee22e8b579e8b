//! Telling nubod about this agent: a hello when it starts (repeated until nubod answers),
//! carrying the address nubod should use, and another whenever its guests change (one
//! powered off, one went away), so nubod looks at the host at once instead of at its next
//! monitoring round.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use nubo_driver::{GuestState, Hypervisor};
use nubo_hostapi::Hello;
use nubo_hostapi::images::{HostIdentity, hello};

/// How often the guests are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Runs forever: hellos to nubod at `front`.
pub async fn run(
    driver: Arc<dyn Hypervisor>,
    who: HostIdentity,
    front: String,
    endpoint: Option<String>,
) {
    let message = Hello { endpoint };
    let mut said = false;
    let mut last: Option<BTreeMap<i32, GuestState>> = None;
    loop {
        let now = driver.monitor().await.ok().map(|r| {
            r.vms
                .iter()
                .map(|v| (v.vm_id, v.state))
                .collect::<BTreeMap<_, _>>()
        });
        let changed = now.is_some() && last.is_some() && now != last;
        if !said || changed {
            match hello(&who, &front, &message).await {
                Ok(()) => {
                    if !said {
                        tracing::info!(%front, "nubod knows this agent");
                    }
                    said = true;
                }
                Err(e) => tracing::warn!(%front, error = %e, "cannot say hello to nubod"),
            }
        }
        if now.is_some() {
            last = now;
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}
