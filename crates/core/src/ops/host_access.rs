//! Host agents and the front-end: the secret that checks an agent's signatures, what an
//! agent may ask (the file of an image a VM on its host uses) and send (a disk saved as
//! an image, or a persistent image given back, by a VM on its host), an agent's hello (its
//! address, and "look at me now"), and a VM's serial console and health check commands,
//! asked of its host.

use std::path::PathBuf;

use nubo_types::{Error, Result};

use crate::Core;
use crate::model::Image;

/// The console offset that asks for the last piece of a VM's console output.
pub use nubo_driver::CONSOLE_TAIL;

impl Core {
    /// The secret of host `name`'s agent (derived from the front-end's host key); none
    /// when this front-end has no host key.
    pub fn host_secret(&self, name: &str) -> Option<String> {
        let key = &self.inner.runtime.config.host_key;
        (!key.0.is_empty()).then(|| key.secret_of(name))
    }

    /// The file of image `image_id`, if a VM on host `host_name` (or on its way there or
    /// away from it) uses it.
    pub fn image_file_for_host(&self, host_name: &str, image_id: i32) -> Result<PathBuf> {
        self.read(|state| {
            let host = state.host_named(host_name)?;
            let image = state.get::<Image>(image_id)?;
            let used_there = image.vms.iter().any(|vid| {
                state.vms.get(vid).is_some_and(|vm| {
                    vm.history.iter().rev().take(2).any(|h| h.hid == host.id)
                        || vm.migrating_from.as_ref().is_some_and(|h| h.hid == host.id)
                })
            });
            if !used_there {
                return Err(Error::action(format!(
                    "no VM on host {} uses image {image_id}",
                    host.name
                )));
            }
            Ok(PathBuf::from(&image.source))
        })
    }

    /// Where the content of image `image_id` goes when host `host_name`'s agent sends it:
    /// only for the LOCKED image a disk-saveas of a VM on that host is making, or for a
    /// persistent image a VM on that host worked on, when the VM ends (EPILOG) or lets go
    /// of the disk.
    pub fn image_upload_target(&self, host_name: &str, image_id: i32) -> Result<PathBuf> {
        use crate::model::PendingChange;
        use nubo_types::states::{ImageState, LcmState};
        self.read(|state| {
            let host = state.host_named(host_name)?;
            let image = state.get::<Image>(image_id)?;
            let on_host = |vm: &crate::model::Vm| vm.current().is_some_and(|h| h.hid == host.id);
            let saving_here = state.vms.values().any(|vm| {
                matches!(vm.pending, Some(PendingChange::DiskSaveas { image_id: i, .. }) if i == image_id)
                    && on_host(vm)
            });
            // A persistent image comes back when its VM ends or lets go of the disk.
            let giving_back = |vm: &crate::model::Vm| match vm.pending {
                Some(PendingChange::DetachDisk { disk_id }) => vm.template.vectors("DISK").any(|d| {
                    let id = |k| crate::ops::address_range::value(d, k);
                    id("DISK_ID") == Some(disk_id.to_string().as_str())
                        && id("IMAGE_ID") == Some(image_id.to_string().as_str())
                }),
                _ => matches!(
                    vm.lcm_state,
                    LcmState::Epilog | LcmState::CleanupDelete | LcmState::CleanupResubmit
                ),
            };
            let returned_here = image.persistent
                && image.vms.iter().any(|id| {
                    state
                        .vms
                        .get(id)
                        .is_some_and(|vm| giving_back(vm) && on_host(vm))
                });
            let saved_here = image.state == ImageState::Locked && saving_here;
            if !(saved_here || returned_here) {
                return Err(Error::action(format!(
                    "no VM on host {} is saving a disk into image {image_id} or giving it back",
                    host.name
                )));
            }
            Ok(PathBuf::from(&image.source))
        })
    }

    /// What VM `id`'s serial console printed from byte `offset` on ([`CONSOLE_TAIL`]: its
    /// last piece), asked of the host it runs on (MANAGE rights on the VM).
    pub async fn vm_console(
        &self,
        caller: &crate::Caller,
        id: i32,
        offset: u64,
    ) -> Result<nubo_driver::ConsoleChunk> {
        let driver = self.driver_of_vm(caller, id, false)?;
        driver.console(id, offset).await.map_err(Error::action)
    }

    /// Runs `command` (a program and its arguments) in VM `id`'s guest, on the host it runs
    /// on, and waits for it, at most `timeout` (MANAGE rights on the VM, which must be
    /// RUNNING): a health check's probe. Unlike `vm.exec`, nothing of the VM changes and
    /// nothing is recorded.
    pub async fn vm_run_check(
        &self,
        caller: &crate::Caller,
        id: i32,
        command: Vec<String>,
        timeout: std::time::Duration,
    ) -> Result<nubo_driver::CheckOutcome> {
        let driver = self.driver_of_vm(caller, id, true)?;
        driver
            .run_check(id, command, timeout)
            .await
            .map_err(Error::action)
    }

    /// The driver of the host VM `id` runs (or last ran) on, for a caller with MANAGE
    /// rights on it; only while it is RUNNING when `running`.
    fn driver_of_vm(
        &self,
        caller: &crate::Caller,
        id: i32,
        running: bool,
    ) -> Result<std::sync::Arc<dyn nubo_driver::Hypervisor>> {
        use crate::model::{Host, Vm};
        use crate::ops::generic::fetch_for;
        use nubo_types::AuthOp;
        use nubo_types::states::{LcmState, VmState};
        self.read(|state| {
            let vm = fetch_for::<Vm>(state, caller, id, AuthOp::Manage)?;
            if running && (vm.state, vm.lcm_state) != (VmState::Active, LcmState::Running) {
                return Err(Error::action(format!("VM {id} is not RUNNING")));
            }
            let hid = vm
                .current()
                .map(|h| h.hid)
                .ok_or_else(|| Error::action(format!("VM {id} has not run on any host")))?;
            let host = state.get::<Host>(hid)?;
            self.inner.runtime.drivers.of(host).map_err(Error::action)
        })
    }

    /// A host agent said hello (when it starts): its address is
    /// recorded as the host's `HOSTD_ENDPOINT` when it gave one, and hosts are monitored
    /// now rather than at the next round.
    pub async fn host_hello(&self, host_name: &str, endpoint: Option<String>) -> Result<()> {
        use crate::model::Host;
        let hid = self.read(|state| state.host_named(host_name).map(|h| h.id))?;
        if let Some(url) = endpoint {
            nubo_hostapi::Endpoint::parse(&url).map_err(Error::api)?;
            self.write(move |tx| {
                let current = tx.get::<Host>(hid)?;
                if current.template.get("HOSTD_ENDPOINT") != Some(url.as_str()) {
                    let mut host = (*current).clone();
                    host.template.set("HOSTD_ENDPOINT", url);
                    tx.put(host)?;
                }
                Ok(())
            })
            .await?;
        }
        self.inner.runtime.monitor_now.notify_one();
        Ok(())
    }
}
