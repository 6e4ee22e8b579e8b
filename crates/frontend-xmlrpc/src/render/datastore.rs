//! `DATASTORE` and `DATASTORE_POOL`.

use std::sync::Arc;

use nubo_core::model::Datastore;

use super::common::{owner_head, permissions, pool, template};
use crate::xml::Xml;

fn write(x: &mut Xml, d: &Datastore) {
    x.open("DATASTORE");
    owner_head(x, &d.meta);
    permissions(x, d.meta.perms);
    x.cdata("DS_MAD", &d.ds_mad)
        .cdata("TM_MAD", &d.tm_mad)
        .cdata("BASE_PATH", &d.base_path)
        .num("TYPE", d.ds_type.code())
        .num("DISK_TYPE", d.disk_type.code())
        .num("STATE", d.state.code())
        .ids("CLUSTERS", &d.clusters)
        .num("TOTAL_MB", d.total_mb)
        .num("FREE_MB", d.free_mb)
        .num("USED_MB", d.used_mb)
        .ids("IMAGES", &d.images);
    template(x, "TEMPLATE", &d.template);
    x.close("DATASTORE");
}

/// One datastore.
pub fn datastore(d: &Datastore) -> String {
    let mut x = Xml::new();
    write(&mut x, d);
    x.finish()
}

/// The datastore pool.
pub fn datastore_pool(items: &[Arc<Datastore>]) -> String {
    pool("DATASTORE_POOL", items, write)
}
