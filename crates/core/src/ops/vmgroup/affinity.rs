//! From VM groups to the scheduler's terms: which role each VM plays ([`RoleRef`]) and the
//! rules a role's VMs follow ([`Affinity`]). `AFFINED` rules that share a role are merged,
//! as OpenNebula reduces them: every role they tie together runs with every other.

use std::collections::{BTreeSet, HashMap};

use nubo_scheduler::{Affinity, RoleRef};
use nubo_types::Oid;

use crate::model::{RolePolicy, VmGroup, VmGroupRole};
use crate::state::State;

fn role_ref(group: &VmGroup, role: &VmGroupRole) -> RoleRef {
    RoleRef {
        group: group.meta.id,
        role: role.id,
    }
}

/// The role of every VM that is in a VM group.
pub(crate) fn roles_of_vms(state: &State) -> HashMap<Oid, RoleRef> {
    state
        .vmgroups
        .values()
        .flat_map(|g| {
            g.roles
                .iter()
                .flat_map(move |r| r.vms.iter().map(move |vm| (*vm, role_ref(g, r))))
        })
        .collect()
}

/// The roles played by `vms` (VMs outside groups play none).
pub(crate) fn roles_among(
    vms: impl IntoIterator<Item = Oid>,
    index: &HashMap<Oid, RoleRef>,
) -> BTreeSet<RoleRef> {
    vms.into_iter()
        .filter_map(|vm| index.get(&vm).copied())
        .collect()
}

/// The rules the VMs of `role` follow.
pub(crate) fn affinity(group: &VmGroup, role: &VmGroupRole) -> Affinity {
    let me = role_ref(group, role);
    let mut a = Affinity::new(me, role.name.clone());
    for r in &group.roles {
        a.names.insert(role_ref(group, r), r.name.clone());
    }
    a.host_affined = role.host_affined.clone();
    a.host_anti_affined = role.host_anti_affined.clone();
    let ids = |policy| -> Vec<BTreeSet<i32>> {
        group
            .rules(policy)
            .into_iter()
            .filter_map(|(_, ids)| ids)
            .collect()
    };
    let to_ref = |id: i32| RoleRef {
        group: group.meta.id,
        role: id,
    };
    if role.policy == RolePolicy::Affined {
        a.affined.insert(me);
    }
    let affined_rules = ids(RolePolicy::Affined);
    if affined_rules.iter().any(|rule| rule.contains(&role.id)) {
        let mut closure = BTreeSet::from([role.id]);
        loop {
            let before = closure.len();
            for rule in &affined_rules {
                if !rule.is_disjoint(&closure) {
                    closure.extend(rule.iter().copied());
                }
            }
            if closure.len() == before {
                break;
            }
        }
        a.affined.extend(closure.into_iter().map(to_ref));
    }
    if role.policy == RolePolicy::AntiAffined {
        a.anti_affined.insert(me);
    }
    for rule in ids(RolePolicy::AntiAffined)
        .iter()
        .filter(|r| r.contains(&role.id))
    {
        a.anti_affined.extend(
            rule.iter()
                .filter(|id| **id != role.id)
                .map(|id| to_ref(*id)),
        );
    }
    a
}

/// The rules VM `vm` follows, if it is in a VM group (`index` from [`roles_of_vms`]), with
/// the roles of its group that run somewhere.
pub(crate) fn vm_affinity(
    state: &State,
    vm: Oid,
    index: &HashMap<Oid, RoleRef>,
) -> Option<Affinity> {
    let r = index.get(&vm)?;
    let group = state.vmgroups.get(&r.group)?;
    let mut a = affinity(group, group.role(r.role)?);
    let on_a_host = |id: &Oid| state.vms.get(id).is_some_and(|v| v.host_id().is_some());
    a.placed = group
        .roles
        .iter()
        .filter(|r| r.vms.iter().any(on_a_host))
        .map(|r| role_ref(group, r))
        .collect();
    Some(a)
}

#[cfg(test)]
mod tests {
    use nubo_template::Template;

    use super::*;
    use crate::model::Meta;

    fn role(id: i32, name: &str, policy: RolePolicy) -> VmGroupRole {
        VmGroupRole {
            id,
            name: name.to_string(),
            policy,
            host_affined: BTreeSet::from([4]),
            host_anti_affined: BTreeSet::new(),
            vms: BTreeSet::new(),
        }
    }

    #[test]
    fn roles_become_scheduler_rules() {
        let group = VmGroup {
            meta: Meta::of_oneadmin(9, "g", Default::default()),
            roles: vec![
                role(0, "a", RolePolicy::None),
                role(1, "b", RolePolicy::Affined),
                role(2, "c", RolePolicy::None),
                role(3, "d", RolePolicy::AntiAffined),
                role(4, "e", RolePolicy::None),
            ],
            next_role: 5,
            template: Template::parse("AFFINED=\"a, b\"\nAFFINED=\"b,c\"\nANTI_AFFINED=\"d, e\"")
                .expect("template"),
        };
        let r = |id| RoleRef { group: 9, role: id };
        let of = |id: i32| affinity(&group, group.role(id).expect("role"));
        // a is tied to b, and b to c: a, b and c run together
        assert_eq!(of(0).affined, BTreeSet::from([r(0), r(1), r(2)]));
        assert_eq!(of(2).affined, of(0).affined);
        assert!(of(0).anti_affined.is_empty());
        assert_eq!(of(0).host_affined, BTreeSet::from([4]));
        // d is apart from itself and from e; e only from d
        assert!(of(3).affined.is_empty());
        assert_eq!(of(3).anti_affined, BTreeSet::from([r(3), r(4)]));
        assert_eq!(of(4).anti_affined, BTreeSet::from([r(3)]));
        assert_eq!(of(4).names.get(&r(3)).map(String::as_str), Some("d"));
    }
}
