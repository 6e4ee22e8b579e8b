//! `ACL_POOL`.

use std::sync::Arc;

use nubo_core::model::AclRule;
use nubo_types::acl::format_rule;

use crate::xml::Xml;

/// Every ACL rule, with hex specs and the text form.
pub fn acl_pool(rules: &[Arc<AclRule>]) -> String {
    let mut x = Xml::new();
    x.open("ACL_POOL");
    for r in rules {
        x.open("ACL")
            .num("ID", r.id)
            .num("USER", format!("{:X}", r.user))
            .num("RESOURCE", format!("{:X}", r.resource))
            .num("RIGHTS", format!("{:X}", r.rights))
            .num("ZONE", format!("{:X}", r.zone))
            .text("STRING", &format_rule(r.user, r.resource, r.rights, r.zone))
            .close("ACL");
    }
    x.close("ACL_POOL");
    x.finish()
}
