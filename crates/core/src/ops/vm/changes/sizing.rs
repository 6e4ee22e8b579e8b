//! CPU, VCPU and memory (`vm.resize`) and the boot and device configuration
//! (`vm.updateconf`).

use super::*;

/// Sets CPU, VCPU and memory, moving quotas and the host's share by the difference.
/// With `enforce`, the host must have room for the growth.
pub(super) fn set_capacity(
    tx: &mut Tx,
    vm: &mut Vm,
    cpu: f64,
    vcpu: u32,
    memory_mb: i64,
    enforce: bool,
) -> Result<()> {
    let (d_cpu, d_mem) = (cpu - vm.cpu, memory_mb - vm.memory_mb);
    let mut amounts = vec![("CPU", d_cpu), ("MEMORY", d_mem as f64)];
    if let Some(hid) = vm.host_id() {
        amounts.extend([("RUNNING_CPU", d_cpu), ("RUNNING_MEMORY", d_mem as f64)]);
        let mut host = (*tx.get::<Host>(hid)?).clone();
        let (c, m) = ((d_cpu * 100.0).round() as i64, d_mem * 1024);
        if enforce
            && ((c > 0 && host.share.cpu_usage + c > host.share.max_cpu)
                || (m > 0 && host.share.mem_usage + m > host.share.max_mem))
        {
            return Err(Error::action(format!(
                "Host [{hid}] does not have enough capacity for the new size of VM [{}]",
                vm.meta.id
            )));
        }
        host.share.cpu_usage += c;
        host.share.mem_usage += m;
        tx.put(host)?;
    }
    charge_owners(tx, vm.meta.uid, vm.meta.gid, QuotaKind::Vm, -1, &amounts)?;
    vm.cpu = cpu;
    vm.vcpu = vcpu;
    vm.memory_mb = memory_mb;
    super::super::create::set_system(&mut vm.template, "CPU", format_cpu(cpu));
    super::super::create::set_system(&mut vm.template, "VCPU", vcpu.to_string());
    super::super::create::set_system(&mut vm.template, "MEMORY", memory_mb.to_string());
    Ok(())
}

pub(super) fn format_cpu(cpu: f64) -> String {
    let text = format!("{cpu:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
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
        let t = parse_template(text)?;
        let float = |k: &str| -> Result<Option<f64>> {
            t.get(k)
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x > 0.0)
                        .ok_or_else(|| {
                            Error::action(format!("{k} must be a positive number, not \"{v}\""))
                        })
                })
                .transpose()
        };
        let (cpu, vcpu, memory) = (float("CPU")?, float("VCPU")?, float("MEMORY")?);
        if cpu.is_none() && vcpu.is_none() && memory.is_none() {
            return Err(Error::action("Resize needs CPU, VCPU or MEMORY"));
        }
        let plan = move |vm: &Vm| -> (f64, u32, i64) {
            (
                cpu.unwrap_or(vm.cpu),
                vcpu.map_or(vm.vcpu, |v| v.round() as u32),
                memory.map_or(vm.memory_mb, |m| m.round() as i64),
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
        self.change_now(caller, id, move |_, vm| {
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
