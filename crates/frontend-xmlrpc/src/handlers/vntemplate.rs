//! `one.vntemplate.*`, `one.vntemplatepool.*`.

use nubo_core::Core;
use nubo_core::model::VnTemplate;

use super::common::{auth, chmod, chown, id, info, lock, on, pool3, rename, unlock, update};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a virtual network template call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("vntemplate", "allocate") => allocate(core, p).await,
        ("vntemplate", "delete") => delete(core, p).await,
        ("vntemplate", "info") => info::<VnTemplate>(core, p, render::vntemplate),
        ("vntemplate", "update") => update::<VnTemplate>(core, p).await,
        ("vntemplate", "rename") => rename::<VnTemplate>(core, p).await,
        ("vntemplate", "chmod") => chmod::<VnTemplate>(core, p).await,
        ("vntemplate", "chown") => chown::<VnTemplate>(core, p).await,
        ("vntemplate", "lock") => lock::<VnTemplate>(core, p).await,
        ("vntemplate", "unlock") => unlock::<VnTemplate>(core, p).await,
        ("vntemplate", "clone") => clone(core, p).await,
        ("vntemplate", "instantiate") => instantiate(core, p).await,
        ("vntemplatepool", "info") => pool3::<VnTemplate>(core, p, render::vntemplate_pool),
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core.vntemplate_allocate(&c, p.str(1)?).await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.vntemplate_delete(&c, oid).await.map_err(on(oid))?)
}

async fn clone(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .vntemplate_clone(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

async fn instantiate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core
        .vntemplate_instantiate(&c, oid, p.str_or(2, "")?, p.str_or(3, "")?)
        .await;
    id(out.map_err(on(oid))?)
}
