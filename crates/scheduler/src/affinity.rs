//! VM group rules in placement. A VM of a VM group role carries an [`Affinity`]: the hosts
//! its role is tied to or kept from (`HOST_AFFINED`, `HOST_ANTI_AFFINED`), the roles it
//! must share a host with (its own role when `POLICY=AFFINED`, and the roles `AFFINED`
//! rules tie it to) and the roles it must never share a host with (its own role when
//! `POLICY=ANTI_AFFINED`, and the other roles of its `ANTI_AFFINED` rules). Hosts say which
//! roles their VMs play (`HostCandidate::roles`); [`check`] decides whether one host
//! suits one VM, and a [`Rule`] names what keeps it off.

use std::collections::{BTreeMap, BTreeSet};

/// A role of a VM group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleRef {
    /// The VM group id.
    pub group: i32,
    /// The role id within the group.
    pub role: i32,
}

/// The VM group rules one pending VM must follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affinity {
    /// The VM's role.
    pub role: RoleRef,
    /// Role names, for messages (the VM's role and every role named below).
    pub names: BTreeMap<RoleRef, String>,
    /// `HOST_AFFINED`: when not empty, only these hosts.
    pub host_affined: BTreeSet<i32>,
    /// `HOST_ANTI_AFFINED`: never these hosts.
    pub host_anti_affined: BTreeSet<i32>,
    /// Roles whose VMs this VM must run with. Once any of them has a VM on a host, the VM
    /// goes to a host holding one; while none has, the pending VMs of these roles are
    /// placed together, on one host that fits them all, or not at all.
    pub affined: BTreeSet<RoleRef>,
    /// Roles whose VMs this VM must never share a host with.
    pub anti_affined: BTreeSet<RoleRef>,
    /// Roles that have a VM on some host, counting hosts that are not candidates now (a
    /// disabled one, say): an affined set that runs there is not started anew elsewhere.
    pub placed: BTreeSet<RoleRef>,
}

impl Affinity {
    /// An affinity for `role` named `name`, with no rule yet.
    pub fn new(role: RoleRef, name: impl Into<String>) -> Self {
        Affinity {
            role,
            names: BTreeMap::from([(role, name.into())]),
            host_affined: BTreeSet::new(),
            host_anti_affined: BTreeSet::new(),
            affined: BTreeSet::new(),
            anti_affined: BTreeSet::new(),
            placed: BTreeSet::new(),
        }
    }

    /// Whether this VM must wait to be placed together with the other pending VMs of its
    /// affined roles: none of them has a VM on any host yet.
    pub fn starts_affined_set(&self, placed: &BTreeSet<RoleRef>) -> bool {
        !self.affined.is_empty() && self.affined.is_disjoint(placed)
    }
}

/// The VM group rule that keeps a VM off a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// The host is not in the role's `HOST_AFFINED` list.
    HostAffined(RoleRef),
    /// The host is in the role's `HOST_ANTI_AFFINED` list.
    HostAntiAffined(RoleRef),
    /// The host holds a VM of a role this role is anti-affined with (itself, for
    /// `POLICY=ANTI_AFFINED`).
    AntiAffined {
        /// The VM's role.
        role: RoleRef,
        /// The role already on the host.
        with: RoleRef,
    },
    /// The host holds no VM of the roles this role is affined with, which run elsewhere.
    Affined(RoleRef),
}

impl Rule {
    /// The rule in words, naming roles from `names` (by id when a name is missing).
    pub fn describe(&self, names: &BTreeMap<RoleRef, String>) -> String {
        let name = |r: &RoleRef| match names.get(r) {
            Some(n) => format!("\"{n}\""),
            None => format!("{}", r.role),
        };
        match self {
            Rule::HostAffined(r) => {
                format!("VM group {} role {} HOST_AFFINED", r.group, name(r))
            }
            Rule::HostAntiAffined(r) => {
                format!("VM group {} role {} HOST_ANTI_AFFINED", r.group, name(r))
            }
            Rule::AntiAffined { role, with } if role == with => {
                format!(
                    "VM group {} role {} POLICY=ANTI_AFFINED",
                    role.group,
                    name(role)
                )
            }
            Rule::AntiAffined { role, with } => format!(
                "VM group {} ANTI_AFFINED rule of roles {} and {}",
                role.group,
                name(role),
                name(with)
            ),
            Rule::Affined(r) => format!(
                "VM group {} role {} AFFINED (its affined VMs run elsewhere)",
                r.group,
                name(r)
            ),
        }
    }
}

/// Whether host `host_id`, whose VMs play `host_roles`, suits a VM with affinity `aff`,
/// given the roles that have a VM on some host (`placed`); the first rule that fails
/// otherwise.
pub fn check(
    host_id: i32,
    host_roles: &BTreeSet<RoleRef>,
    aff: &Affinity,
    placed: &BTreeSet<RoleRef>,
) -> Result<(), Rule> {
    if !aff.host_affined.is_empty() && !aff.host_affined.contains(&host_id) {
        return Err(Rule::HostAffined(aff.role));
    }
    if aff.host_anti_affined.contains(&host_id) {
        return Err(Rule::HostAntiAffined(aff.role));
    }
    if let Some(with) = aff.anti_affined.iter().find(|r| host_roles.contains(r)) {
        return Err(Rule::AntiAffined {
            role: aff.role,
            with: *with,
        });
    }
    if !aff.starts_affined_set(placed)
        && !aff.affined.is_empty()
        && aff.affined.is_disjoint(host_roles)
    {
        return Err(Rule::Affined(aff.role));
    }
    Ok(())
}
