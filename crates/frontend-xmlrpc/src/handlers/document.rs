//! `one.document.*`, `one.documentpool.*`.

use nubo_core::model::Document;
use nubo_core::{Core, PoolFilter};

use super::common::{auth, chmod, chown, id, info, lock, on, rename, unlock, update, xml};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a document call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("document", "allocate") => allocate(core, p).await,
        ("document", "delete") => delete(core, p).await,
        ("document", "info") => info::<Document>(core, p, render::document),
        ("document", "update") => update::<Document>(core, p).await,
        ("document", "rename") => rename::<Document>(core, p).await,
        ("document", "chmod") => chmod::<Document>(core, p).await,
        ("document", "chown") => chown::<Document>(core, p).await,
        ("document", "lock") => lock::<Document>(core, p).await,
        ("document", "unlock") => unlock::<Document>(core, p).await,
        ("document", "clone") => clone(core, p).await,
        ("documentpool", "info") => pool(core, p),
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core.document_allocate(&c, p.str(1)?, p.int(2)?).await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.document_delete(&c, oid).await.map_err(on(oid))?)
}

async fn clone(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .document_clone(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

/// `documentpool.info(filter, start, end, type)`; type -1 lists every type.
fn pool(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let filter = PoolFilter {
        filter: p.int(1)?,
        start: p.int(2)?,
        end: p.int(3)?,
    };
    let docs = core.document_pool(&c, filter, p.int_or(4, -1)?)?;
    xml(render::document_pool(&docs))
}
