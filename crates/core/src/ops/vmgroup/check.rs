//! Reading roles and checking a VM group as OpenNebula does (`VMGroup::check_consistency`):
//! every role named, names unique, rules naming only defined roles, no rule twice, no
//! ANTI_AFFINED role in an AFFINED rule, no role in both an AFFINED and an ANTI_AFFINED
//! rule. Also refused here, where oned would silently misbehave: an unknown POLICY, host
//! lists that are not ids, a host both affined and anti-affined, a group without roles
//! (vm_group.xsd needs one).

use std::collections::{BTreeMap, BTreeSet};

use nubo_types::Oid;

use crate::model::{RolePolicy, VmGroup, VmGroupRole, split_names};

/// OpenNebula's limit on roles per group.
pub const MAX_ROLES: usize = 32;

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
}

fn hosts(
    pairs: &[(String, String)],
    key: &str,
    role: &str,
) -> Result<Option<BTreeSet<Oid>>, String> {
    let Some(text) = get(pairs, key) else {
        return Ok(None);
    };
    split_names(text)
        .map(|h| {
            h.parse::<Oid>()
                .ok()
                .filter(|id| *id >= 0)
                .ok_or_else(|| format!("Wrong host id \"{h}\" in {key} of role {role}"))
        })
        .collect::<Result<BTreeSet<_>, _>>()
        .map(Some)
}

/// A new role `id` from a `ROLE=[..]` vector (VMS and ID given there are ignored).
pub fn new_role(pairs: &[(String, String)], id: i32) -> Result<VmGroupRole, String> {
    let name = get(pairs, "NAME")
        .filter(|n| !n.is_empty())
        .ok_or("Missing NAME in VM group role")?
        .to_string();
    let mut role = VmGroupRole {
        id,
        name,
        policy: RolePolicy::None,
        host_affined: BTreeSet::new(),
        host_anti_affined: BTreeSet::new(),
        vms: BTreeSet::new(),
    };
    update_role(&mut role, pairs)?;
    Ok(role)
}

/// Merges a `ROLE=[..]` vector into `role`: the keys given replace the role's (NAME too);
/// VMS and ID cannot be changed.
pub fn update_role(role: &mut VmGroupRole, pairs: &[(String, String)]) -> Result<(), String> {
    if let Some(name) = get(pairs, "NAME").filter(|n| !n.is_empty()) {
        role.name = name.to_string();
    }
    if let Some(p) = get(pairs, "POLICY") {
        role.policy = RolePolicy::parse(p).ok_or_else(|| {
            format!(
                "Wrong POLICY \"{p}\" in role {}, valid options: AFFINED, ANTI_AFFINED, NONE",
                role.name
            )
        })?;
    }
    if let Some(h) = hosts(pairs, "HOST_AFFINED", &role.name)? {
        role.host_affined = h;
    }
    if let Some(h) = hosts(pairs, "HOST_ANTI_AFFINED", &role.name)? {
        role.host_anti_affined = h;
    }
    if let Some(h) = role
        .host_affined
        .intersection(&role.host_anti_affined)
        .next()
    {
        return Err(format!(
            "Host {h} is in both HOST_AFFINED and HOST_ANTI_AFFINED of role {}",
            role.name
        ));
    }
    Ok(())
}

/// The role-to-role rules of kind `policy`, each as role ids; unknown names, rules given
/// as vectors and repeated rules are refused.
fn rules(group: &VmGroup, policy: RolePolicy) -> Result<Vec<BTreeSet<i32>>, String> {
    let name = policy.name();
    if group.template.vectors(name).next().is_some() {
        return Err(format!("{name} must be a list of role names, not a vector"));
    }
    let mut seen = Vec::new();
    for (text, ids) in group.rules(policy) {
        let ids = ids.ok_or_else(|| {
            format!("Some roles used in {name} attribute ({text}) are not defined")
        })?;
        if seen.contains(&ids) {
            return Err(format!("Duplicated {name} rule ({text}) detected."));
        }
        seen.push(ids);
    }
    Ok(seen)
}

/// Checks a whole group; the message says what is wrong.
/// A group may have no roles at all, as in OpenNebula (roles can be added later).
pub fn check_group(group: &VmGroup) -> Result<(), String> {
    if group.roles.len() > MAX_ROLES {
        return Err("Maximum number of roles in a VM Group reached".to_string());
    }
    let mut names = BTreeSet::new();
    for role in &group.roles {
        if !names.insert(role.name.as_str()) {
            return Err(format!("Role {} already exists", role.name));
        }
    }
    let by_id: BTreeMap<i32, &VmGroupRole> = group.roles.iter().map(|r| (r.id, r)).collect();
    let affined = rules(group, RolePolicy::Affined)?;
    for id in affined.iter().flatten() {
        if let Some(role) = by_id
            .get(id)
            .filter(|r| r.policy == RolePolicy::AntiAffined)
        {
            return Err(format!(
                "Role {} is in an AFFINED rule but the role policy is ANTI_AFFINED",
                role.name
            ));
        }
    }
    let anti = rules(group, RolePolicy::AntiAffined)?;
    let in_affined: BTreeSet<i32> = affined.into_iter().flatten().collect();
    let in_anti: BTreeSet<i32> = anti.into_iter().flatten().collect();
    let both: Vec<&str> = in_affined
        .intersection(&in_anti)
        .filter_map(|id| by_id.get(id).map(|r| r.name.as_str()))
        .collect();
    if !both.is_empty() {
        return Err(format!(
            "Roles defined in AFFINED and ANTI_AFFINED rules: {}",
            both.join(" ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use nubo_template::Template;

    use super::*;
    use crate::model::Meta;

    fn group(text: &str) -> Result<VmGroup, String> {
        let mut template = Template::parse(text).map_err(|e| e.to_string())?;
        let mut roles = Vec::new();
        for (i, attr) in template.remove("ROLE").iter().enumerate() {
            let pairs = attr.value.as_vector().ok_or("ROLE must be a vector")?;
            roles.push(new_role(pairs, i as i32)?);
        }
        let g = VmGroup {
            meta: Meta::of_oneadmin(0, "g", Default::default()),
            next_role: roles.len() as i32,
            roles,
            template,
        };
        check_group(&g)?;
        Ok(g)
    }

    #[test]
    fn groups_are_checked_as_opennebula_does() {
        let ok = [
            "",
            "LABEL=x",
            "ROLE=[NAME=a]",
            "ROLE=[NAME=a, POLICY=affined, HOST_AFFINED=\"1, 2\"]\nROLE=[NAME=b]\nAFFINED=\"a,b\"",
            "ROLE=[NAME=a, POLICY=ANTI_AFFINED]\nROLE=[NAME=b]\nROLE=[NAME=c]\nROLE=[NAME=d]\nANTI_AFFINED=\"a, b\"\nAFFINED=\"c , d\"",
        ];
        for text in ok {
            assert!(group(text).is_ok(), "{text}: {:?}", group(text).err());
        }
        let bad = [
            ("ROLE=[POLICY=AFFINED]", "Missing NAME"),
            ("ROLE=[NAME=a]\nROLE=[NAME=a]", "Role a already exists"),
            ("ROLE=[NAME=a, POLICY=SIDEWAYS]", "Wrong POLICY"),
            ("ROLE=[NAME=a, HOST_AFFINED=\"1,x\"]", "Wrong host id \"x\""),
            (
                "ROLE=[NAME=a, HOST_AFFINED=1, HOST_ANTI_AFFINED=\"2,1\"]",
                "Host 1 is in both",
            ),
            (
                "ROLE=[NAME=a]\nAFFINED=\"a, z\"",
                "Some roles used in AFFINED attribute (a, z) are not defined",
            ),
            (
                "ROLE=[NAME=a]\nROLE=[NAME=b]\nANTI_AFFINED=\"a,b\"\nANTI_AFFINED=\"b, a\"",
                "Duplicated ANTI_AFFINED rule (b, a) detected.",
            ),
            (
                "ROLE=[NAME=a, POLICY=ANTI_AFFINED]\nROLE=[NAME=b]\nAFFINED=\"a,b\"",
                "Role a is in an AFFINED rule but the role policy is ANTI_AFFINED",
            ),
            (
                "ROLE=[NAME=a]\nROLE=[NAME=b]\nROLE=[NAME=c]\nAFFINED=\"a,b\"\nANTI_AFFINED=\"b,c\"",
                "Roles defined in AFFINED and ANTI_AFFINED rules: b",
            ),
            ("ROLE=[NAME=a]\nAFFINED=[X=a]", "not a vector"),
        ];
        for (text, want) in bad {
            let err = group(text).expect_err(text);
            assert!(err.contains(want), "{text}: {err}");
        }
        let many: String = (0..=MAX_ROLES)
            .map(|i| format!("ROLE=[NAME=r{i}]\n"))
            .collect();
        assert!(group(&many).expect_err("too many").contains("Maximum"));
    }
}
