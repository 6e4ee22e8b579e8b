//! `one.cluster.*`, `one.clusterpool.*`.

use nubo_core::Core;
use nubo_core::model::Cluster;
use nubo_core::ops::cluster::Member;

use super::common::{auth, id, info, on, pool0, rename, update};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a cluster call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("cluster", "allocate") => allocate(core, p).await,
        ("cluster", "delete") => delete(core, p).await,
        ("cluster", "info") => info::<Cluster>(core, p, render::cluster),
        ("cluster", "update") => update::<Cluster>(core, p).await,
        ("cluster", "rename") => rename::<Cluster>(core, p).await,
        ("cluster", "addhost") => member(core, p, Member::Host, true).await,
        ("cluster", "delhost") => member(core, p, Member::Host, false).await,
        ("cluster", "adddatastore") => member(core, p, Member::Datastore, true).await,
        ("cluster", "deldatastore") => member(core, p, Member::Datastore, false).await,
        ("cluster", "addvnet") => member(core, p, Member::Vnet, true).await,
        ("cluster", "delvnet") => member(core, p, Member::Vnet, false).await,
        ("cluster", "optimize") => plan(core, p, Plan::Optimize),
        ("cluster", "planexecute") => plan(core, p, Plan::Execute),
        ("cluster", "plandelete") => plan(core, p, Plan::Delete),
        ("clusterpool", "info") => pool0::<Cluster>(core, p, render::cluster_pool),
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core.cluster_allocate(&c, p.str(1)?).await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.cluster_delete(&c, oid).await.map_err(on(oid))?)
}

async fn member(core: &Core, p: &Params, kind: Member, add: bool) -> CallResult {
    let c = auth(core, p)?;
    let (cid, oid) = (p.int(1)?, p.int(2)?);
    let out = if add {
        core.cluster_add(&c, cid, kind, oid).await
    } else {
        core.cluster_del(&c, cid, kind, oid).await
    };
    id(out.map_err(on(cid))?)
}

/// The DRS calls on a cluster's plan.
enum Plan {
    Optimize,
    Execute,
    Delete,
}

/// DRS calls: placement is event-driven, so a cluster never has a plan. Optimizing
/// succeeds (there is nothing to improve); executing or deleting a plan fails as
/// OpenNebula fails for a cluster whose plan is empty.
fn plan(core: &Core, p: &Params, call: Plan) -> CallResult {
    let c = auth(core, p)?;
    let cid = p.int(1)?;
    core.cluster_plan_check(&c, cid).map_err(on(cid))?;
    let refusal = match call {
        Plan::Optimize => return id(cid),
        Plan::Execute => "Plan is not ready".to_string(),
        Plan::Delete => format!("Plan for cluster {cid} does not exist"),
    };
    Err(on(cid)(nubo_types::Error::action(refusal)))
}
