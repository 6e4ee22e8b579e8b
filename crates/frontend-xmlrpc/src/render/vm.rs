//! `VM` (full, per vm.xsd), the short VM of `vmpool.info` (vm_pool.xsd), `VM_POOL`, and
//! `VMTEMPLATE` / `VMTEMPLATE_POOL`.

use std::sync::Arc;

use nubo_core::model::{History, Vm, VmTemplate};
use nubo_core::monitoring::VmSample;
use nubo_template::{Template, Value};

use super::common::{lock, owner_head, permissions, pool, template};
use crate::xml::Xml;

/// Writes a template in its stored order (the VM's system template is kept in XSD order).
fn ordered_template(x: &mut Xml, root: &str, t: &Template, keep: impl Fn(&str) -> bool) {
    x.open(root);
    for attr in t.attrs.iter().filter(|a| keep(&a.name)) {
        match &attr.value {
            Value::Single(v) => {
                x.cdata(&attr.name, v);
            }
            Value::Vector(pairs) => {
                x.open(&attr.name);
                for (k, v) in pairs.iter().filter(|(k, _)| !k.is_empty()) {
                    x.cdata(k, v);
                }
                x.close(&attr.name);
            }
        }
    }
    x.close(root);
}

fn history_full(x: &mut Xml, vm: &Vm, h: &History) {
    history_fields(x, vm, h);
    x.close("HISTORY");
}

/// A placement record with its whole VM (acct.xsd).
pub(super) fn history_with_vm(x: &mut Xml, vm: &Vm, h: &History) {
    history_fields(x, vm, h);
    write_full(x, vm);
    x.close("HISTORY");
}

fn history_fields(x: &mut Xml, vm: &Vm, h: &History) {
    x.open("HISTORY")
        .num("OID", vm.meta.id)
        .num("SEQ", h.seq)
        .text("HOSTNAME", &h.hostname)
        .num("HID", h.hid)
        .num("CID", h.cid)
        .num("STIME", h.stime)
        .num("ETIME", h.etime)
        .text("VM_MAD", &h.vm_mad)
        .text("TM_MAD", &h.tm_mad)
        .num("DS_ID", h.ds_id)
        .num("PLAN_ID", -1)
        .num("ACTION_ID", -1)
        .num("PSTIME", h.pstime)
        .num("PETIME", h.petime)
        .num("RSTIME", h.rstime)
        .num("RETIME", h.retime)
        .num("ESTIME", h.estime)
        .num("EETIME", h.eetime)
        .num("ACTION", h.action)
        .num("UID", h.uid)
        .num("GID", h.gid)
        .text("REQUEST_ID", "-1");
}

fn head(x: &mut Xml, vm: &Vm) {
    x.num("LAST_POLL", vm.last_poll)
        .num("STATE", vm.state.code())
        .num("LCM_STATE", vm.lcm_state.code());
}

fn write_full(x: &mut Xml, vm: &Vm) {
    write_full_monitored(x, vm, None);
}

fn write_monitoring(x: &mut Xml, sample: Option<&VmSample>) {
    let Some(s) = sample else {
        x.empty("MONITORING");
        return;
    };
    super::monitoring::vm_sample(x, s, None);
}

fn write_full_monitored(x: &mut Xml, vm: &Vm, sample: Option<&VmSample>) {
    x.open("VM");
    owner_head(x, &vm.meta);
    permissions(x, vm.meta.perms);
    head(x, vm);
    x.num("PREV_STATE", vm.prev_state.code())
        .num("PREV_LCM_STATE", vm.prev_lcm_state.code())
        .num("RESCHED", i32::from(vm.resched))
        .num("STIME", vm.stime)
        .num("ETIME", vm.etime)
        .text("DEPLOY_ID", &vm.deploy_id);
    lock(x, vm.meta.lock.as_ref());
    write_monitoring(x, sample);
    x.open("SCHED_ACTIONS");
    for sa in vm.template.vectors("SCHED_ACTION") {
        if let Some(id) = sa.iter().find(|(k, _)| k == "ID") {
            x.text("ID", &id.1);
        }
    }
    x.close("SCHED_ACTIONS");
    ordered_template(x, "TEMPLATE", &vm.template, |_| true);
    template(x, "USER_TEMPLATE", &vm.user_template);
    x.open("HISTORY_RECORDS");
    for h in &vm.history {
        history_full(x, vm, h);
    }
    x.close("HISTORY_RECORDS");
    disk_snapshots(x, vm);
    x.open("BACKUPS")
        .empty("BACKUP_CONFIG")
        .empty("BACKUP_IDS")
        .close("BACKUPS");
    x.close("VM");
}

fn disk_snapshots(x: &mut Xml, vm: &Vm) {
    for d in &vm.disk_snapshots {
        x.open("SNAPSHOTS")
            .text("ALLOW_ORPHANS", "NO")
            .num("CURRENT_BASE", d.current_base())
            .num("DISK_ID", d.disk_id)
            .num("NEXT_SNAPSHOT", d.next_snapshot);
        for s in &d.snapshots {
            x.open("SNAPSHOT");
            if s.active {
                x.text("ACTIVE", "YES");
            }
            let children: Vec<String> = d
                .snapshots
                .iter()
                .filter(|c| c.parent == s.id)
                .map(|c| c.id.to_string())
                .collect();
            if !children.is_empty() {
                x.text("CHILDREN", &children.join(","));
            }
            x.num("DATE", s.date)
                .num("ID", s.id)
                .text("NAME", &s.name)
                .num("PARENT", s.parent)
                .num("SIZE", s.size)
                .close("SNAPSHOT");
        }
        x.close("SNAPSHOTS");
    }
}

/// The attributes of the short form's TEMPLATE, in vm_pool.xsd order.
const SHORT_TEMPLATE: [&str; 6] = ["CPU", "MEMORY", "VCPU", "DISK", "NIC", "GRAPHICS"];

fn write_short(x: &mut Xml, vm: &Vm) {
    x.open("VM");
    owner_head(x, &vm.meta);
    head(x, vm);
    x.num("RESCHED", i32::from(vm.resched))
        .num("STIME", vm.stime)
        .num("ETIME", vm.etime)
        .text("DEPLOY_ID", &vm.deploy_id);
    lock(x, vm.meta.lock.as_ref());
    x.open("TEMPLATE");
    for name in SHORT_TEMPLATE {
        for attr in vm.template.attrs.iter().filter(|a| a.name == name) {
            match &attr.value {
                Value::Single(v) => {
                    x.cdata(name, v);
                }
                Value::Vector(pairs) => {
                    x.open(name);
                    for (k, v) in pairs {
                        x.cdata(k, v);
                    }
                    x.close(name);
                }
            }
        }
    }
    x.close("TEMPLATE");
    x.empty("MONITORING");
    template(x, "USER_TEMPLATE", &vm.user_template);
    x.open("HISTORY_RECORDS");
    if let Some(h) = vm.history.last() {
        x.open("HISTORY")
            .num("OID", vm.meta.id)
            .num("SEQ", h.seq)
            .text("HOSTNAME", &h.hostname)
            .num("HID", h.hid)
            .num("CID", h.cid)
            .num("DS_ID", h.ds_id)
            .text("VM_MAD", &h.vm_mad)
            .text("TM_MAD", &h.tm_mad)
            .num("ACTION", h.action)
            .close("HISTORY");
    }
    x.close("HISTORY_RECORDS");
    x.close("VM");
}

/// One VM, full, with its latest monitoring sample.
pub fn vm_monitored(vm: &Vm, sample: Option<&VmSample>) -> String {
    let mut x = Xml::new();
    write_full_monitored(&mut x, vm, sample);
    x.finish()
}

/// One VM, full.
pub fn vm(vm: &Vm) -> String {
    let mut x = Xml::new();
    write_full(&mut x, vm);
    x.finish()
}

/// The VM pool in the short form (`vmpool.info`).
pub fn vm_pool(items: &[Arc<Vm>]) -> String {
    pool("VM_POOL", items, write_short)
}

/// The VM pool in the full form (`vmpool.infoextended`).
pub fn vm_pool_extended(items: &[Arc<Vm>]) -> String {
    pool("VM_POOL", items, write_full)
}

fn write_template(x: &mut Xml, t: &VmTemplate) {
    x.open("VMTEMPLATE");
    owner_head(x, &t.meta);
    lock(x, t.meta.lock.as_ref());
    permissions(x, t.meta.perms);
    x.num("REGTIME", t.regtime);
    template(x, "TEMPLATE", &t.template);
    x.close("VMTEMPLATE");
}

/// One VM template.
pub fn vm_template(t: &VmTemplate) -> String {
    let mut x = Xml::new();
    write_template(&mut x, t);
    x.finish()
}

/// The VM template pool.
pub fn vm_template_pool(items: &[Arc<VmTemplate>]) -> String {
    pool("VMTEMPLATE_POOL", items, write_template)
}
