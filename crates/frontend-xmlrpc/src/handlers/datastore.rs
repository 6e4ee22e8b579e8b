//! `one.datastore.*`, `one.datastorepool.*`.

use nubo_core::Core;
use nubo_core::model::Datastore;

use super::common::{auth, chmod, chown, id, info, on, pool0, rename, update};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a datastore call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("datastore", "allocate") => allocate(core, p).await,
        ("datastore", "delete") => delete(core, p).await,
        ("datastore", "info") => info::<Datastore>(core, p, render::datastore),
        ("datastore", "update") => update::<Datastore>(core, p).await,
        ("datastore", "rename") => rename::<Datastore>(core, p).await,
        ("datastore", "chmod") => chmod::<Datastore>(core, p).await,
        ("datastore", "chown") => chown::<Datastore>(core, p).await,
        ("datastore", "enable") => enable(core, p).await,
        ("datastorepool", "info") => pool0::<Datastore>(core, p, render::datastore_pool),
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core
        .datastore_allocate(&c, p.str(1)?, p.int_or(2, -1)?)
        .await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.datastore_delete(&c, oid).await.map_err(on(oid))?)
}

async fn enable(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .datastore_enable(&c, oid, p.bool(2)?)
        .await
        .map_err(on(oid))?)
}
