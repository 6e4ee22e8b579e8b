//! `one.acl.*`.

use nubo_core::Core;

use super::common::{auth, id, on, xml};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles an ACL call; None if the verb is unknown.
pub async fn call(core: &Core, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match verb {
        "addrule" => addrule(core, p).await,
        "delrule" => delrule(core, p).await,
        "info" => info(core, p),
        _ => return None,
    })
}

async fn addrule(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core
        .acl_addrule(&c, p.str(1)?, p.str(2)?, p.str(3)?, p.str_or(4, "")?)
        .await?)
}

async fn delrule(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.acl_delrule(&c, oid).await.map_err(on(oid))?)
}

fn info(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    xml(render::acl_pool(&core.acl_info(&c)?))
}
