//! `one.zone.*`, `one.zonepool.*`.

use nubo_core::Core;
use nubo_core::model::Zone;

use super::common::{auth, id, info, on, pool0, rename, update, xml};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a zone call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("zone", "allocate") => allocate(core, p).await,
        ("zone", "delete") => delete(core, p).await,
        ("zone", "info") => info::<Zone>(core, p, render::zone),
        ("zone", "update") => update::<Zone>(core, p).await,
        ("zone", "rename") => rename::<Zone>(core, p).await,
        ("zone", "enable") => enable(core, p).await,
        ("zone", "addserver") => addserver(core, p).await,
        ("zone", "delserver") => delserver(core, p).await,
        ("zone", "resetserver") => resetserver(core, p),
        ("zone", "raftstatus") => raftstatus(core, p),
        ("zonepool", "info") => pool0::<Zone>(core, p, render::zone_pool),
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core.zone_allocate(&c, p.str(1)?).await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.zone_delete(&c, oid).await.map_err(on(oid))?)
}

async fn enable(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .zone_enable(&c, oid, p.bool(2)?)
        .await
        .map_err(on(oid))?)
}

async fn addserver(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .zone_addserver(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

async fn delserver(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .zone_delserver(&c, oid, p.int(2)?)
        .await
        .map_err(on(oid))?)
}

fn resetserver(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.zone_resetserver(&c, oid, p.int(2)?).map_err(on(oid))?)
}

fn raftstatus(core: &Core, p: &Params) -> CallResult {
    auth(core, p)?;
    xml(render::raft_status())
}
