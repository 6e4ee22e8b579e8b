//! `VNTEMPLATE` and `VNTEMPLATE_POOL`, per vntemplate.xsd.

use std::sync::Arc;

use nubo_core::model::VnTemplate;

use super::common::{lock, owner_head, permissions, pool, template};
use crate::xml::Xml;

fn write(x: &mut Xml, t: &VnTemplate) {
    x.open("VNTEMPLATE");
    owner_head(x, &t.meta);
    lock(x, t.meta.lock.as_ref());
    permissions(x, t.meta.perms);
    x.num("REGTIME", t.regtime);
    template(x, "TEMPLATE", &t.template);
    x.close("VNTEMPLATE");
}

/// One virtual network template.
pub fn vntemplate(t: &VnTemplate) -> String {
    let mut x = Xml::new();
    write(&mut x, t);
    x.finish()
}

/// The virtual network template pool.
pub fn vntemplate_pool(items: &[Arc<VnTemplate>]) -> String {
    pool("VNTEMPLATE_POOL", items, write)
}
