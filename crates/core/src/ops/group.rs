//! Group operations: allocate, delete, administrators and quotas.

use std::collections::BTreeSet;
use std::sync::Arc;

use nubo_template::Template;
use nubo_types::acl::{ALL_ID, CREATE, GROUP_ID, ID_VALUE_MASK};
use nubo_types::{AuthOp, Error, ONEADMIN_GID, ObjectKind, Oid, Result, USERS_GID};

use super::generic::{check_name, parse_template};
use super::quota::{apply_quota_template, parse_quota_template};
use crate::Core;
use crate::auth::{Caller, authorize, authorize_create};
use crate::model::{AclRule, Group, Quotas, User, VlanRule};
use crate::state::ATTR_DEFAULT_GROUP_QUOTAS;

/// Kinds a new group's members may create (the rule OpenNebula gives the users group).
const GROUP_CREATE_KINDS: [ObjectKind; 6] = [
    ObjectKind::Vm,
    ObjectKind::Image,
    ObjectKind::Template,
    ObjectKind::Document,
    ObjectKind::SecGroup,
    ObjectKind::VmGroup,
];

impl Core {
    /// Creates a group, with an ACL rule letting its members create VMs, images, templates,
    /// documents, security groups and VM groups, and (as OpenNebula adds every new group
    /// to the default VDC) the default VDC's rules.
    pub async fn group_allocate(&self, caller: &Caller, name: &str) -> Result<Oid> {
        let name = name.to_string();
        self.write(move |tx| {
            authorize_create(tx.state, caller, ObjectKind::Group)?;
            check_name::<Group>(tx.state, &name, -1, None)
                .map_err(|e| Error::allocate(ObjectKind::Group, e.to_string()))?;
            let id = tx.next_oid(ObjectKind::Group);
            tx.put(Group {
                id,
                name,
                template: Template::new(),
                users: BTreeSet::new(),
                admins: BTreeSet::new(),
                quotas: Quotas::default(),
                vlan_rules: Vec::new(),
            })?;
            let rule_id = tx.next_oid(ObjectKind::Acl);
            let kinds = GROUP_CREATE_KINDS
                .iter()
                .fold(0, |acc, k| acc | k.acl_bit());
            tx.put(AclRule {
                id: rule_id,
                user: GROUP_ID | id as u64,
                resource: kinds | ALL_ID,
                rights: CREATE,
                zone: ALL_ID,
            })?;
            for rule in crate::bootstrap::default_vdc_rules(id) {
                let rule_id = tx.next_oid(ObjectKind::Acl);
                tx.put(AclRule {
                    id: rule_id,
                    ..rule
                })?;
            }
            Ok(id)
        })
        .await
    }

    /// The group `id` (-1: the caller's primary group).
    pub fn group_info(&self, caller: &Caller, id: Oid) -> Result<Arc<Group>> {
        let id = if id == -1 { caller.gid } else { id };
        self.read(|state| {
            let group = state.get::<Group>(id)?;
            if !caller.in_group(id) {
                authorize(state, caller, group.as_ref(), AuthOp::Use)?;
            }
            Ok(group.clone())
        })
    }

    /// Deletes an empty group and the ACL rules that name it.
    pub async fn group_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            let group = tx.state.get::<Group>(id)?;
            authorize(tx.state, caller, group.as_ref(), AuthOp::Admin)?;
            if id == ONEADMIN_GID || id == USERS_GID {
                // GroupPool::drop, in SharedAPI::delete_object's "Cannot delete group. "
                return Err(Error::action(
                    "Cannot delete group. System Groups (ID < 100) cannot be deleted.",
                ));
            }
            if !group.users.is_empty() {
                return Err(Error::action(format!(
                    "Cannot delete group. Group {id} is not empty."
                )));
            }
            let names_group =
                |spec: u64| spec & GROUP_ID != 0 && (spec & ID_VALUE_MASK) as Oid == id;
            let rules: Vec<Oid> = tx
                .state
                .acls
                .values()
                .filter(|r| names_group(r.user) || names_group(r.resource))
                .map(|r| r.id)
                .collect();
            for rule in rules {
                tx.delete::<AclRule>(rule);
            }
            tx.delete::<Group>(id);
            Ok(id)
        })
        .await
    }

    /// Makes a member of the group one of its administrators (or removes that).
    pub async fn group_admin(&self, caller: &Caller, gid: Oid, uid: Oid, add: bool) -> Result<Oid> {
        self.write(|tx| {
            let group = tx.state.get::<Group>(gid)?;
            authorize(tx.state, caller, group.as_ref(), AuthOp::Manage)?;
            let user = tx.state.get::<User>(uid)?;
            authorize(tx.state, caller, user.as_ref(), AuthOp::Manage)?;
            let mut group = (**group).clone();
            if add {
                if !user.groups.contains(&gid) {
                    // Group::add_admin/del_admin, in GroupAPI's "Cannot edit group. "
                    return Err(Error::action(format!(
                        "Cannot edit group. User {uid} is not part of Group {gid}."
                    )));
                }
                if !group.admins.insert(uid) {
                    return Err(Error::action(format!(
                        "Cannot edit group. User {uid} is already an administrator of Group {gid}."
                    )));
                }
            } else if !group.admins.remove(&uid) {
                return Err(Error::action(format!(
                    "Cannot edit group. User {uid} is not an administrator of Group {gid}."
                )));
            }
            tx.put(group)?;
            Ok(gid)
        })
        .await
    }

    /// Replaces the VLAN ranges delegated to a group: `RULE=[ID="1,33,400-700",
    /// SCOPE=.., VNTEMPLATE=..]` vectors. Administrators only.
    pub async fn group_vlan(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let template = parse_template(text).map_err(|e| Error::internal(e.to_string()))?;
        let mut rules = Vec::new();
        for rule in template.vectors("RULE") {
            let get = |k: &str| {
                rule.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_default()
            };
            let ids = get("ID");
            let valid = !ids.is_empty()
                && ids.split(',').all(|part| {
                    let mut ends = part.trim().splitn(2, '-').map(|n| n.trim().parse::<u16>());
                    match (ends.next(), ends.next()) {
                        (Some(Ok(a)), None) => a <= 4095,
                        (Some(Ok(a)), Some(Ok(b))) => a <= b && b <= 4095,
                        _ => false,
                    }
                });
            if !valid {
                return Err(Error::action(format!(
                    "Wrong VLAN ids \"{ids}\": use ids and ranges 0-4095, e.g. 1,33,400-700"
                )));
            }
            rules.push(VlanRule {
                ids,
                scope: get("SCOPE"),
                vntemplate: get("VNTEMPLATE"),
            });
        }
        self.write(move |tx| {
            let group = tx.state.get::<Group>(id)?;
            authorize(tx.state, caller, group.as_ref(), AuthOp::Admin)?;
            let mut group = (**group).clone();
            group.vlan_rules = rules;
            tx.put(group)?;
            Ok(id)
        })
        .await
    }

    /// Sets quota limits of a group.
    pub async fn group_quota(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let template = parse_quota_template(text)?;
        self.write(move |tx| {
            let group = tx.state.get::<Group>(id)?;
            authorize(tx.state, caller, group.as_ref(), AuthOp::Admin)?;
            if id == ONEADMIN_GID {
                return Err(Error::action("Cannot set quotas for oneadmin group"));
            }
            let mut group = (**group).clone();
            apply_quota_template(&mut group.quotas, &template)?;
            tx.put(group)?;
            Ok(id)
        })
        .await
    }

    /// The default group quotas.
    pub fn default_group_quotas(&self) -> Result<Quotas> {
        self.read(|state| Ok(state.default_group_quotas.clone()))
    }

    /// Sets default group quota limits (administrators only); returns the new defaults.
    pub async fn default_group_quotas_update(&self, caller: &Caller, text: &str) -> Result<Quotas> {
        if !caller.is_admin() {
            // SharedAPI::quota_update
            return Err(Error::restricted(
                caller.uid,
                "The default quotas can only be updated by users in the oneadmin group",
            ));
        }
        let template = parse_quota_template(text)?;
        self.write(move |tx| {
            let mut quotas = tx.state.default_group_quotas.clone();
            crate::ops::quota::apply_default_quota_template(&mut quotas, &template)?;
            let stored = quotas.clone();
            tx.set_attribute(ATTR_DEFAULT_GROUP_QUOTAS, &quotas, move |s| {
                s.default_group_quotas = stored;
            })?;
            Ok(quotas)
        })
        .await
    }
}
