//! VMs in VM groups. A VM joins the role its template's `VMGROUP=[VMGROUP_ID | VMGROUP_NAME
//! (+ VMGROUP_UID | VMGROUP_UNAME), ROLE]` names when it is created ([`join`], USE on the
//! group needed) and leaves when it is DONE ([`leave`]). `vm.vmgroupadd` and
//! `vm.vmgroupdel` move a VM in and out later; a VM on a host may join only if the host
//! keeps the role's rules. A VM is in one group at most.

use std::collections::BTreeSet;

use nubo_template::{Attribute, Template};
use nubo_types::states::{HistoryAction, VmState};
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::affinity::{affinity, roles_among, roles_of_vms};
use crate::Core;
use crate::auth::{Caller, authorize};
use crate::model::{Host, Vm, VmGroup};
use crate::ops::generic::{check_lock, fetch_for};
use crate::tx::Tx;

/// Attributes vm.xsd puts after VMGROUP in a VM's TEMPLATE.
const AFTER_VMGROUP: [&str; 5] = [
    "VMID",
    "VROUTER_ID",
    "VROUTER_KEEPALIVED_ID",
    "VROUTER_KEEPALIVED_PASSWORD",
    "SCHED_ACTION",
];

fn alloc(message: &str) -> Error {
    Error::allocate(ObjectKind::Vm, message)
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The group and role a VM is in, from its TEMPLATE/VMGROUP.
pub(crate) fn membership(vm: &Vm) -> Option<(Oid, String)> {
    let pairs = vm.template.vectors("VMGROUP").next()?;
    let id = get(pairs, "VMGROUP_ID")?.parse().ok()?;
    Some((id, get(pairs, "ROLE")?.to_string()))
}

/// Sets the VM's VMGROUP attribute (in its vm.xsd place).
fn set_vmgroup(template: &mut Template, pairs: Vec<(String, String)>) {
    template.remove("VMGROUP");
    let at = template
        .attrs
        .iter()
        .position(|a| AFTER_VMGROUP.contains(&a.name.as_str()))
        .unwrap_or(template.attrs.len());
    template
        .attrs
        .insert(at, Attribute::vector("VMGROUP", pairs));
}

/// The group a `VMGROUP=[..]` vector names, looked up as `caller` would.
fn named_group(tx: &Tx, caller: &Caller, pairs: &[(String, String)]) -> Option<Oid> {
    if let Some(name) = get(pairs, "VMGROUP_NAME") {
        let owner = match (get(pairs, "VMGROUP_UID"), get(pairs, "VMGROUP_UNAME")) {
            (Some(uid), _) => uid.parse::<Oid>().ok()?,
            (None, Some(uname)) => tx.state.user_by_name(uname)?.id,
            (None, None) => caller.uid,
        };
        return tx
            .state
            .vmgroups
            .values()
            .find(|g| g.meta.name == name && g.meta.uid == owner)
            .map(|g| g.meta.id);
    }
    let id = get(pairs, "VMGROUP_ID")?.parse::<Oid>().ok()?;
    tx.state.vmgroups.contains_key(&id).then_some(id)
}

/// Puts VM `vm_id` in role `role` of group `id` (staged).
fn add_vm(tx: &mut Tx, id: Oid, role: &str, vm_id: Oid) -> Result<bool> {
    let mut group = tx.get_mut::<VmGroup>(id)?;
    let Some(r) = group.role_by_name_mut(role) else {
        return Ok(false);
    };
    r.vms.insert(vm_id);
    tx.put(group)?;
    Ok(true)
}

/// A new VM joins the group and role its TEMPLATE/VMGROUP names (called while it is
/// created, before it is staged). Nothing changes when this fails.
pub(crate) fn join(tx: &mut Tx, caller: &Caller, vm: &mut Vm) -> Result<()> {
    let Some(mut pairs) = vm.template.vectors("VMGROUP").next().map(<[_]>::to_vec) else {
        return Ok(());
    };
    let role = get(&pairs, "ROLE")
        .ok_or_else(|| alloc("Missing role name in VM Group definition"))?
        .to_string();
    let id = named_group(tx, caller, &pairs)
        .ok_or_else(|| alloc("Cannot find VM Group to associate the VM"))?;
    let group = tx.get::<VmGroup>(id)?;
    authorize(tx.state, caller, group.as_ref(), AuthOp::Use)?;
    check_lock(group.as_ref(), caller, AuthOp::Use)?;
    if !add_vm(tx, id, &role, vm.meta.id)? {
        return Err(alloc("Role does not exist in VM Group"));
    }
    pairs.retain(|(k, _)| !k.eq_ignore_ascii_case("VMGROUP_ID"));
    pairs.push(("VMGROUP_ID".to_string(), id.to_string()));
    set_vmgroup(&mut vm.template, pairs);
    Ok(())
}

/// A VM that is DONE leaves its role.
pub(crate) fn leave(tx: &mut Tx, vm: &Vm) -> Result<()> {
    let Some((id, role)) = membership(vm) else {
        return Ok(());
    };
    let Ok(mut group) = tx.get_mut::<VmGroup>(id) else {
        return Ok(());
    };
    if let Some(r) = group.role_by_name_mut(&role)
        && r.vms.remove(&vm.meta.id)
    {
        tx.put(group)?;
    }
    Ok(())
}

/// Fails unless host `hid` keeps the rules of `role` in `group` for VM `vm_id`.
fn check_host(tx: &Tx, group: &VmGroup, role: &str, vm_id: Oid, hid: Oid) -> Result<()> {
    let Some(role) = group.role_by_name(role) else {
        return Ok(());
    };
    let mut index = roles_of_vms(tx.state);
    index.remove(&vm_id);
    let host = tx.state.get::<Host>(hid)?;
    let host_roles = roles_among(host.vms.iter().copied(), &index);
    let placed: BTreeSet<_> = tx
        .state
        .hosts
        .values()
        .flat_map(|h| roles_among(h.vms.iter().copied(), &index))
        .collect();
    let aff = affinity(group, role);
    nubo_scheduler::check_affinity(hid, &host_roles, &aff, &placed).map_err(|rule| {
        Error::action(format!(
            "VM [{vm_id}] runs on host [{hid}], which breaks the {}",
            rule.describe(&aff.names)
        ))
    })
}

/// Records `action` (and who asked) on the VM's open placement record, as oned does for
/// the calls that change a placed VM.
fn record_action(vm: &mut Vm, caller: &Caller, action: HistoryAction) {
    if let Some(h) = vm.current_mut().filter(|h| h.etime == 0) {
        h.action = action.code();
        h.uid = caller.uid;
        h.gid = caller.gid;
    }
}

impl Core {
    /// Puts a VM in role `role` of VM group `group_id` (`vm.vmgroupadd`).
    pub async fn vm_vmgroup_add(
        &self,
        caller: &Caller,
        id: Oid,
        group_id: Oid,
        role: &str,
    ) -> Result<Oid> {
        let role = role.trim().to_string();
        self.write(move |tx| {
            let mut vm = (*fetch_for::<Vm>(tx.state, caller, id, AuthOp::Manage)?).clone();
            if vm.state == VmState::Done {
                return Err(Error::action(format!(
                    "VM [{id}] is DONE and cannot join a VM group"
                )));
            }
            if let Some((current, _)) = membership(&vm) {
                return Err(Error::action(format!(
                    "VM [{id}] is already in VM group [{current}]"
                )));
            }
            let group = fetch_for::<VmGroup>(tx.state, caller, group_id, AuthOp::Use)?;
            if group.role_by_name(&role).is_none() {
                return Err(Error::action(format!(
                    "Role \"{role}\" does not exist in VM group [{group_id}]"
                )));
            }
            if let Some(hid) = vm.host_id() {
                check_host(tx, &group, &role, id, hid)?;
            }
            add_vm(tx, group_id, &role, id)?;
            let pairs = vec![
                ("ROLE".to_string(), role.clone()),
                ("VMGROUP_ID".to_string(), group_id.to_string()),
            ];
            set_vmgroup(&mut vm.template, pairs);
            record_action(&mut vm, caller, HistoryAction::VmgroupAdd);
            tx.put(vm)?;
            Ok(id)
        })
        .await?;
        self.wake_scheduler();
        Ok(id)
    }

    /// Takes a VM out of its VM group (`vm.vmgroupdel`).
    pub async fn vm_vmgroup_del(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(move |tx| {
            let mut vm = (*fetch_for::<Vm>(tx.state, caller, id, AuthOp::Manage)?).clone();
            if membership(&vm).is_none() {
                return Err(Error::action(format!("VM [{id}] is not in a VM group")));
            }
            leave(tx, &vm)?;
            vm.template.remove("VMGROUP");
            record_action(&mut vm, caller, HistoryAction::VmgroupDel);
            tx.put(vm)?;
            Ok(id)
        })
        .await?;
        self.wake_scheduler();
        Ok(id)
    }
}
