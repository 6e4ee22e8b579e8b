//! `HOST` and `HOST_POOL`.

use std::sync::Arc;

use nubo_core::model::Host;
use nubo_core::monitoring::HostSample;

use super::common::{pool, template};
use crate::xml::Xml;

fn write(x: &mut Xml, h: &Host, sample: Option<&HostSample>) {
    let s = &h.share;
    x.open("HOST")
        .num("ID", h.id)
        .text("NAME", &h.name)
        .num("STATE", h.state.code())
        .num("PREV_STATE", h.prev_state.code())
        .cdata("IM_MAD", &h.im_mad)
        .cdata("VM_MAD", &h.vm_mad)
        .num("CLUSTER_ID", h.cluster_id)
        .text("CLUSTER", &h.cluster);
    x.open("HOST_SHARE")
        .num("MEM_USAGE", s.mem_usage)
        .num("CPU_USAGE", s.cpu_usage)
        .num("TOTAL_MEM", s.total_mem)
        .num("TOTAL_CPU", s.total_cpu)
        .num("MAX_MEM", s.max_mem)
        .num("MAX_CPU", s.max_cpu)
        .num("RUNNING_VMS", s.running_vms)
        .num("VMS_THREAD", 1);
    x.open("DATASTORES")
        .num("DISK_USAGE", s.disk_usage)
        .num("FREE_DISK", 0)
        .num("MAX_DISK", 0)
        .num("USED_DISK", 0)
        .close("DATASTORES");
    x.empty("PCI_DEVICES")
        .empty("NUMA_NODES")
        .close("HOST_SHARE");
    x.ids("VMS", &h.vms);
    template(x, "TEMPLATE", &h.template);
    x.open("MONITORING");
    if let Some(s) = sample {
        super::monitoring::host_sample(x, h.id, s);
    } else if h.last_monitored > 0 {
        x.num("TIMESTAMP", h.last_monitored).num("ID", h.id);
    }
    x.close("MONITORING");
    x.close("HOST");
}

/// One host, with its latest monitoring sample (`sample`) in MONITORING.
pub fn host(h: &Host, sample: Option<&HostSample>) -> String {
    let mut x = Xml::new();
    write(&mut x, h, sample);
    x.finish()
}

/// The host pool, each host with its latest monitoring sample (`sample_of`).
pub fn host_pool(items: &[Arc<Host>], sample_of: impl Fn(i32) -> Option<HostSample>) -> String {
    pool("HOST_POOL", items, |x, h| {
        write(x, h, sample_of(h.id).as_ref())
    })
}
