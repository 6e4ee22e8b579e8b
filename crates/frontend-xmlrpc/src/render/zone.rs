//! `ZONE`, `ZONE_POOL` and `RAFT`.

use std::sync::Arc;

use nubo_core::model::Zone;

use super::common::pool;
use crate::xml::Xml;

fn write(x: &mut Xml, z: &Zone) {
    x.open("ZONE")
        .num("ID", z.id)
        .text("NAME", &z.name)
        .num("STATE", z.state.code());
    // zone.xsd allows only ENDPOINT in TEMPLATE; other attributes are kept but not shown.
    x.open("TEMPLATE")
        .cdata("ENDPOINT", z.template.get("ENDPOINT").unwrap_or_default())
        .close("TEMPLATE");
    x.open("SERVER_POOL");
    for s in &z.servers {
        x.open("SERVER")
            .cdata("ENDPOINT", &s.endpoint)
            .num("ID", s.id)
            .text("NAME", &s.name)
            .close("SERVER");
    }
    x.close("SERVER_POOL").close("ZONE");
}

/// One zone.
pub fn zone(z: &Zone) -> String {
    let mut x = Xml::new();
    write(&mut x, z);
    x.finish()
}

/// The zone pool.
pub fn zone_pool(items: &[Arc<Zone>]) -> String {
    pool("ZONE_POOL", items, write)
}

/// `RAFT` status of a standalone front-end, as oned answers it: state SOLO (0), no
/// server id, no log.
pub fn raft_status() -> String {
    let mut x = Xml::new();
    x.open("RAFT")
        .num("SERVER_ID", -1)
        .num("STATE", 0)
        .num("TERM", 0)
        .num("VOTEDFOR", -1)
        .num("COMMIT", 0)
        .num("LOG_INDEX", -1)
        .num("LOG_TERM", -1)
        .num("FEDLOG_INDEX", -1)
        .close("RAFT");
    x.finish()
}
