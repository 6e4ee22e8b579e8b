//! `SECURITY_GROUP` and `SECURITY_GROUP_POOL`, per security_group.xsd (which has no LOCK).

use std::sync::Arc;

use nubo_core::model::SecGroup;

use super::common::{owner_head, permissions, pool, template};
use crate::xml::Xml;

fn write(x: &mut Xml, s: &SecGroup) {
    x.open("SECURITY_GROUP");
    owner_head(x, &s.meta);
    permissions(x, s.meta.perms);
    x.ids("UPDATED_VMS", &s.updated_vms)
        .ids("OUTDATED_VMS", &s.outdated_vms)
        .ids("UPDATING_VMS", &s.updating_vms)
        .ids("ERROR_VMS", &s.error_vms);
    template(x, "TEMPLATE", &s.template);
    x.close("SECURITY_GROUP");
}

/// One security group.
pub fn secgroup(s: &SecGroup) -> String {
    let mut x = Xml::new();
    write(&mut x, s);
    x.finish()
}

/// The security group pool.
pub fn secgroup_pool(items: &[Arc<SecGroup>]) -> String {
    pool("SECURITY_GROUP_POOL", items, write)
}
