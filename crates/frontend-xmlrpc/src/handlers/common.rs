//! Handler pieces shared by every kind: authentication and the generic verbs.

use nubo_core::model::{Named, Owned, PoolObject, Templated};
use nubo_core::{Caller, Core, PoolFilter};
use nubo_xmlrpc::Value;

use crate::params::{CallError, CallResult, Params};

/// Authenticates the session in parameter 0.
pub fn auth(core: &Core, p: &Params) -> Result<Caller, CallError> {
    Ok(core.authenticate(p.str(0)?)?)
}

/// Maps a core error to a failure naming object `id`.
pub fn on(id: i32) -> impl Fn(nubo_types::Error) -> CallError {
    move |e| CallError::Core(e, id)
}

/// An id reply.
pub fn id(v: i32) -> CallResult {
    Ok(Value::Int(v))
}

/// An XML reply: a document from [`crate::xml::Xml`], already in its wire form.
pub fn xml(s: String) -> CallResult {
    Ok(Value::EscapedString(s))
}

/// `info(id)`: the object rendered by `render`.
pub fn info<T: PoolObject>(core: &Core, p: &Params, render: impl Fn(&T) -> String) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let obj = core.info::<T>(&c, oid).map_err(on(oid))?;
    xml(render(&obj))
}

/// `pool.info(filter, start, end)`.
pub fn pool3<T: PoolObject>(
    core: &Core,
    p: &Params,
    render: impl Fn(&[std::sync::Arc<T>]) -> String,
) -> CallResult {
    let c = auth(core, p)?;
    let filter = PoolFilter {
        filter: p.int(1)?,
        start: p.int(2)?,
        end: p.int(3)?,
    };
    xml(render(&core.pool_info::<T>(&c, filter)?))
}

/// `pool.info()` with no filter: everything the caller may use.
pub fn pool0<T: PoolObject>(
    core: &Core,
    p: &Params,
    render: impl Fn(&[std::sync::Arc<T>]) -> String,
) -> CallResult {
    let c = auth(core, p)?;
    xml(render(&core.pool_info::<T>(&c, PoolFilter::ALL)?))
}

/// `update(id, template, append?)`.
pub async fn update<T: Templated>(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core
        .update_template::<T>(&c, oid, p.str(2)?, p.int_or(3, 0)?)
        .await;
    id(out.map_err(on(oid))?)
}

/// `rename(id, name)`.
pub async fn rename<T: Named>(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .rename::<T>(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

/// `chmod(id, 9 × bit)`.
pub async fn chmod<T: Owned>(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .chmod::<T>(&c, oid, p.perms(2)?)
        .await
        .map_err(on(oid))?)
}

/// `chown(id, uid, gid)`.
pub async fn chown<T: Owned>(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .chown::<T>(&c, oid, p.int(2)?, p.int(3)?)
        .await
        .map_err(on(oid))?)
}

/// `lock(id, level, test?)`.
pub async fn lock<T: Owned>(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .lock::<T>(&c, oid, p.int(2)?, p.bool_or(3, false)?)
        .await
        .map_err(on(oid))?)
}

/// `unlock(id)`.
pub async fn unlock<T: Owned>(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.unlock::<T>(&c, oid).await.map_err(on(oid))?)
}
