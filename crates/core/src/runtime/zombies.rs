//! Zombies (OpenNebula's word): guests a host still has that the cloud deleted without it —
//! `recover` with delete-db, as the PaaS does with the instances of a host that stopped
//! answering. When that host is back and its report names one, the host is told to drop
//! it: a CLEANUP without the VM's description (its container or QEMU stopped, its files
//! removed), at most once every [`ASK_EVERY`] per VM. Otherwise it would run on, with the
//! address its lease gave back to the network and another VM may have now. Guests the
//! cloud never had, or whose VM is alive elsewhere, are left alone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nubo_driver::{HostReport, Operation};
use nubo_types::states::VmState;

use crate::Core;
use crate::model::{Host, Vm};
use crate::state::State;

/// How long a host has to drop a zombie before it is asked again.
const ASK_EVERY: Duration = Duration::from_secs(60);

/// When each zombie's host was last asked to drop it.
#[derive(Debug, Default)]
pub(crate) struct Zombies {
    asked: Mutex<HashMap<i32, Instant>>,
}

/// How long a VM has been deleted before its guest counts as a zombie (a report made
/// while the host was still cleaning it up after a delete names it too).
const DONE_FOR: i64 = 30;

/// The VMs `report` (from `host`) names that the cloud deleted, while on that host, at
/// least [`DONE_FOR`] seconds before `now`.
pub(crate) fn in_report(state: &State, host: &Host, report: &HostReport, now: i64) -> Vec<i32> {
    report
        .vms
        .iter()
        .map(|v| v.vm_id)
        .filter(|id| {
            state.vms.get(id).is_some_and(|vm| {
                vm.state == VmState::Done
                    && now - vm.etime >= DONE_FOR
                    && vm.current().is_some_and(|h| h.hid == host.id)
            })
        })
        .collect()
}

/// Asks host `host_id` to drop each of `vm_ids` not asked about lately.
pub(crate) fn drop_zombies(core: &Core, host_id: i32, vm_ids: Vec<i32>) {
    let runtime = &core.inner.runtime;
    let due: Vec<i32> = {
        let mut asked = runtime
            .zombies
            .asked
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        asked.retain(|_, at| at.elapsed() < ASK_EVERY);
        vm_ids
            .into_iter()
            .filter(|id| {
                let first = !asked.contains_key(id);
                asked.entry(*id).or_insert_with(Instant::now);
                first
            })
            .collect()
    };
    for vm_id in due {
        let prepared = core.read(|state| {
            let vm = state.get::<Vm>(vm_id)?;
            let host = state.get::<Host>(host_id)?;
            let request = super::drivers::request_for(vm, host, Operation::Cleanup, 0);
            Ok((runtime.drivers.of(host), request, host.name.clone()))
        });
        let Ok((Ok(driver), request, host)) = prepared else {
            continue;
        };
        tracing::warn!(
            vm_id,
            host,
            "host runs a VM the cloud deleted without it: telling it to drop it"
        );
        tokio::spawn(async move {
            if let Err(e) = driver.execute(request).await {
                tracing::warn!(vm_id, host, error = %e, "cannot drop a deleted VM's guest");
            }
        });
    }
}
