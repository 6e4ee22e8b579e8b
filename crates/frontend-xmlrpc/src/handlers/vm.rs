//! `one.vm.*`, `one.vmpool.*`, `one.template.*`, `one.templatepool.*`.

use nubo_core::model::{Vm, VmTemplate};
use nubo_core::{Core, PoolFilter};

use super::common::{auth, chmod, chown, id, info, lock, on, pool3, rename, unlock, update, xml};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a VM or VM template call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("vm", "allocate") => allocate(core, p).await,
        ("vm", "info") => vm_info(core, p),
        ("vm", "update") => update::<Vm>(core, p).await,
        ("vm", "rename") => rename::<Vm>(core, p).await,
        ("vm", "chmod") => chmod::<Vm>(core, p).await,
        ("vm", "chown") => chown::<Vm>(core, p).await,
        ("vm", "lock") => lock::<Vm>(core, p).await,
        ("vm", "unlock") => unlock::<Vm>(core, p).await,
        ("vm", "action") => action(core, p).await,
        ("vm", "deploy") => deploy(core, p).await,
        ("vm", "migrate") => migrate(core, p).await,
        ("vm", "recover") => recover(core, p).await,
        ("vmpool", "info") => vm_pool(core, p, false),
        ("vmpool", "infoextended") => vm_pool(core, p, true),
        ("vmpool", "infoset") => vm_set(core, p),
        ("vm", "monitoring") => vm_monitoring(core, p),
        ("vm", "console") => console(core, p).await,
        ("vmpool", "monitoring") => pool_monitoring(core, p),
        ("vmpool", "accounting") => accounting(core, p),
        ("vmpool", "showback") => showback(core, p),
        ("vmpool", "calculateshowback") => calculate_showback(core, p),
        ("template", "allocate") => t_allocate(core, p).await,
        ("template", "delete") => t_delete(core, p).await,
        ("template", "info") => info::<VmTemplate>(core, p, render::vm_template),
        ("template", "update") => update::<VmTemplate>(core, p).await,
        ("template", "rename") => rename::<VmTemplate>(core, p).await,
        ("template", "chmod") => t_chmod(core, p).await,
        ("template", "chown") => chown::<VmTemplate>(core, p).await,
        ("template", "lock") => lock::<VmTemplate>(core, p).await,
        ("template", "unlock") => unlock::<VmTemplate>(core, p).await,
        ("template", "clone") => t_clone(core, p).await,
        ("template", "instantiate") => t_instantiate(core, p).await,
        ("templatepool", "info") => pool3::<VmTemplate>(core, p, render::vm_template_pool),
        ("vm", verb) => return super::vm_changes::call(core, verb, p).await,
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core
        .vm_allocate(&c, p.str(1)?, p.bool_or(2, false)?)
        .await?)
}

async fn action(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let name = p.str(1)?;
    let oid = p.int(2)?;
    id(core.vm_action(&c, name, oid).await.map_err(on(oid))?)
}

async fn deploy(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core
        .vm_deploy(&c, oid, p.int(2)?, p.bool_or(3, false)?, p.int_or(4, -1)?)
        .await;
    id(out.map_err(on(oid))?)
}

async fn migrate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = core
        .vm_migrate(
            &c,
            oid,
            p.int(2)?,
            p.bool_or(3, false)?,
            p.bool_or(4, false)?,
            p.int_or(5, -1)?,
            p.int_or(6, 0)?,
        )
        .await;
    id(out.map_err(on(oid))?)
}

async fn recover(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.vm_recover(&c, oid, p.int(2)?).await.map_err(on(oid))?)
}

fn vm_pool(core: &Core, p: &Params, extended: bool) -> CallResult {
    let c = auth(core, p)?;
    let filter = PoolFilter {
        filter: p.int(1)?,
        start: p.int(2)?,
        end: p.int(3)?,
    };
    let vms = core.vm_pool_search(&c, filter, p.int_or(4, -1)?, p.str_or(5, "")?)?;
    xml(if extended {
        render::vm_pool_extended(&vms)
    } else {
        render::vm_pool(&vms)
    })
}

fn vm_set(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let ids: Vec<i32> = p
        .str(1)?
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let vms = core.vm_pool_set(&c, &ids)?;
    xml(if p.bool_or(2, false)? {
        render::vm_pool_extended(&vms)
    } else {
        render::vm_pool(&vms)
    })
}

fn vm_info(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let vm = core.info::<Vm>(&c, oid).map_err(on(oid))?;
    xml(render::vm_monitored(
        &vm,
        core.vm_latest_sample(oid).as_ref(),
    ))
}

fn vm_monitoring(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let samples = core.vm_monitoring(&c, oid).map_err(on(oid))?;
    let tagged: Vec<(i32, _)> = samples.into_iter().map(|s| (oid, s)).collect();
    xml(render::vm_monitoring(&tagged))
}

/// `one.vm.console(session, id, offset)`: a Nubo extension, what the VM's serial console
/// printed from byte `offset` on.
async fn console(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let offset = u64::try_from(p.int_or(2, 0)?.max(0)).unwrap_or(0);
    let chunk = core.vm_console(&c, oid, offset).await.map_err(on(oid))?;
    xml(render::vm_console(oid, &chunk.data, chunk.next))
}

fn pool_monitoring(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let samples = core.vm_pool_monitoring(&c, p.int(1)?, p.int_or(2, -1)?)?;
    xml(render::vm_monitoring(&samples))
}

fn accounting(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let records = core.vm_pool_accounting(
        &c,
        p.int(1)?,
        i64::from(p.int_or(2, -1)?),
        i64::from(p.int_or(3, -1)?),
    )?;
    xml(render::accounting(&records))
}

fn showback(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let records = core.vm_pool_showback(
        &c,
        p.int(1)?,
        (p.int_or(2, -1)?, p.int_or(3, -1)?),
        (p.int_or(4, -1)?, p.int_or(5, -1)?),
    )?;
    xml(render::showback(&records))
}

/// `vmpool.calculateshowback`: answers `" "`, as oned does.
fn calculate_showback(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    core.vm_pool_calculate_showback(&c)?;
    Ok(nubo_xmlrpc::Value::String(" ".into()))
}

async fn t_allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    id(core.template_allocate(&c, p.str(1)?).await?)
}

async fn t_delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = if p.bool_or(2, false)? {
        core.template_delete_recursive(&c, oid).await
    } else {
        core.template_delete(&c, oid).await
    };
    id(out.map_err(on(oid))?)
}

async fn t_clone(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let out = if p.bool_or(3, false)? {
        core.template_clone_recursive(&c, oid, p.str(2)?, false)
            .await
    } else {
        core.template_clone(&c, oid, p.str(2)?).await
    };
    id(out.map_err(on(oid))?)
}

/// `template.chmod(id, 9 × bit, recursive?)`: with `recursive`, its images too.
async fn t_chmod(core: &Core, p: &Params) -> CallResult {
    let out = chmod::<VmTemplate>(core, p).await?;
    if p.bool_or(11, false)? {
        let c = auth(core, p)?;
        let oid = p.int(1)?;
        core.template_chmod_images(&c, oid, p.perms(2)?)
            .await
            .map_err(on(oid))?;
    }
    Ok(out)
}

async fn t_instantiate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let (name, hold, extra) = (p.str_or(2, "")?, p.bool_or(3, false)?, p.str_or(4, "")?);
    let out = if p.bool_or(5, false)? {
        core.template_instantiate_persistent(&c, oid, name, hold, extra)
            .await
    } else {
        core.template_instantiate(&c, oid, name, hold, extra).await
    };
    id(out.map_err(on(oid))?)
}
