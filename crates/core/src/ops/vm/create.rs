//! Creating a VM: validating CPU, VCPU and MEMORY (exact and bounded, `model::sizes`),
//! splitting the template into the system part and the user part, charging quotas, and
//! leaving the VM PENDING (or on HOLD).

use nubo_template::Template;
use nubo_types::states::{LcmState, VmState};
use nubo_types::{Error, ObjectKind, Oid, Result};

use super::transition::Followup;
use crate::auth::{Caller, authorize_create};
use crate::model::{Amount, Cpu, QuotaKind, SizeError, Vm, VmOrigin, parse_memory_mb, parse_vcpu};
use crate::now;
use crate::ops::owner::new_meta;
use crate::ops::quota::charge_owners;
use crate::tx::Tx;

/// Attributes of the VM's system TEMPLATE, in the order vm.xsd gives; every other
/// attribute goes to USER_TEMPLATE.
pub const SYSTEM_ATTRIBUTES: &[&str] = &[
    "AUTOMATIC_DS_REQUIREMENTS",
    "AUTOMATIC_NIC_REQUIREMENTS",
    "AUTOMATIC_REQUIREMENTS",
    "CLONING_TEMPLATE_ID",
    "CONTEXT",
    "CPU",
    "CPU_COST",
    "DISK",
    "DISK_COST",
    "EMULATOR",
    "FEATURES",
    "HYPERV_OPTIONS",
    "GRAPHICS",
    "VIDEO",
    "IMPORTED",
    "INPUT",
    "MEMORY",
    "MEMORY_COST",
    "MEMORY_MAX",
    "MEMORY_SLOTS",
    "MEMORY_RESIZE_MODE",
    "NIC",
    "NIC_ALIAS",
    "NIC_DEFAULT",
    "NUMA_NODE",
    "OS",
    "PCI",
    "QEMU_GA_EXEC",
    "RAW",
    "SECURITY_GROUP_RULE",
    "SNAPSHOT",
    "SPICE_OPTIONS",
    "SUBMIT_ON_HOLD",
    "TEMPLATE_ID",
    "TM_MAD_SYSTEM",
    "TOPOLOGY",
    "TPM",
    "MEMORY_ENCRYPTION",
    "VCPU",
    "VCPU_MAX",
    "VMGROUP",
    "VMID",
    "VROUTER_ID",
    "VROUTER_KEEPALIVED_ID",
    "VROUTER_KEEPALIVED_PASSWORD",
    "SCHED_ACTION",
];

/// System attributes that may repeat (vm.xsd: maxOccurs unbounded).
const REPEATABLE: &[&str] = &[
    "DISK",
    "NIC",
    "NIC_ALIAS",
    "PCI",
    "SECURITY_GROUP_RULE",
    "SNAPSHOT",
    "SCHED_ACTION",
];

/// Keeps only the last value of each system attribute that may not repeat, so that a
/// later value (e.g. from `template.instantiate`'s extra template) overrides an earlier one.
fn dedupe_singles(t: &mut Template) {
    let mut seen = std::collections::HashSet::new();
    let mut keep = vec![true; t.attrs.len()];
    for (i, a) in t.attrs.iter().enumerate().rev() {
        if system_rank(&a.name).is_some()
            && !REPEATABLE.contains(&a.name.as_str())
            && !seen.insert(a.name.clone())
        {
            keep[i] = false;
        }
    }
    let mut flags = keep.into_iter();
    t.attrs.retain(|_| flags.next().unwrap_or(true));
}

fn system_rank(name: &str) -> Option<usize> {
    SYSTEM_ATTRIBUTES.iter().position(|a| *a == name)
}

/// Splits `all` into (system template in XSD order, user template).
pub fn split_template(all: Template) -> (Template, Template) {
    let mut system: Vec<(usize, nubo_template::Attribute)> = Vec::new();
    let mut user = Template::new();
    for attr in all.attrs {
        match system_rank(&attr.name) {
            Some(rank) => system.push((rank, attr)),
            None => user.push(attr),
        }
    }
    system.sort_by_key(|(rank, _)| *rank);
    let mut template = Template::new();
    for (_, attr) in system {
        template.push(attr);
    }
    (template, user)
}

/// Sets a system attribute, keeping the XSD order.
pub fn set_system(template: &mut Template, name: &str, value: String) {
    template.remove(name);
    let rank = system_rank(name).unwrap_or(usize::MAX);
    let at = template
        .attrs
        .iter()
        .position(|a| system_rank(&a.name).unwrap_or(usize::MAX) > rank)
        .unwrap_or(template.attrs.len());
    template
        .attrs
        .insert(at, nubo_template::Attribute::single(name, value));
}

fn alloc(message: impl Into<String>) -> Error {
    Error::allocate(ObjectKind::Vm, message.into())
}

/// oned's refusal of a missing, malformed or non-positive size (VirtualMachine::insert,
/// VirtualMachine.cc: "MEMORY attribute must be a positive integer value.").
fn not_positive(name: &str) -> Error {
    alloc(match name {
        "CPU" => "CPU attribute must be a positive float or integer value.".to_string(),
        _ => format!("{name} attribute must be a positive integer value."),
    })
}

/// A size Nubo refuses: in oned's words when oned refuses it too (not a number, not
/// positive), else Nubo's own (too large, too precise: oned takes those).
fn invalid(name: &str, e: SizeError) -> Error {
    match &e {
        SizeError::Malformed { .. } => not_positive(name),
        SizeError::Range { text, .. } if text.trim().parse::<f64>().is_ok_and(|v| v <= 0.0) => {
            not_positive(name)
        }
        _ => alloc(format!("{e}")),
    }
}

/// The CPU, VCPU (1 when not given) and MEMORY of a new VM's template.
fn sizes(template: &Template) -> Result<(Cpu, u32, i64)> {
    let memory_mb = parse_memory_mb(
        template
            .get("MEMORY")
            .ok_or_else(|| not_positive("MEMORY"))?,
    )
    .map_err(|e| invalid("MEMORY", e))?;
    let cpu = Cpu::parse(
        "CPU",
        template.get("CPU").ok_or_else(|| not_positive("CPU"))?,
    )
    .map_err(|e| invalid("CPU", e))?;
    let vcpu = template
        .get("VCPU")
        .map_or(Ok(1), parse_vcpu)
        .map_err(|e| invalid("VCPU", e))?;
    Ok((cpu, vcpu, memory_mb))
}

/// The VM quota amounts of a VM: VMS, CPU, MEMORY, SYSTEM_DISK_SIZE.
pub fn vm_quota(vm: &Vm) -> [(&'static str, Amount); 4] {
    [
        ("VMS", Amount::ONE),
        ("CPU", vm.cpu.amount()),
        ("MEMORY", Amount::saturating_units(vm.memory_mb)),
        (
            "SYSTEM_DISK_SIZE",
            Amount::saturating_units(super::resources::system_disk_mb(&vm.template)),
        ),
    ]
}

/// Stages a new VM from a full template (as `vm.allocate` receives it or
/// `template.instantiate` builds it). Returns its id and what to do after the commit.
pub(crate) fn create_vm(
    tx: &mut Tx,
    caller: &Caller,
    mut template: Template,
    hold: bool,
    template_name: Option<&str>,
) -> Result<(Oid, Followup)> {
    authorize_create(tx.state, caller, ObjectKind::Vm)?;
    dedupe_singles(&mut template);
    let (cpu, vcpu, memory_mb) = sizes(&template)?;
    super::transition::check_expressions(&template).map_err(|e| alloc(e.to_string()))?;
    let id = tx.next_oid(ObjectKind::Vm);
    let name = match template
        .get("NAME")
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(n) => n.to_string(),
        None => match template_name {
            Some(t) => format!("{t}-{id}"),
            None => format!("one-{id}"),
        },
    };
    let on_hold = hold
        || template
            .get("SUBMIT_ON_HOLD")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes"));
    let mut all = template;
    all.remove("NAME");
    let (mut system, user) = split_template(all);
    set_system(&mut system, "VMID", id.to_string());
    set_system(&mut system, "TM_MAD_SYSTEM", String::new());
    if system.get("AUTOMATIC_REQUIREMENTS").is_none() {
        set_system(
            &mut system,
            "AUTOMATIC_REQUIREMENTS",
            "!(PUBLIC_CLOUD = YES)".to_string(),
        );
    }
    let state = if on_hold {
        VmState::Hold
    } else {
        VmState::Pending
    };
    let mut vm = Vm {
        meta: new_meta(caller, id, name),
        state,
        lcm_state: LcmState::LcmInit,
        prev_state: state,
        prev_lcm_state: LcmState::LcmInit,
        resched: false,
        stime: now(),
        etime: 0,
        deploy_id: String::new(),
        last_poll: 0,
        template: system,
        user_template: user,
        history: Vec::new(),
        cpu,
        vcpu,
        memory_mb,
        origin: VmOrigin::Fresh,
        op_seq: 0,
        migrating_from: None,
        pending: None,
        disk_snapshots: Vec::new(),
    };
    super::sched_actions::number(&mut vm.template, id).map_err(|e| alloc(e.to_string()))?;
    super::resources::acquire(tx, caller, &mut vm)?;
    super::context::substitute(tx.state, &mut vm);
    vnc_port(&mut vm);
    crate::ops::vmgroup::join(tx, caller, &mut vm)?;
    charge_owners(
        tx,
        caller.uid,
        caller.gid,
        QuotaKind::Vm,
        -1,
        &vm_quota(&vm),
    )?;
    // A PENDING or HOLD VM holds its running quota from the start, as in OpenNebula 7.4:
    // one over the limit is refused now rather than left waiting for a host.
    if crate::ops::quota::holds_running_quota(vm.state, vm.lcm_state) {
        charge_owners(
            tx,
            caller.uid,
            caller.gid,
            QuotaKind::Vm,
            -1,
            &crate::ops::quota::running_amounts(&vm),
        )?;
    }
    tx.put(vm)?;
    Ok((
        id,
        Followup {
            schedule: !on_hold,
            ..Followup::default()
        },
    ))
}

/// A GRAPHICS without a PORT gets OpenNebula's default, 5900 + the VM's id.
fn vnc_port(vm: &mut Vm) {
    let id = vm.meta.id;
    for attr in vm
        .template
        .attrs
        .iter_mut()
        .filter(|a| a.name == "GRAPHICS")
    {
        if let nubo_template::Value::Vector(pairs) = &mut attr.value
            && !pairs.iter().any(|(k, _)| k == "PORT")
        {
            pairs.push(("PORT".into(), (5900 + id).to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_attributes_go_first_in_xsd_order_and_the_rest_to_the_user_template() {
        let t = Template::parse("MEMORY=1\nFOO=bar\nCPU=1\nNIC=[NETWORK_ID=0]\nCONTEXT=[A=1]")
            .expect("template");
        let (system, user) = split_template(t);
        let names: Vec<&str> = system.attrs.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["CONTEXT", "CPU", "MEMORY", "NIC"]);
        assert_eq!(user.get("FOO"), Some("bar"));
        let mut system = system;
        set_system(&mut system, "VMID", "3".into());
        set_system(&mut system, "AUTOMATIC_REQUIREMENTS", "x".into());
        let names: Vec<&str> = system.attrs.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "AUTOMATIC_REQUIREMENTS",
                "CONTEXT",
                "CPU",
                "MEMORY",
                "NIC",
                "VMID"
            ]
        );
    }
}
