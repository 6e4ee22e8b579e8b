//! ACL rule evaluation: does any rule grant a caller a right over an object?

use nubo_types::acl::{ALL_ID, CLUSTER_ID, GROUP_ID, ID_VALUE_MASK, INDIVIDUAL_ID};
use nubo_types::{AuthOp, ObjectKind, Oid};

use super::Caller;
use crate::model::AclRule;
use crate::state::State;

/// The facts about an object that ACL resource specs can name.
#[derive(Debug, Clone)]
pub struct Target {
    /// Object kind.
    pub kind: ObjectKind,
    /// Object id (None when creating).
    pub oid: Option<Oid>,
    /// Object group (the caller's group when creating).
    pub gid: Oid,
    /// Clusters the object belongs to.
    pub clusters: Vec<Oid>,
}

fn id_of(spec: u64) -> Oid {
    (spec & ID_VALUE_MASK) as u32 as Oid
}

fn user_matches(rule: &AclRule, caller: &Caller) -> bool {
    let id = id_of(rule.user);
    (rule.user & ALL_ID != 0)
        || (rule.user & INDIVIDUAL_ID != 0 && id == caller.uid)
        || (rule.user & GROUP_ID != 0 && caller.in_group(id))
}

fn zone_matches(rule: &AclRule) -> bool {
    rule.zone & ALL_ID != 0 || (rule.zone & INDIVIDUAL_ID != 0 && id_of(rule.zone) == 0)
}

fn resource_matches(rule: &AclRule, target: &Target) -> bool {
    if rule.resource & target.kind.acl_bit() == 0 {
        return false;
    }
    let id = id_of(rule.resource);
    (rule.resource & ALL_ID != 0)
        || (rule.resource & INDIVIDUAL_ID != 0 && target.oid == Some(id))
        || (rule.resource & GROUP_ID != 0 && target.gid == id)
        || (rule.resource & CLUSTER_ID != 0 && target.clusters.contains(&id))
}

/// Whether some ACL rule grants `op` on `target` to `caller`.
pub fn acl_allows(state: &State, caller: &Caller, target: &Target, op: AuthOp) -> bool {
    let right = op.acl_right();
    state.acls.values().any(|rule| {
        rule.rights & right != 0
            && zone_matches(rule)
            && user_matches(rule, caller)
            && resource_matches(rule, target)
    })
}
