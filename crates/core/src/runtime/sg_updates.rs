//! The security-group updater: after a group's rules change (`secgroup.update`,
//! `secgroup.commit`, EC2's Authorize/Revoke), it rewrites the firewall of every running VM
//! in the group on its host, NIC by NIC (UPDATESG carrying the NIC's new rules), beside the
//! VM's own operations and without changing its state. It wakes when a group is committed
//! and, while VMs wait for another operation to finish, every few seconds.

use std::time::Duration;

use nubo_driver::{Change, Operation, Request};

use crate::Core;
use crate::model::{Host, Vm};
use crate::ops::secgroup_updates::SgUpdate;
use crate::ops::vm::security_groups;

/// How often VMs busy with another operation are looked at again.
const RETRY: Duration = Duration::from_secs(2);

/// Runs until the process ends.
pub(crate) async fn run(core: Core) {
    let wake = core.inner.runtime.sg_updates.clone();
    // The first round also takes VMs a previous run left UPDATING.
    let mut restart = true;
    loop {
        let waiting = match core.claim_sg_updates(restart).await {
            Ok((updates, waiting)) => {
                restart = false;
                for update in updates {
                    tokio::spawn(update_vm(core.clone(), update));
                }
                waiting
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for VMs whose security groups changed");
                true
            }
        };
        if waiting {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(RETRY) => {}
            }
        } else {
            wake.notified().await;
        }
    }
}

/// Brings one VM's firewall up to date and records how that went.
async fn update_vm(core: Core, update: SgUpdate) {
    let outcome = refresh(&core, &update).await;
    if let Err(e) = &outcome {
        tracing::warn!(vm_id = update.vm_id, error = %e, "cannot bring the security group rules to the VM");
    }
    let vm_id = update.vm_id;
    if let Err(e) = core.finish_sg_update(update, outcome.is_ok()).await {
        tracing::error!(vm_id, error = %e, "cannot record a security group update");
    }
}

/// Sends the current rules of each NIC of the VM that is in one of the updated groups.
async fn refresh(core: &Core, update: &SgUpdate) -> Result<(), String> {
    let (host, requests) = core
        .read(|state| {
            let vm = state.get::<Vm>(update.vm_id)?;
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
                    let nic_id = nic
                        .iter()
                        .find(|(k, _)| k == "NIC_ID")
                        .and_then(|(_, v)| v.parse().ok())?;
                    let spec = spec.clone().map(|mut s| {
                        s.change = Some(Change::UpdateNic { nic_id });
                        Box::new(s)
                    });
                    Some(Request {
                        vm_id: vm.meta.id,
                        operation: Operation::UpdateSecurityGroups,
                        deploy_id: vm.deploy_id.clone(),
                        host: host.name.clone(),
                        target_host: None,
                        vcpu: vm.vcpu,
                        memory_mb: u64::try_from(vm.memory_mb).unwrap_or(0),
                        spec,
                        migrate_uri: None,
                        // Not one of the VM's own operations: the agent does not count it.
                        seq: 0,
                    })
                })
                .collect();
            Ok((host, requests))
        })
        .map_err(|e| e.to_string())?;
    let driver = core.inner.runtime.drivers.of(&host)?;
    for request in requests {
        driver.execute(request).await?;
    }
    Ok(())
}
