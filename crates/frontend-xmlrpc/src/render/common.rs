//! Pieces every object shares: PERMISSIONS, LOCK, TEMPLATE, and pool wrappers.

use std::sync::Arc;

use nubo_core::model::{Lock, Meta};
use nubo_template::Template;
use nubo_types::Permissions;

use crate::xml::Xml;

/// Writes `ID UID GID UNAME GNAME NAME` of an owned object.
pub fn owner_head(x: &mut Xml, meta: &Meta) {
    x.num("ID", meta.id)
        .num("UID", meta.uid)
        .num("GID", meta.gid)
        .text("UNAME", &meta.uname)
        .text("GNAME", &meta.gname)
        .text("NAME", &meta.name);
}

/// Writes `PERMISSIONS`.
pub fn permissions(x: &mut Xml, perms: Permissions) {
    let names = [
        "OWNER_U", "OWNER_M", "OWNER_A", "GROUP_U", "GROUP_M", "GROUP_A", "OTHER_U", "OTHER_M",
        "OTHER_A",
    ];
    x.open("PERMISSIONS");
    for (name, bit) in names.iter().zip(perms.as_array()) {
        x.flag(name, bit);
    }
    x.close("PERMISSIONS");
}

/// Writes `LOCK` when the object is locked.
pub fn lock(x: &mut Xml, lock: Option<&Lock>) {
    if let Some(l) = lock {
        x.open("LOCK")
            .num("LOCKED", l.level)
            .num("OWNER", l.owner)
            .num("TIME", l.time)
            .num("REQ_ID", l.req_id)
            .close("LOCK");
    }
}

/// Writes `TEMPLATE` (or another root name).
pub fn template(x: &mut Xml, root: &str, t: &Template) {
    let mut plain = String::new();
    t.write_xml(root, &mut plain);
    x.fragment(&plain);
}

/// Writes a pool: `<ROOT>` then each item.
pub fn pool<T>(root: &str, items: &[Arc<T>], item: impl Fn(&mut Xml, &T)) -> String {
    let mut x = Xml::with_capacity(64 + items.len() * 640);
    x.open(root);
    for i in items {
        item(&mut x, i);
    }
    x.close(root);
    x.finish()
}
