//! CPU, VCPU and memory (`vm.resize`) and the boot and device configuration
//! (`vm.updateconf`).

use super::*;
use crate::model::{Amount, Cpu, parse_memory_mb, parse_vcpu};

/// Sets CPU, VCPU and memory, moving quotas and the host's share by the difference (a
/// move that would overflow is refused). With `enforce`, the host must have room for the
/// growth.
pub(super) fn set_capacity(
    tx: &mut Tx,
    vm: &mut Vm,
    cpu: Cpu,
    vcpu: u32,
    memory_mb: i64,
    enforce: bool,
) -> Result<()> {
    // Both CPUs are within 0.01..=2^20, so the difference cannot overflow.
    let d_cpu = cpu.hundredths() - vm.cpu.hundredths();
    let d_mem = memory_mb.saturating_sub(vm.memory_mb);
    let cpu_amount = Amount::from_hundredths(d_cpu);
    let mem_amount = Amount::saturating_units(d_mem);
    let mut amounts = vec![("CPU", cpu_amount), ("MEMORY", mem_amount)];
    if crate::ops::quota::holds_running_quota(vm.state, vm.lcm_state) {
        amounts.extend([("RUNNING_CPU", cpu_amount), ("RUNNING_MEMORY", mem_amount)]);
    }
    if let Some(hid) = vm.host_id() {
        let mut host = (*tx.get::<Host>(hid)?).clone();
        let d_mem_kb = d_mem.saturating_mul(1024);
        if enforce && !host.share.has_room(d_cpu, d_mem_kb) {
            return Err(Error::action(format!(
                "Host [{hid}] does not have enough capacity for the new size of VM [{}]",
                vm.meta.id
            )));
        }
        host.share.add_usage(d_cpu, d_mem_kb, 0, 0).map_err(|e| {
            Error::action(format!(
                "Host [{hid}]: {e} with the new size of VM [{}]",
                vm.meta.id
            ))
        })?;
        tx.put(host)?;
    }
    charge_owners(tx, vm.meta.uid, vm.meta.gid, QuotaKind::Vm, -1, &amounts)?;
    vm.cpu = cpu;
    vm.vcpu = vcpu;
    vm.memory_mb = memory_mb;
    super::super::create::set_system(&mut vm.template, "CPU", cpu.to_string());
    super::super::create::set_system(&mut vm.template, "VCPU", vcpu.to_string());
    super::super::create::set_system(&mut vm.template, "MEMORY", memory_mb.to_string());
    Ok(())
}

/// Whether a resize value reads as 0, which oned takes as "keep the current value".
fn is_zero(text: &str) -> bool {
    text.trim().parse::<f64>().is_ok_and(|v| v == 0.0)
}

/// The CPU, VCPU and MEMORY a `vm.resize` template asks for (each optional, at least one),
/// each exact and within bounds (`model::sizes`), else an ACTION error naming it. A value
/// of 0 keeps the current one, as in oned's `VirtualMachineResize`.
fn asked_sizes(t: &Template) -> Result<(Option<Cpu>, Option<u32>, Option<i64>)> {
    let bad = |e: crate::model::SizeError| Error::action(e.to_string());
    let given = ["CPU", "VCPU", "MEMORY"].iter().any(|n| t.get(n).is_some());
    let asked = |name: &str| t.get(name).filter(|v| !is_zero(v));
    let cpu = asked("CPU").map(|v| Cpu::parse("CPU", v)).transpose();
    let vcpu = asked("VCPU").map(parse_vcpu).transpose();
    let memory = asked("MEMORY").map(parse_memory_mb).transpose();
    let (cpu, vcpu, memory) = (cpu.map_err(bad)?, vcpu.map_err(bad)?, memory.map_err(bad)?);
    if !given {
        return Err(Error::action("Resize needs CPU, VCPU or MEMORY"));
    }
    Ok((cpu, vcpu, memory))
}

impl Core {
    /// `vm.resize`: new CPU, VCPU and MEMORY. A RUNNING VM is resized through the driver;
    /// one that is not on a running host at once. `enforce` checks the host's capacity.
    pub async fn vm_resize(
        &self,
        caller: &Caller,
        id: Oid,
        text: &str,
        enforce: bool,
    ) -> Result<Oid> {
        // As in oned, only the oneadmin group may skip the capacity check (issue 12 matrix).
        let enforce = enforce || !caller.is_admin();
        let (cpu, vcpu, memory) = asked_sizes(&parse_template(text)?)?;
        let plan = move |vm: &Vm| -> (Cpu, u32, i64) {
            (
                cpu.unwrap_or(vm.cpu),
                vcpu.unwrap_or(vm.vcpu),
                memory.unwrap_or(vm.memory_mb),
            )
        };
        let running = self.read(|s| Ok(allowed(s.get::<Vm>(id)?.as_ref(), Reconfig::Resize)))?;
        if running {
            self.reconfigure(caller, id, "resize", Reconfig::Resize, move |tx, vm| {
                let before = PendingChange::Resize {
                    cpu: vm.cpu,
                    vcpu: vm.vcpu,
                    memory_mb: vm.memory_mb,
                };
                let (c, v, m) = plan(vm);
                set_capacity(tx, vm, c, v, m, enforce)?;
                Ok((Some(before), id))
            })
            .await
        } else {
            self.change_now(caller, id, move |tx, vm| {
                let ok = matches!(
                    vm.state,
                    VmState::Pending
                        | VmState::Hold
                        | VmState::Poweroff
                        | VmState::Undeployed
                        | VmState::Stopped
                ) || (vm.state == VmState::Active && vm.lcm_state == LcmState::Running);
                if !ok {
                    return Err(wrong_state("resize", vm));
                }
                let (c, v, m) = plan(vm);
                set_capacity(tx, vm, c, v, m, enforce && vm.state == VmState::Poweroff)?;
                Ok(id)
            })
            .await
        }
    }

    /// `vm.updateconf`: changes the boot and device configuration (OS, FEATURES, INPUT,
    /// GRAPHICS, VIDEO, RAW, CONTEXT, CPU_MODEL, BACKUP_CONFIG). Refused while the VM is in
    /// a transient phase.
    pub async fn vm_updateconf(
        &self,
        caller: &Caller,
        id: Oid,
        text: &str,
        append: bool,
    ) -> Result<Oid> {
        const CONF: [&str; 9] = [
            "OS",
            "FEATURES",
            "INPUT",
            "GRAPHICS",
            "VIDEO",
            "RAW",
            "CONTEXT",
            "CPU_MODEL",
            "BACKUP_CONFIG",
        ];
        let t = parse_template(text)?;
        let given: Vec<Attribute> = t
            .attrs
            .into_iter()
            .filter(|a| CONF.contains(&a.name.as_str()))
            .collect();
        let restricted = self.config().restricted.clone();
        let caller2 = caller.clone();
        self.change_now(caller, id, move |_, vm| {
            let asked = Template {
                attrs: given.clone(),
            };
            // VirtualMachineAPI::updateconf: "Template includes a restricted attribute X"
            restricted.check_worded(
                &caller2,
                RestrictedKind::Vm,
                "Template",
                &asked,
                Some(&vm.template),
            )?;
            let settled = match vm.state {
                VmState::Active => vm.lcm_state == LcmState::Running,
                VmState::Done => false,
                _ => true,
            };
            if !settled {
                return Err(wrong_state("updateconf", vm));
            }
            for name in CONF {
                let new: Vec<&Attribute> = given.iter().filter(|a| a.name == name).collect();
                if new.is_empty() && append {
                    continue;
                }
                let old = vm.template.remove(name);
                let merged = match (append, old.into_iter().next(), new.first()) {
                    (
                        true,
                        Some(Attribute {
                            value: Value::Vector(mut o),
                            ..
                        }),
                        Some(Attribute {
                            value: Value::Vector(n),
                            ..
                        }),
                    ) => {
                        for (k, v) in n {
                            set(&mut o, k, v.clone());
                        }
                        Some(Attribute::vector(name, o))
                    }
                    (_, _, Some(a)) => Some((*a).clone()),
                    (_, o, None) => o.filter(|_| append),
                };
                if let Some(a) = merged {
                    push_system(vm, a);
                }
            }
            Ok(id)
        })
        .await
    }
}
