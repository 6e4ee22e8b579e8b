//! `one.host.*`, `one.hostpool.*`.

use nubo_core::Core;
use nubo_core::model::Host;

use super::common::{auth, id, info, on, pool0, rename, update, xml};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a host call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("host", "allocate") => allocate(core, p).await,
        ("host", "delete") => delete(core, p).await,
        ("host", "info") => info::<Host>(core, p, |h| {
            render::host(h, core.host_latest_sample(h.id).as_ref())
        }),
        ("host", "update") => update::<Host>(core, p).await,
        ("host", "rename") => rename::<Host>(core, p).await,
        ("host", "status") => status(core, p).await,
        ("host", "monitoring") => monitoring(core, p),
        ("hostpool", "info") => pool0::<Host>(core, p, |hosts| {
            render::host_pool(hosts, |id| core.host_latest_sample(id))
        }),
        ("hostpool", "monitoring") => pool_monitoring(core, p),
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core
        .host_allocate(&c, p.str(1)?, p.str(2)?, p.str(3)?, p.int_or(4, -1)?)
        .await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.host_delete(&c, oid).await.map_err(on(oid))?)
}

async fn status(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .host_status(&c, oid, p.int(2)?)
        .await
        .map_err(on(oid))?)
}

fn monitoring(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let samples = core.host_monitoring(&c, oid).map_err(on(oid))?;
    let tagged: Vec<(i32, _)> = samples.into_iter().map(|s| (oid, s)).collect();
    xml(render::host_monitoring(&tagged))
}

fn pool_monitoring(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    xml(render::host_monitoring(
        &core.host_pool_monitoring(&c, p.int_or(1, -1)?)?,
    ))
}
