//! `MONITORING_DATA` of hosts and VMs, and the accounting (`HISTORY_RECORDS`) and showback
//! (`SHOWBACK_RECORDS`) replies of the VM pool.

use std::sync::Arc;

use nubo_core::model::{History, Vm};
use nubo_core::monitoring::{HostSample, VmSample};
use nubo_core::ops::vm::Showback;

use crate::xml::Xml;

/// VM samples (monitoring_data.xsd).
pub fn vm_monitoring(samples: &[(i32, VmSample)]) -> String {
    let mut x = Xml::new();
    x.open("MONITORING_DATA");
    for (id, s) in samples {
        vm_sample(&mut x, s, Some(*id));
    }
    x.close("MONITORING_DATA");
    x.finish()
}

/// One VM sample as a MONITORING element (vm.xsd and monitoring_data.xsd order).
pub(crate) fn vm_sample(x: &mut Xml, s: &VmSample, id: Option<i32>) {
    x.open("MONITORING")
        .num("CPU", format!("{:.2}", s.cpu))
        .num("DISKRDBYTES", s.disk_io.read_bytes)
        .num("DISKRDIOPS", s.disk_io.read_ops)
        .num("DISKWRBYTES", s.disk_io.write_bytes)
        .num("DISKWRIOPS", s.disk_io.write_ops);
    for (disk, mb) in &s.disk_sizes {
        x.open("DISK_SIZE")
            .num("ID", disk)
            .num("SIZE", mb)
            .close("DISK_SIZE");
    }
    if let Some(id) = id {
        x.num("ID", id);
    }
    x.num("MEMORY", s.memory_kb)
        .num("NETRX", s.netrx)
        .num("NETTX", s.nettx)
        .num("TIMESTAMP", s.timestamp)
        .close("MONITORING");
}

/// The content of a host's MONITORING element for one sample (host.xsd order): TIMESTAMP,
/// ID, CAPACITY (FREE_CPU, FREE_MEMORY, USED_CPU, USED_MEMORY) and SYSTEM, as
/// `host.monitoring` returns it and `host.info` shows the latest.
pub fn host_sample(x: &mut Xml, id: i32, s: &HostSample) {
    x.num("TIMESTAMP", s.timestamp)
        .num("ID", id)
        .open("CAPACITY")
        .num("FREE_CPU", (s.total_cpu - s.used_cpu).max(0))
        .num("FREE_MEMORY", (s.total_memory - s.used_memory).max(0))
        .num("USED_CPU", s.used_cpu)
        .num("USED_MEMORY", s.used_memory)
        .close("CAPACITY")
        .open("SYSTEM")
        .num("NETRX", 0)
        .num("NETTX", 0)
        .close("SYSTEM");
}

/// Host samples (the MONITORING element of host.xsd).
pub fn host_monitoring(samples: &[(i32, HostSample)]) -> String {
    let mut x = Xml::new();
    x.open("MONITORING_DATA");
    for (id, s) in samples {
        x.open("MONITORING");
        host_sample(&mut x, *id, s);
        x.close("MONITORING");
    }
    x.close("MONITORING_DATA");
    x.finish()
}

/// `vmpool.accounting`: each placement record with its VM (acct.xsd).
pub fn accounting(records: &[(History, Arc<Vm>)]) -> String {
    let mut x = Xml::new();
    x.open("HISTORY_RECORDS");
    for (h, vm) in records {
        super::vm::history_with_vm(&mut x, vm, h);
    }
    x.close("HISTORY_RECORDS");
    x.finish()
}

/// `vmpool.showback` (showback.xsd).
pub fn showback(records: &[Showback]) -> String {
    let mut x = Xml::new();
    x.open("SHOWBACK_RECORDS");
    for r in records {
        let m = &r.vm.meta;
        x.open("SHOWBACK")
            .num("VMID", m.id)
            .text("VMNAME", &m.name)
            .num("UID", m.uid)
            .num("GID", m.gid)
            .text("UNAME", &m.uname)
            .text("GNAME", &m.gname)
            .num("YEAR", r.year)
            .num("MONTH", r.month)
            .num("CPU_COST", format!("{:.6}", r.cpu_cost))
            .num("MEMORY_COST", format!("{:.6}", r.memory_cost))
            .num("DISK_COST", format!("{:.6}", r.disk_cost))
            .num("TOTAL_COST", format!("{:.6}", r.total()))
            .num("HOURS", format!("{:.6}", r.hours))
            .num("RHOURS", format!("{:.6}", r.rhours))
            .close("SHOWBACK");
    }
    x.close("SHOWBACK_RECORDS");
    x.finish()
}

/// A piece of a VM's serial console (`one.vm.console`, a Nubo extension): the bytes, in
/// base64 because a console prints control characters XML cannot carry, and the offset
/// to ask for next.
pub fn vm_console(id: i32, data: &[u8], next: u64) -> String {
    use base64::Engine;
    let mut x = Xml::new();
    x.open("CONSOLE")
        .num("ID", id)
        .num("OFFSET", next)
        .text(
            "DATA",
            &base64::engine::general_purpose::STANDARD.encode(data),
        )
        .close("CONSOLE");
    x.finish()
}
