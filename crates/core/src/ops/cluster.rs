//! Cluster operations: allocate, delete, and moving hosts, datastores and networks in and out.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for};
use crate::Core;
use crate::auth::{Caller, authorize, authorize_create};
use crate::model::{Cluster, Datastore, Host, Vnet};
use crate::tx::Tx;

/// The default cluster, which hosts fall back to.
pub const DEFAULT_CLUSTER: Oid = 0;

/// What a cluster can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// A host (in exactly one cluster).
    Host,
    /// A datastore (in any number of clusters).
    Datastore,
    /// A virtual network (in any number of clusters).
    Vnet,
}

/// A new cluster's template: OpenNebula starts every cluster with empty
/// `RESERVED_CPU` and `RESERVED_MEM`, and clients read them.
pub fn new_cluster_template() -> Template {
    let mut template = Template::new();
    template.set("RESERVED_CPU", "");
    template.set("RESERVED_MEM", "");
    template
}

fn cluster_for(tx: &Tx, caller: &Caller, id: Oid) -> Result<Cluster> {
    Ok((*fetch_for::<Cluster>(tx.state, caller, id, AuthOp::Admin)?).clone())
}

impl Core {
    /// Creates a cluster.
    pub async fn cluster_allocate(&self, caller: &Caller, name: &str) -> Result<Oid> {
        let name = name.to_string();
        self.write(move |tx| {
            authorize_create(tx.state, caller, ObjectKind::Cluster)?;
            check_name::<Cluster>(tx.state, &name, -1, None)
                .map_err(|e| Error::allocate(ObjectKind::Cluster, e.to_string()))?;
            let id = tx.next_oid(ObjectKind::Cluster);
            tx.put(Cluster {
                id,
                name,
                hosts: BTreeSet::new(),
                datastores: BTreeSet::new(),
                vnets: BTreeSet::new(),
                template: new_cluster_template(),
            })?;
            Ok(id)
        })
        .await
    }

    /// Deletes an empty cluster (never the default one).
    pub async fn cluster_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            let cluster = cluster_for(tx, caller, id)?;
            if id == DEFAULT_CLUSTER {
                // ClusterPool::drop and Cluster::check_drop, in SharedAPI::delete_object's
                // "Cannot delete cluster. "
                return Err(Error::action(
                    "Cannot delete cluster. System Clusters (ID < 100) cannot be deleted.",
                ));
            }
            for (n, what) in [
                (cluster.hosts.len(), "hosts"),
                (cluster.datastores.len(), "datastores"),
                (cluster.vnets.len(), "vnets"),
            ] {
                if n > 0 {
                    return Err(Error::action(format!(
                        "Cannot delete cluster. Cluster {id} is not empty, it contains {n} {what}."
                    )));
                }
            }
            tx.delete::<Cluster>(id);
            Ok(id)
        })
        .await
    }

    /// Adds an object to a cluster. A host leaves its previous cluster.
    pub async fn cluster_add(
        &self,
        caller: &Caller,
        id: Oid,
        member: Member,
        oid: Oid,
    ) -> Result<Oid> {
        self.write(|tx| {
            let mut cluster = cluster_for(tx, caller, id)?;
            let state = tx.state;
            match member {
                Member::Host => {
                    let mut host = (**state.get::<Host>(oid)?).clone();
                    authorize(state, caller, &host, AuthOp::Admin)?;
                    if host.cluster_id != id {
                        if let Some(old) = state.clusters.get(&host.cluster_id) {
                            let mut old = (**old).clone();
                            old.hosts.remove(&oid);
                            tx.put(old)?;
                        }
                        host.cluster_id = id;
                        host.cluster = cluster.name.clone();
                        cluster.hosts.insert(oid);
                        tx.put(host)?;
                    }
                }
                Member::Datastore => {
                    let mut ds = (**state.get::<Datastore>(oid)?).clone();
                    authorize(state, caller, &ds, AuthOp::Admin)?;
                    ds.clusters.insert(id);
                    cluster.datastores.insert(oid);
                    tx.put(ds)?;
                }
                Member::Vnet => {
                    let mut vnet = (**state.get::<Vnet>(oid)?).clone();
                    authorize(state, caller, &vnet, AuthOp::Admin)?;
                    vnet.clusters.insert(id);
                    cluster.vnets.insert(oid);
                    tx.put(vnet)?;
                }
            }
            tx.put(cluster)?;
            Ok(id)
        })
        .await
    }

    /// Removes an object from a cluster. A host goes back to the default cluster.
    pub async fn cluster_del(
        &self,
        caller: &Caller,
        id: Oid,
        member: Member,
        oid: Oid,
    ) -> Result<Oid> {
        self.write(|tx| {
            let mut cluster = cluster_for(tx, caller, id)?;
            let state = tx.state;
            let not_member = || Error::action(format!("Object {oid} is not in cluster {id}"));
            match member {
                Member::Host => {
                    let mut host = (**state.get::<Host>(oid)?).clone();
                    authorize(state, caller, &host, AuthOp::Admin)?;
                    if !cluster.hosts.remove(&oid) {
                        return Err(not_member());
                    }
                    if id == DEFAULT_CLUSTER {
                        return Err(Error::action(
                            "A host cannot leave the default cluster; add it to another cluster instead",
                        ));
                    }
                    let mut default = (**state.get::<Cluster>(DEFAULT_CLUSTER)?).clone();
                    default.hosts.insert(oid);
                    host.cluster_id = DEFAULT_CLUSTER;
                    host.cluster = default.name.clone();
                    tx.put(default)?;
                    tx.put(host)?;
                }
                Member::Datastore => {
                    let mut ds = (**state.get::<Datastore>(oid)?).clone();
                    authorize(state, caller, &ds, AuthOp::Admin)?;
                    if !cluster.datastores.remove(&oid) {
                        return Err(not_member());
                    }
                    ds.clusters.remove(&id);
                    tx.put(ds)?;
                }
                Member::Vnet => {
                    let mut vnet = (**state.get::<Vnet>(oid)?).clone();
                    authorize(state, caller, &vnet, AuthOp::Admin)?;
                    if !cluster.vnets.remove(&oid) {
                        return Err(not_member());
                    }
                    vnet.clusters.remove(&id);
                    tx.put(vnet)?;
                }
            }
            tx.put(cluster)?;
            Ok(id)
        })
        .await
    }

    /// Every cluster's id and name, in id order: facts every user may know (the EC2 API
    /// shows clusters as availability zones).
    pub fn cluster_names(&self) -> Result<Vec<(Oid, String)>> {
        self.read(|s| {
            let mut all: Vec<(Oid, String)> = s
                .clusters
                .values()
                .map(|c| (c.id, c.name.clone()))
                .collect();
            all.sort();
            Ok(all)
        })
    }

    /// Checks a cluster for the DRS calls (optimize, planexecute, plandelete): Nubo's
    /// scheduler places VMs as events happen, so there is never a pending plan.
    pub fn cluster_plan_check(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.read(|state| {
            let cluster = state.get::<Cluster>(id)?;
            authorize(state, caller, cluster.as_ref(), AuthOp::Admin)?;
            Ok(id)
        })
    }
}
