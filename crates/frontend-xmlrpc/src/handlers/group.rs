//! `one.group.*`, `one.grouppool.*`, `one.groupquota.*`.

use nubo_core::Core;
use nubo_core::model::Group;

use super::common::{auth, id, on, update, xml};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a group call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("group", "allocate") => allocate(core, p).await,
        ("group", "delete") => delete(core, p).await,
        ("group", "info") => info(core, p),
        ("group", "update") => update::<Group>(core, p).await,
        ("group", "addadmin") => admin(core, p, true).await,
        ("group", "deladmin") => admin(core, p, false).await,
        ("group", "quota") => quota(core, p).await,
        ("group", "vlan") => vlan(core, p).await,
        ("grouppool", "info") => pool(core, p),
        ("groupquota", "info") => defaults(core, p),
        ("groupquota", "update") => defaults_update(core, p).await,
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core.group_allocate(&c, p.str(1)?).await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.group_delete(&c, oid).await.map_err(on(oid))?)
}

fn info(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let group = core.group_info(&c, oid).map_err(on(oid))?;
    xml(render::group(&group, &core.default_group_quotas()?))
}

async fn admin(core: &Core, p: &Params, add: bool) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .group_admin(&c, oid, p.int(2)?, add)
        .await
        .map_err(on(oid))?)
}

async fn vlan(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.group_vlan(&c, oid, p.str(2)?).await.map_err(on(oid))?)
}

async fn quota(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .group_quota(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

fn pool(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let groups = core.pool_info::<Group>(&c, nubo_core::PoolFilter::ALL)?;
    xml(render::group_pool(&groups, &core.default_group_quotas()?))
}

fn defaults(core: &Core, p: &Params) -> CallResult {
    auth(core, p)?;
    xml(render::group_quota_defaults(&core.default_group_quotas()?))
}

async fn defaults_update(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let quotas = core.default_group_quotas_update(&c, p.str(1)?).await?;
    xml(render::group_quota_defaults(&quotas))
}
