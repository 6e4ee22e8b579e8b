//! `one.user.*`, `one.userpool.*`, `one.userquota.*`.

use nubo_core::Core;
use nubo_core::model::User;

use super::common::{auth, id, on, update, xml};
use crate::params::{CallResult, Params};
use crate::render;

/// Handles a user call; None if the verb is unknown.
pub async fn call(core: &Core, object: &str, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match (object, verb) {
        ("user", "allocate") => allocate(core, p).await,
        ("user", "delete") => delete(core, p).await,
        ("user", "info") => info(core, p),
        ("user", "update") => update::<User>(core, p).await,
        ("user", "passwd") => passwd(core, p).await,
        ("user", "chauth") => chauth(core, p).await,
        ("user", "chgrp") => group_op(core, p, GroupOp::Chgrp).await,
        ("user", "addgroup") => group_op(core, p, GroupOp::Add).await,
        ("user", "delgroup") => group_op(core, p, GroupOp::Del).await,
        ("user", "quota") => quota(core, p).await,
        ("user", "enable") => enable(core, p).await,
        ("user", "login") => login(core, p).await,
        ("user", "ec2keycreate") => ec2_key_create(core, p).await,
        ("user", "ec2keyinfo") => ec2_key_info(core, p),
        ("user", "ec2keydelete") => ec2_key_delete(core, p).await,
        ("userpool", "info") => pool(core, p),
        ("userquota", "info") => defaults(core, p),
        ("userquota", "update") => defaults_update(core, p).await,
        _ => return None,
    })
}

async fn allocate(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let gids = p.int_array_or(4)?;
    id(core
        .user_allocate(&c, p.str(1)?, p.str(2)?, p.str_or(3, "")?, &gids)
        .await?)
}

async fn delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.user_delete(&c, oid).await.map_err(on(oid))?)
}

fn info(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let user = core.user_info(&c, oid).map_err(on(oid))?;
    xml(render::user(&user, &core.default_user_quotas()?))
}

async fn passwd(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .user_passwd(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

async fn chauth(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .user_chauth(&c, oid, p.str(2)?, p.str_or(3, "")?)
        .await
        .map_err(on(oid))?)
}

enum GroupOp {
    Chgrp,
    Add,
    Del,
}

async fn group_op(core: &Core, p: &Params, op: GroupOp) -> CallResult {
    let c = auth(core, p)?;
    let (oid, gid) = (p.int(1)?, p.int(2)?);
    let out = match op {
        GroupOp::Chgrp => core.user_chgrp(&c, oid, gid).await,
        GroupOp::Add => core.user_addgroup(&c, oid, gid).await,
        GroupOp::Del => core.user_delgroup(&c, oid, gid).await,
    };
    id(out.map_err(on(oid))?)
}

async fn quota(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core.user_quota(&c, oid, p.str(2)?).await.map_err(on(oid))?)
}

async fn enable(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .user_enable(&c, oid, p.bool(2)?)
        .await
        .map_err(on(oid))?)
}

async fn login(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let token = core
        .user_login(
            &c,
            p.str(1)?,
            p.str(2)?,
            i64::from(p.int(3)?),
            p.int_or(4, -1)?,
        )
        .await?;
    Ok(nubo_xmlrpc::Value::String(token))
}

/// `one.user.ec2keycreate(session, uid)` (Nubo): a new EC2 access key and its secret.
async fn ec2_key_create(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    let key = core.ec2_key_create(&c, oid).await.map_err(on(oid))?;
    xml(render::ec2_key_new(&key))
}

/// `one.user.ec2keyinfo(session, uid)` (Nubo): the user's EC2 access keys, no secrets.
fn ec2_key_info(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    xml(render::ec2_keys(
        &core.ec2_key_list(&c, oid).map_err(on(oid))?,
    ))
}

/// `one.user.ec2keydelete(session, uid, access_key_id)` (Nubo).
async fn ec2_key_delete(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let oid = p.int(1)?;
    id(core
        .ec2_key_delete(&c, oid, p.str(2)?)
        .await
        .map_err(on(oid))?)
}

fn pool(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let users = core.pool_info::<User>(&c, nubo_core::PoolFilter::ALL)?;
    xml(render::user_pool(&users, &core.default_user_quotas()?))
}

fn defaults(core: &Core, p: &Params) -> CallResult {
    auth(core, p)?;
    xml(render::user_quota_defaults(&core.default_user_quotas()?))
}

async fn defaults_update(core: &Core, p: &Params) -> CallResult {
    let c = auth(core, p)?;
    let quotas = core.default_user_quotas_update(&c, p.str(1)?).await?;
    xml(render::user_quota_defaults(&quotas))
}
