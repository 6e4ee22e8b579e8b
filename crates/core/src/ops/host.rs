//! Host operations: allocate, delete, status (enable, disable, offline).

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::states::HostState;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for};
use crate::Core;
use crate::auth::{Caller, authorize_create_in};
use crate::model::{Cluster, Host, HostShare};

impl Core {
    /// Registers a host in `cluster` (-1: the default cluster).
    pub async fn host_allocate(
        &self,
        caller: &Caller,
        name: &str,
        im_mad: &str,
        vm_mad: &str,
        cluster: Oid,
    ) -> Result<Oid> {
        let (name, im_mad, vm_mad) = (name.to_string(), im_mad.to_string(), vm_mad.to_string());
        let cluster_id = if cluster == -1 { 0 } else { cluster };
        self.write(move |tx| {
            // oned's SharedAPI::allocate: the cluster must exist, and the caller may
            // create hosts and administer it (-1 is the default cluster there too).
            let in_cluster = tx.state.get::<Cluster>(cluster_id)?;
            authorize_create_in(tx.state, caller, ObjectKind::Host, in_cluster)?;
            let alloc = |m: String| Error::allocate(ObjectKind::Host, m);
            check_name::<Host>(tx.state, &name, -1, None).map_err(|e| alloc(e.to_string()))?;
            // HostPool::allocate's wording.
            if im_mad.trim().is_empty() {
                return Err(alloc("IM_MAD_NAME cannot be empty.".into()));
            }
            if vm_mad.trim().is_empty() {
                return Err(alloc("VMM_MAD_NAME cannot be empty.".into()));
            }
            let mut cluster = (**tx.state.get::<Cluster>(cluster_id)?).clone();
            let id = tx.next_oid(ObjectKind::Host);
            cluster.hosts.insert(id);
            let cluster_name = cluster.name.clone();
            tx.put(cluster)?;
            tx.put(Host {
                id,
                name,
                state: HostState::Init,
                prev_state: HostState::Init,
                im_mad,
                vm_mad,
                cluster_id,
                cluster: cluster_name,
                share: HostShare::default(),
                vms: BTreeSet::new(),
                template: Template::new(),
                last_monitored: 0,
            })?;
            Ok(id)
        })
        .await
        .inspect(|_| self.monitor_soon())
    }

    /// Deletes a host that runs no VMs.
    pub async fn host_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            let host = fetch_for::<Host>(tx.state, caller, id, AuthOp::Admin)?;
            if !host.vms.is_empty() {
                // HostAPI::drop, in SharedAPI::delete_object's "Cannot delete <object>. "
                return Err(Error::action(
                    "Cannot delete host. Can not remove a host with running VMs",
                ));
            }
            if let Some(cluster) = tx.state.clusters.get(&host.cluster_id) {
                let mut cluster = (**cluster).clone();
                cluster.hosts.remove(&id);
                tx.put(cluster)?;
            }
            tx.delete::<Host>(id);
            Ok(id)
        })
        .await
        .inspect(|_| self.forget_driver(id))
    }

    /// Enables (0), disables (1) or sets offline (2) a host.
    pub async fn host_status(&self, caller: &Caller, id: Oid, status: i32) -> Result<Oid> {
        let target = match status {
            0 => Some(None),
            1 => Some(Some(HostState::Disabled)),
            2 => Some(Some(HostState::Offline)),
            _ => None,
        };
        self.write(|tx| {
            let mut host = (*fetch_for::<Host>(tx.state, caller, id, AuthOp::Admin)?).clone();
            // HostAPI::status: an unknown status, once the host is found and authorized.
            let target = target.ok_or_else(|| Error::internal("Wrong status code"))?;
            let new_state = target.unwrap_or(if host.last_monitored > 0 {
                HostState::Monitored
            } else {
                HostState::Init
            });
            if host.state != new_state {
                host.prev_state = host.state;
                host.state = new_state;
            }
            tx.put(host)?;
            Ok(id)
        })
        .await
        .inspect(|_| {
            self.wake_scheduler();
            self.monitor_soon();
        })
    }
}
