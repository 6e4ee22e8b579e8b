//! `one.vmgroup.*`, `one.vmgrouppool.info`, and the VM's `one.vm.vmgroupadd` /
//! `one.vm.vmgroupdel`.

use nubo_core::Core;
use nubo_core::model::VmGroup;

use super::common::{auth, chmod, chown, id, info, lock, on, pool3, rename, unlock};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a VM group call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("vmgroup", "allocate") => allocate(core, p).await,
        ("vmgroup", "delete") => delete(core, p).await,
        ("vmgroup", "info") => info::<VmGroup>(core, p, render::vmgroup),
        ("vmgroup", "update") => update(core, p).await,
        ("vmgroup", "rename") => rename::<VmGroup>(core, p).await,
        ("vmgroup", "chmod") => chmod::<VmGroup>(core, p).await,
        ("vmgroup", "chown") => chown::<VmGroup>(core, p).await,
        ("vmgroup", "lock") => lock::<VmGroup>(core, p).await,
        ("vmgroup", "unlock") => unlock::<VmGroup>(core, p).await,
        ("vmgroup", "roleadd") => role_add(core, p).await,
        ("vmgroup", "roledelete") => role_delete(core, p).await,
        ("vmgroup", "roleupdate") => role_update(core, p).await,
        ("vmgrouppool", "info") => pool3::<VmGroup>(core, p, render::vmgroup_pool),
        ("vm", "vmgroupadd") => vm_add(core, p).await,
        ("vm", "vmgroupdel") => vm_del(core, p).await,
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core.vmgroup_allocate(&c, p.str(1)?).await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.vmgroup_delete(&c, oid).await.map_err(on(oid))?)
}

async fn update(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core
        .vmgroup_update(&c, oid, p.str(2)?, p.int_or(3, 0)?)
        .await;
    id(out.map_err(on(oid))?)
}

async fn role_add(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core.vmgroup_role_add(&c, oid, p.str(2)?).await;
    id(out.map_err(on(oid))?)
}

async fn role_delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core.vmgroup_role_delete(&c, oid, p.int(2)?).await;
    id(out.map_err(on(oid))?)
}

async fn role_update(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core
        .vmgroup_role_update(&c, oid, p.int(2)?, p.str(3)?)
        .await;
    id(out.map_err(on(oid))?)
}

async fn vm_add(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core.vm_vmgroup_add(&c, oid, p.int(2)?, p.str(3)?).await;
    id(out.map_err(on(oid))?)
}

async fn vm_del(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.vm_vmgroup_del(&c, oid).await.map_err(on(oid))?)
}
