//! `GROUP`, `GROUP_POOL` and `DEFAULT_GROUP_QUOTAS`.

use std::sync::Arc;

use nubo_core::model::{Group, Quotas};

use super::common::template;
use super::quota::{pool_quotas, quotas};
use crate::xml::Xml;

fn head(x: &mut Xml, g: &Group) {
    x.num("ID", g.id).text("NAME", &g.name);
    template(x, "TEMPLATE", &g.template);
    x.ids("USERS", &g.users).ids("ADMINS", &g.admins);
}

fn vlan_rules(x: &mut Xml, g: &Group) {
    x.open("VLAN_RULES").num("ID", g.id);
    for r in &g.vlan_rules {
        x.open("RULE")
            .cdata("ID", &r.ids)
            .cdata("SCOPE", &r.scope)
            .cdata("VNTEMPLATE", &r.vntemplate)
            .close("RULE");
    }
    x.close("VLAN_RULES");
}

fn defaults(x: &mut Xml, q: &Quotas) {
    x.open("DEFAULT_GROUP_QUOTAS");
    quotas(x, q);
    x.close("DEFAULT_GROUP_QUOTAS");
}

/// One group, with quotas and the default quotas.
pub fn group(g: &Group, default_quotas: &Quotas) -> String {
    let mut x = Xml::new();
    x.open("GROUP");
    head(&mut x, g);
    quotas(&mut x, &g.quotas);
    vlan_rules(&mut x, g);
    defaults(&mut x, default_quotas);
    x.close("GROUP");
    x.finish()
}

/// The group pool: groups, then their quotas, then the defaults.
pub fn group_pool(groups: &[Arc<Group>], default_quotas: &Quotas) -> String {
    let mut x = Xml::new();
    x.open("GROUP_POOL");
    for g in groups {
        x.open("GROUP");
        head(&mut x, g);
        x.close("GROUP");
    }
    for g in groups {
        pool_quotas(&mut x, g.id, &g.quotas);
    }
    defaults(&mut x, default_quotas);
    x.close("GROUP_POOL");
    x.finish()
}

/// `DEFAULT_GROUP_QUOTAS` alone (groupquota.info).
pub fn group_quota_defaults(q: &Quotas) -> String {
    let mut x = Xml::new();
    defaults(&mut x, q);
    x.finish()
}
