//! `VM_GROUP` and `VM_GROUP_POOL`, per vm_group.xsd: each role as oned writes it (host
//! lists and VMs as comma-separated strings, present only when not empty).

use std::collections::BTreeSet;
use std::sync::Arc;

use nubo_core::model::{VmGroup, VmGroupRole};

use super::common::{lock, owner_head, permissions, pool, template};
use crate::xml::Xml;

fn list(ids: &BTreeSet<i32>) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn write_role(x: &mut Xml, r: &VmGroupRole) {
    x.open("ROLE");
    if !r.host_affined.is_empty() {
        x.cdata("HOST_AFFINED", &list(&r.host_affined));
    }
    if !r.host_anti_affined.is_empty() {
        x.cdata("HOST_ANTI_AFFINED", &list(&r.host_anti_affined));
    }
    x.num("ID", r.id)
        .cdata("NAME", &r.name)
        .cdata("POLICY", r.policy.name());
    if !r.vms.is_empty() {
        x.cdata("VMS", &list(&r.vms));
    }
    x.close("ROLE");
}

fn write(x: &mut Xml, g: &VmGroup) {
    x.open("VM_GROUP");
    owner_head(x, &g.meta);
    permissions(x, g.meta.perms);
    lock(x, g.meta.lock.as_ref());
    x.open("ROLES");
    for r in &g.roles {
        write_role(x, r);
    }
    x.close("ROLES");
    template(x, "TEMPLATE", &g.template);
    x.close("VM_GROUP");
}

/// One VM group.
pub fn vmgroup(g: &VmGroup) -> String {
    let mut x = Xml::new();
    write(&mut x, g);
    x.finish()
}

/// The VM group pool.
pub fn vmgroup_pool(items: &[Arc<VmGroup>]) -> String {
    pool("VM_GROUP_POOL", items, write)
}
