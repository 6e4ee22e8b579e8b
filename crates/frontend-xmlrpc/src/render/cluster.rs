//! `CLUSTER` and `CLUSTER_POOL`.

use std::sync::Arc;

use nubo_core::model::Cluster;

use super::common::{pool, template};
use crate::xml::Xml;

fn write(x: &mut Xml, c: &Cluster) {
    x.open("CLUSTER").num("ID", c.id).text("NAME", &c.name);
    x.ids("HOSTS", &c.hosts)
        .ids("DATASTORES", &c.datastores)
        .ids("VNETS", &c.vnets);
    template(x, "TEMPLATE", &c.template);
    x.close("CLUSTER");
}

/// One cluster.
pub fn cluster(c: &Cluster) -> String {
    let mut x = Xml::new();
    write(&mut x, c);
    x.finish()
}

/// The cluster pool.
pub fn cluster_pool(items: &[Arc<Cluster>]) -> String {
    pool("CLUSTER_POOL", items, write)
}
