//! VM group operations (`one.vmgroup.*`): allocate, delete, update, and the roles
//! (roleadd, roledelete, roleupdate). Every change is checked as a whole before it is
//! staged, so a refused one leaves the group as it was. VMs join and leave groups through
//! [`membership`]; info, rename, chmod, chown, lock and the pool are the generic ones.

mod affinity;
mod check;
mod membership;

use nubo_template::{Attribute, Template};
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use crate::Core;
use crate::auth::{Caller, authorize_create};
use crate::model::VmGroup;
use crate::tx::Tx;

pub(crate) use affinity::{roles_among, roles_of_vms, vm_affinity};
pub(crate) use membership::{join, leave};

fn alloc(message: impl std::fmt::Display) -> Error {
    Error::allocate(ObjectKind::VmGroup, message.to_string())
}

/// The pairs of the first `ROLE=[..]` of a role call's template.
fn role_vector(text: &str) -> Result<Vec<(String, String)>> {
    let t = parse_template(text).map_err(|e| Error::action(e.to_string()))?;
    t.vectors("ROLE")
        .next()
        .map(<[_]>::to_vec)
        .ok_or_else(|| Error::action("No ROLE attribute in template"))
}

/// Reads the roles out of a new group's template.
fn roles_of(
    template: &mut Template,
) -> std::result::Result<Vec<crate::model::VmGroupRole>, String> {
    template
        .remove("ROLE")
        .iter()
        .enumerate()
        .map(|(i, attr): (usize, &Attribute)| {
            let pairs = attr
                .value
                .as_vector()
                .ok_or("ROLE must be a vector attribute")?;
            check::new_role(pairs, i as i32)
        })
        .collect()
}

/// Stages `group` after checking it; a failure becomes `err(message)`.
fn put_checked(tx: &mut Tx, group: VmGroup, err: impl FnOnce(String) -> Error) -> Result<Oid> {
    check::check_group(&group).map_err(err)?;
    let id = group.meta.id;
    tx.put(group)?;
    Ok(id)
}

/// Fetches group `id` for a change of its roles or rules (MANAGE).
fn for_change(tx: &Tx, caller: &Caller, id: Oid) -> Result<VmGroup> {
    Ok((*fetch_for::<VmGroup>(tx.state, caller, id, AuthOp::Manage)?).clone())
}

fn action(message: String) -> Error {
    Error::action(message)
}

impl Core {
    /// Creates a VM group from a template: NAME, ROLE vectors, AFFINED and ANTI_AFFINED
    /// rules, anything else kept in its TEMPLATE.
    pub async fn vmgroup_allocate(&self, caller: &Caller, text: &str) -> Result<Oid> {
        let mut template = parse_template(text).map_err(alloc)?;
        let name = template
            .remove("NAME")
            .into_iter()
            .find_map(|a| a.value.as_single().map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| alloc("No NAME in template for VM group."))?;
        let roles = roles_of(&mut template).map_err(alloc)?;
        self.write(move |tx| {
            authorize_create(tx.state, caller, ObjectKind::VmGroup)?;
            check_name::<VmGroup>(tx.state, &name, caller.uid, None).map_err(alloc)?;
            let id = tx.next_oid(ObjectKind::VmGroup);
            let group = VmGroup {
                meta: new_meta(caller, id, name),
                next_role: roles.len() as i32,
                roles,
                template,
            };
            put_checked(tx, group, alloc)
        })
        .await
    }

    /// Deletes a VM group that holds no VM.
    pub async fn vmgroup_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            let group = fetch_for::<VmGroup>(tx.state, caller, id, AuthOp::Manage)?;
            let vms = group.vm_count();
            if vms > 0 {
                return Err(Error::action(format!(
                    "Cannot delete VM group [{id}]: it has {vms} VMs"
                )));
            }
            tx.delete::<VmGroup>(id);
            Ok(id)
        })
        .await
    }

    /// Replaces (append = 0) or merges into (append = 1) the template, which holds the
    /// role-to-role rules; refused while the group holds VMs. ROLE attributes are ignored:
    /// roles change through the role calls.
    pub async fn vmgroup_update(
        &self,
        caller: &Caller,
        id: Oid,
        text: &str,
        append: i32,
    ) -> Result<Oid> {
        self.update_template_with::<VmGroup>(caller, id, text, append, |g| {
            let vms = g.vm_count();
            if vms > 0 {
                return Err(Error::action(format!("VM Group has {vms} VMs")));
            }
            g.template.remove("ROLE");
            check::check_group(g).map_err(action)
        })
        .await
    }

    /// Adds a role (`ROLE=[NAME=.., POLICY=.., HOST_AFFINED=.., HOST_ANTI_AFFINED=..]`).
    pub async fn vmgroup_role_add(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let pairs = role_vector(text)?;
        self.write(move |tx| {
            let mut group = for_change(tx, caller, id)?;
            let role = check::new_role(&pairs, group.next_role).map_err(action)?;
            group.next_role += 1;
            group.roles.push(role);
            put_checked(tx, group, action)
        })
        .await
    }

    /// Deletes a role that holds no VM.
    pub async fn vmgroup_role_delete(&self, caller: &Caller, id: Oid, role_id: i32) -> Result<Oid> {
        self.write(move |tx| {
            let mut group = for_change(tx, caller, id)?;
            let role = group.role(role_id).ok_or_else(|| {
                Error::action(format!(
                    "Unable to delete role {role_id}, the role doesn't exists"
                ))
            })?;
            if !role.vms.is_empty() {
                return Err(Error::action(format!(
                    "Unable to delete role {role_id}, the role has assigned VMs"
                )));
            }
            group.roles.retain(|r| r.id != role_id);
            put_checked(tx, group, action)
        })
        .await
    }

    /// Changes a role that holds no VM: the keys given replace the role's.
    pub async fn vmgroup_role_update(
        &self,
        caller: &Caller,
        id: Oid,
        role_id: i32,
        text: &str,
    ) -> Result<Oid> {
        let pairs = role_vector(text)?;
        self.write(move |tx| {
            let mut group = for_change(tx, caller, id)?;
            let role = group
                .roles
                .iter_mut()
                .find(|r| r.id == role_id)
                .ok_or_else(|| {
                    Error::action(format!("VMGroup {id} doesn't have role {role_id}"))
                })?;
            if !role.vms.is_empty() {
                return Err(Error::action(format!(
                    "VMGroup {id} Role {role_id} has VMs, unable to update"
                )));
            }
            check::update_role(role, &pairs).map_err(action)?;
            put_checked(tx, group, action)
        })
        .await
    }
}
