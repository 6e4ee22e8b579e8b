//! The security-group updater: after a group's rules change (`secgroup.update`,
//! `secgroup.commit`, EC2's Authorize/Revoke), it rewrites the firewall of every running VM
//! in the group on its host, NIC by NIC (UPDATESG carrying the NIC's new rules), beside the
//! VM's own operations and without changing its state. One update per VM at a time, a
//! bounded number at once. It wakes when a group is committed or an update ends, and looks
//! every few seconds (for VMs that waited for another operation, and groups outdated because
//! the members of a group their rules name changed); VMs whose update failed (ERROR) are
//! tried again every half minute.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nubo_driver::{Change, Operation, Request};
use nubo_types::Oid;
use tokio::sync::Semaphore;

use crate::Core;
use crate::model::{Host, Vm};
use crate::ops::address_range::value;
use crate::ops::secgroup_updates::{Also, Outcome, SgUpdate, Step, step};
use crate::ops::vm::security_groups;

use super::drivers::request_for;

/// How often outdated VMs are looked for without being woken.
const ROUND: Duration = Duration::from_secs(2);
/// Most updates sent to hosts at once.
const AT_ONCE: usize = 16;
/// Every how many rounds VMs whose update failed are tried again.
const RETRY_FAILED: u32 = 15;

/// Runs until the process ends.
pub(crate) async fn run(core: Core) {
    let wake = core.inner.runtime.sg_updates.clone();
    let in_flight: Arc<Mutex<HashSet<Oid>>> = Arc::default();
    let slots = Arc::new(Semaphore::new(AT_ONCE));
    // The first round also takes VMs a previous run left UPDATING.
    let mut restart = true;
    let mut round: u32 = 0;
    loop {
        round = round.wrapping_add(1);
        let also = Also {
            updating: restart,
            failed: round.is_multiple_of(RETRY_FAILED),
        };
        let busy = in_flight.lock().map(|s| s.clone()).unwrap_or_default();
        match core.claim_sg_updates(also, &busy).await {
            Ok(updates) => {
                restart = false;
                for update in updates {
                    let flight = InFlight::new(&core, &in_flight, update.vm_id);
                    let (core, slots) = (core.clone(), slots.clone());
                    tokio::spawn(async move {
                        let _flight = flight;
                        if let Ok(_slot) = slots.acquire().await {
                            update_vm(&core, update).await;
                        }
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for VMs whose security groups changed");
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(ROUND) => {}
        }
    }
}

/// A VM's place in the set of updates in flight, given back (and the updater woken) when
/// the update ends, however it ends.
struct InFlight {
    core: Core,
    set: Arc<Mutex<HashSet<Oid>>>,
    vm_id: Oid,
}

impl InFlight {
    fn new(core: &Core, set: &Arc<Mutex<HashSet<Oid>>>, vm_id: Oid) -> InFlight {
        if let Ok(mut s) = set.lock() {
            s.insert(vm_id);
        }
        InFlight {
            core: core.clone(),
            set: set.clone(),
            vm_id,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.vm_id);
        }
        self.core.wake_sg_updates();
    }
}

/// Brings one VM's firewall up to date and records how that went.
async fn update_vm(core: &Core, update: SgUpdate) {
    let outcome = match refresh(core, &update).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(vm_id = update.vm_id, error = %e, "cannot bring the security group rules to the VM");
            Outcome::Failed
        }
    };
    let vm_id = update.vm_id;
    if let Err(e) = core.finish_sg_update(update, outcome).await {
        tracing::error!(vm_id, error = %e, "cannot record a security group update");
    }
}

/// Sends the current rules of each NIC of the VM that is in one of the updated groups, if
/// the VM is still running with nothing else in flight (else it is to be tried again).
async fn refresh(core: &Core, update: &SgUpdate) -> Result<Outcome, String> {
    let prepared = core
        .read(|state| {
            let vm = state.get::<Vm>(update.vm_id)?;
            if step(Some(vm)) != Step::Update {
                return Ok(None);
            }
            let hid = vm.current().map(|h| h.hid).unwrap_or(-1);
            let host = state.get::<Host>(hid)?.clone();
            let wants_spec = core
                .inner
                .runtime
                .drivers
                .of(&host)
                .is_ok_and(|d| d.wants_spec());
            let spec = wants_spec.then(|| {
                super::spec::build(state, vm, core.inner.runtime.config.host_api_url.as_deref())
            });
            let requests: Vec<Request> = vm
                .template
                .vectors("NIC")
                .filter(|nic| {
                    security_groups(nic)
                        .iter()
                        .any(|g| update.group_ids.contains(g))
                })
                .filter_map(|nic| {
                    let nic_id = value(nic, "NIC_ID")?.parse().ok()?;
                    let spec = spec.clone().map(|mut s| {
                        s.change = Some(Change::UpdateNic { nic_id });
                        Box::new(s)
                    });
                    // Not one of the VM's own operations (number 0): the agent does not
                    // count it.
                    Some(Request {
                        spec,
                        ..request_for(vm, &host, Operation::UpdateSecurityGroups, 0)
                    })
                })
                .collect();
            Ok(Some((host, requests)))
        })
        .map_err(|e| e.to_string())?;
    let Some((host, requests)) = prepared else {
        return Ok(Outcome::Retry);
    };
    let driver = core.inner.runtime.drivers.of(&host)?;
    for request in requests {
        driver.execute(request).await?;
    }
    Ok(Outcome::Updated)
}
