//! `one.vn.*`, `one.vnpool.*`.

use nubo_core::Core;
use nubo_core::model::Vnet;

use super::common::{auth, chmod, chown, id, info, lock, on, pool3, rename, unlock};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a virtual network call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("vn", "allocate") => allocate(core, p).await,
        ("vn", "delete") => delete(core, p).await,
        ("vn", "info") => info::<Vnet>(core, p, render::vnet),
        ("vn", "update") => update(core, p).await,
        ("vn", "rename") => rename::<Vnet>(core, p).await,
        ("vn", "chmod") => chmod::<Vnet>(core, p).await,
        ("vn", "chown") => chown::<Vnet>(core, p).await,
        ("vn", "lock") => lock::<Vnet>(core, p).await,
        ("vn", "unlock") => unlock::<Vnet>(core, p).await,
        ("vn", "add_ar") => add_ar(core, p).await,
        ("vn", "rm_ar") => rm_ar(core, p).await,
        ("vn", "update_ar") => update_ar(core, p).await,
        ("vn", "free_ar") => free_ar(core, p).await,
        ("vn", "reserve") => reserve(core, p).await,
        ("vn", "hold") => leases(core, p, true).await,
        ("vn", "release") => leases(core, p, false).await,
        ("vn", "recover") => recover(core, p).await,
        ("vnpool", "info") => pool3::<Vnet>(core, p, render::vnet_pool),
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core.vnet_allocate(&c, p.str(1)?, p.int_or(2, -1)?).await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.vnet_delete(&c, oid).await.map_err(on(oid))?)
}

async fn update(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core.vnet_update(&c, oid, p.str(2)?, p.int_or(3, 0)?).await;
    id(out.map_err(on(oid))?)
}

async fn add_ar(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .vnet_add_ar(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

async fn rm_ar(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core
        .vnet_rm_ar(&c, oid, p.int(2)?, p.bool_or(3, false)?)
        .await;
    id(out.map_err(on(oid))?)
}

async fn update_ar(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .vnet_update_ar(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

async fn free_ar(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .vnet_free_ar(&c, oid, p.int(2)?)
        .await
        .map_err(on(oid))?)
}

async fn reserve(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .vnet_reserve(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

async fn leases(core: &Core, p: &Params, hold: bool) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let text = p.str(2)?;
    let out = if hold {
        core.vnet_hold(&c, oid, text).await
    } else {
        core.vnet_release(&c, oid, text).await
    };
    id(out.map_err(on(oid))?)
}

async fn recover(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .vnet_recover(&c, oid, p.int(2)?)
        .await
        .map_err(on(oid))?)
}
