//! `one.image.*`, `one.imagepool.*`.

use nubo_core::Core;
use nubo_core::model::Image;
use nubo_core::ops::image::ImageSnapshotOp;
use nubo_xmlrpc::Value;

use super::common::{auth, chmod, chown, id, info, lock, on, pool3, rename, unlock, update};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles an image call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("image", "allocate") => allocate(core, p).await,
        ("image", "delete") => delete(core, p).await,
        ("image", "info") => info::<Image>(core, p, render::image),
        ("image", "update") => update::<Image>(core, p).await,
        ("image", "rename") => rename::<Image>(core, p).await,
        ("image", "chmod") => chmod::<Image>(core, p).await,
        ("image", "chown") => chown::<Image>(core, p).await,
        ("image", "lock") => lock::<Image>(core, p).await,
        ("image", "unlock") => unlock::<Image>(core, p).await,
        ("image", "clone") => clone(core, p).await,
        ("image", "enable") => enable(core, p).await,
        ("image", "persistent") => persistent(core, p).await,
        ("image", "chtype") => chtype(core, p).await,
        ("image", "snapshotdelete") => snapshot(core, p, ImageSnapshotOp::Delete),
        ("image", "snapshotrevert") => snapshot(core, p, ImageSnapshotOp::Revert),
        ("image", "snapshotflatten") => snapshot(core, p, ImageSnapshotOp::Flatten),
        ("image", "restore") => restore(core, p),
        ("imagepool", "info") => pool3::<Image>(core, p, render::image_pool),
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core
        .image_allocate(&c, p.str(1)?, p.int(2)?, p.bool_or(3, false)?)
        .await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .image_delete(&c, oid, p.bool_or(2, false)?)
        .await
        .map_err(on(oid))?)
}

async fn clone(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .image_clone(&c, oid, p.str(2)?, p.int_or(3, -1)?)
        .await
        .map_err(on(oid))?)
}

async fn enable(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .image_enable(&c, oid, p.bool(2)?)
        .await
        .map_err(on(oid))?)
}

async fn persistent(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .image_persistent(&c, oid, p.bool(2)?)
        .await
        .map_err(on(oid))?)
}

async fn chtype(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .image_chtype(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

fn snapshot(core: &Core, p: &Params, op: ImageSnapshotOp) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .image_snapshot(&c, oid, p.int(2)?, op)
        .map_err(on(oid))?)
}

fn restore(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core
        .image_restore(&c, oid, p.int(2)?, p.str(3)?)
        .map_err(on(oid))?;
    Ok(Value::String(out))
}
