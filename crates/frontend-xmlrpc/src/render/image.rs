//! `IMAGE` and `IMAGE_POOL`.

use std::sync::Arc;

use nubo_core::model::{Image, ImageSnapshot};

use super::common::{lock, owner_head, permissions, pool, template};
use crate::xml::Xml;

fn snapshot(x: &mut Xml, s: &ImageSnapshot, all: &[ImageSnapshot]) {
    let children: Vec<String> = all
        .iter()
        .filter(|c| c.parent == s.id)
        .map(|c| c.id.to_string())
        .collect();
    x.open("SNAPSHOT");
    if !children.is_empty() {
        x.text("CHILDREN", &children.join(","));
    }
    if s.active {
        x.text("ACTIVE", "YES");
    }
    x.num("DATE", s.date)
        .num("ID", s.id)
        .text("NAME", &s.name)
        .num("PARENT", s.parent)
        .num("SIZE", s.size)
        .close("SNAPSHOT");
}

/// `SNAPSHOTS`: the orphan policy, the active snapshot, the next id, then each snapshot.
fn snapshots(x: &mut Xml, all: &[ImageSnapshot]) {
    let current = all.iter().find(|s| s.active).map_or(-1, |s| s.id);
    let next = all.iter().map(|s| s.id + 1).max().unwrap_or(0);
    x.open("SNAPSHOTS")
        .text("ALLOW_ORPHANS", "NO")
        .num("CURRENT_BASE", current)
        .num("NEXT_SNAPSHOT", next);
    for s in all {
        snapshot(x, s, all);
    }
    x.close("SNAPSHOTS");
}

fn write(x: &mut Xml, i: &Image) {
    x.open("IMAGE");
    owner_head(x, &i.meta);
    lock(x, i.meta.lock.as_ref());
    permissions(x, i.meta.perms);
    x.num("TYPE", i.image_type.code())
        .num("DISK_TYPE", i.disk_type.code())
        .flag("PERSISTENT", i.persistent)
        .num("REGTIME", i.regtime)
        .num("MODTIME", i.modtime)
        .cdata("SOURCE", &i.source)
        .cdata("PATH", &i.path)
        .cdata("FORMAT", &i.format)
        .cdata("FS", &i.fs)
        .num("SIZE", i.size)
        .num("STATE", i.state.code())
        .num("PREV_STATE", i.prev_state.code())
        .num("RUNNING_VMS", i.running_vms)
        .num("CLONING_OPS", i.cloning_ops)
        .num("CLONING_ID", i.cloning_id)
        .num("TARGET_SNAPSHOT", i.target_snapshot)
        .num("DATASTORE_ID", i.datastore_id)
        .text("DATASTORE", &i.datastore)
        .ids("VMS", &i.vms)
        .ids("CLONES", &i.clones)
        .ids("APP_CLONES", &i.app_clones);
    template(x, "TEMPLATE", &i.template);
    snapshots(x, &i.snapshots);
    x.empty("BACKUP_INCREMENTS");
    x.close("IMAGE");
}

/// One image.
pub fn image(i: &Image) -> String {
    let mut x = Xml::new();
    write(&mut x, i);
    x.finish()
}

/// The image pool.
pub fn image_pool(items: &[Arc<Image>]) -> String {
    pool("IMAGE_POOL", items, write)
}
