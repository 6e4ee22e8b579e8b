//! The timer of scheduled actions: runs the VMs' SCHED_ACTIONs when they are due. It
//! sleeps until the next one (at most a second, so relative times and clock changes are
//! seen) or until an action is added or changed.

use std::time::Duration;

use crate::Core;

/// Runs until the process ends.
pub(crate) async fn run(core: Core) {
    let wake = core.inner.runtime.timer.clone();
    loop {
        let next = core.run_due_sched_actions().await;
        let wait = next.map(|at| (at - crate::now()).clamp(0, 1)).unwrap_or(1);
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(u64::try_from(wait).unwrap_or(1))) => {}
        }
    }
}
