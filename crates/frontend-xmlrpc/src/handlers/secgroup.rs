//! `one.secgroup.*`, `one.secgrouppool.*`.

use nubo_core::Core;
use nubo_core::model::SecGroup;

use super::common::{auth, chmod, chown, id, info, on, pool3, rename};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a security group call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("secgroup", "allocate") => allocate(core, p).await,
        ("secgroup", "delete") => delete(core, p).await,
        ("secgroup", "info") => info::<SecGroup>(core, p, render::secgroup),
        ("secgroup", "update") => update(core, p).await,
        ("secgroup", "rename") => rename::<SecGroup>(core, p).await,
        ("secgroup", "chmod") => chmod::<SecGroup>(core, p).await,
        ("secgroup", "chown") => chown::<SecGroup>(core, p).await,
        ("secgroup", "clone") => clone(core, p).await,
        ("secgroup", "commit") => commit(core, p).await,
        ("secgrouppool", "info") => pool3::<SecGroup>(core, p, render::secgroup_pool),
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core.secgroup_allocate(&c, p.str(1)?).await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.secgroup_delete(&c, oid).await.map_err(on(oid))?)
}

async fn update(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core
        .secgroup_update(&c, oid, p.str(2)?, p.int_or(3, 0)?)
        .await;
    id(out.map_err(on(oid))?)
}

async fn clone(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .secgroup_clone(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

async fn commit(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .secgroup_commit(&c, oid, p.bool_or(2, false)?)
        .await
        .map_err(on(oid))?)
}
