//! A VM group (`VM_GROUP`): roles of VMs with placement rules. A role may keep its VMs
//! together or apart (`POLICY`) and tie them to or keep them from hosts (`HOST_AFFINED`,
//! `HOST_ANTI_AFFINED`); the template's `AFFINED` and `ANTI_AFFINED` attributes (role
//! names, comma-separated) tie roles to each other. Each role lists the VMs it holds.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{ObjectKind, Oid};
use serde::{Deserialize, Serialize};

use super::{Meta, NameScope, Named, Owned, Templated, owned_object};

/// How the VMs of one role are placed relative to each other (`POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RolePolicy {
    /// No rule.
    #[default]
    None,
    /// All on the same host.
    Affined,
    /// Each on a different host.
    AntiAffined,
}

impl RolePolicy {
    /// The policy called `name` (case-insensitive); an empty name is `NONE`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "" | "NONE" => Some(RolePolicy::None),
            "AFFINED" => Some(RolePolicy::Affined),
            "ANTI_AFFINED" => Some(RolePolicy::AntiAffined),
            _ => None,
        }
    }

    /// OpenNebula's name, which is also the name of the template attribute holding the
    /// role-to-role rules of this kind.
    pub fn name(self) -> &'static str {
        match self {
            RolePolicy::None => "NONE",
            RolePolicy::Affined => "AFFINED",
            RolePolicy::AntiAffined => "ANTI_AFFINED",
        }
    }
}

/// One role of a VM group (`ROLE` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmGroupRole {
    /// Role id, unique within the group (never reused).
    pub id: i32,
    /// Role name, unique within the group.
    pub name: String,
    /// How its VMs are placed relative to each other.
    pub policy: RolePolicy,
    /// When not empty, its VMs run only on these hosts.
    pub host_affined: BTreeSet<Oid>,
    /// Its VMs never run on these hosts.
    pub host_anti_affined: BTreeSet<Oid>,
    /// The VMs in the role.
    pub vms: BTreeSet<Oid>,
}

/// A VM group (`VM_GROUP` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmGroup {
    /// Id, name, owner, permissions, lock.
    pub meta: Meta,
    /// The roles, by id.
    pub roles: Vec<VmGroupRole>,
    /// The id the next role gets.
    pub next_role: i32,
    /// The template: `AFFINED` and `ANTI_AFFINED` rules and the user's attributes.
    pub template: Template,
}

owned_object!(VmGroup, ObjectKind::VmGroup, vmgroups);

impl Owned for VmGroup {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }
}

impl Templated for VmGroup {
    fn template(&self) -> &Template {
        &self.template
    }
    fn template_mut(&mut self) -> &mut Template {
        &mut self.template
    }
}

impl Named for VmGroup {
    const NAME_SCOPE: NameScope = NameScope::PerOwner;
    fn set_name(&mut self, name: String) {
        self.meta.name = name;
    }
}

impl VmGroup {
    /// The role with id `id`.
    pub fn role(&self, id: i32) -> Option<&VmGroupRole> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// The role called `name`.
    pub fn role_by_name(&self, name: &str) -> Option<&VmGroupRole> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The role called `name`, mutably.
    pub fn role_by_name_mut(&mut self, name: &str) -> Option<&mut VmGroupRole> {
        self.roles.iter_mut().find(|r| r.name == name)
    }

    /// How many VMs the roles hold.
    pub fn vm_count(&self) -> usize {
        self.roles.iter().map(|r| r.vms.len()).sum()
    }

    /// The role-to-role rules of kind `policy` (`AFFINED` or `ANTI_AFFINED` attributes), each
    /// as the text given and the ids of the roles it names (`None` when a name is unknown).
    pub fn rules(&self, policy: RolePolicy) -> Vec<(String, Option<BTreeSet<i32>>)> {
        self.template
            .get_all(policy.name())
            .map(|a| {
                let text = a.value.as_single().unwrap_or_default().to_string();
                let ids = split_names(&text)
                    .map(|n| self.role_by_name(n).map(|r| r.id))
                    .collect();
                (text, ids)
            })
            .collect()
    }
}

/// The names of a comma-separated list, trimmed, empty ones skipped.
pub fn split_names(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|n| !n.is_empty())
}
