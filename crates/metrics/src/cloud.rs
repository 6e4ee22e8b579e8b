//! The cloud's state as gauges, made afresh at each scrape from a [`CloudView`]: hosts and
//! VMs by state, the scheduler's queue, each host's capacity and use, each VM's use, apps
//! and their instances. Every state a view lists is written, with 0 when nothing is in it.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// What the metrics show of the cloud, read from the core and the PaaS at scrape time.
#[derive(Debug, Clone, Default)]
pub struct CloudView {
    /// Every host state's name (so that empty states show 0).
    pub host_states: Vec<&'static str>,
    /// Every VM state's name but ACTIVE's, whose VMs are counted by LCM state.
    pub vm_states: Vec<&'static str>,
    /// The hosts.
    pub hosts: Vec<HostView>,
    /// The VMs (DONE ones included).
    pub vms: Vec<VmView>,
    /// How many apps there are.
    pub apps: u64,
    /// Every app instance.
    pub instances: Vec<InstanceView>,
}

/// One host.
#[derive(Debug, Clone, Default)]
pub struct HostView {
    /// Its id.
    pub id: i32,
    /// Its name.
    pub name: String,
    /// Its state's name.
    pub state: &'static str,
    /// CPU VMs may be given (cores).
    pub cpu_capacity: f64,
    /// CPU given to its VMs (cores).
    pub cpu_allocated: f64,
    /// Memory VMs may be given (bytes).
    pub memory_capacity: f64,
    /// Memory given to its VMs (bytes).
    pub memory_allocated: f64,
    /// VMs running on it.
    pub running_vms: i64,
    /// Its last monitoring sample, if any since nubod started.
    pub monitored: Option<HostUse>,
}

/// A host as monitoring last saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostUse {
    /// CPU in use (cores).
    pub cpu_used: f64,
    /// Memory in use (bytes).
    pub memory_used: f64,
}

/// One VM.
#[derive(Debug, Clone, Default)]
pub struct VmView {
    /// Its id.
    pub id: i32,
    /// Its name.
    pub name: String,
    /// Its state's name.
    pub state: &'static str,
    /// Its LCM state's name (`LCM_INIT` unless ACTIVE).
    pub lcm_state: &'static str,
    /// Its last monitoring sample, if any since nubod started.
    pub usage: Option<VmUsage>,
}

/// A VM as monitoring last saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct VmUsage {
    /// CPU in use (cores).
    pub cpu: f64,
    /// Memory in use (bytes).
    pub memory: f64,
    /// Bytes received so far.
    pub rx_bytes: u64,
    /// Bytes sent so far.
    pub tx_bytes: u64,
}

/// One app instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct InstanceView {
    /// Its app's name.
    pub app: String,
    /// Its process type.
    pub process_type: String,
    /// What it does (`starting`, `up`, `crashed`, …).
    pub state: String,
}

type Labels = Vec<(&'static str, String)>;
type FloatGauges = Family<Labels, Gauge<f64, AtomicU64>>;

/// Registers a family of gauges named `name` and returns it.
fn gauges(registry: &mut Registry, name: &str, help: &str) -> FloatGauges {
    let family = FloatGauges::default();
    registry.register(name, help, family.clone());
    family
}

fn set(family: &FloatGauges, labels: Labels, value: f64) {
    family.get_or_create(&labels).set(value);
}

/// A registry holding `view` as gauges.
pub(crate) fn registry(view: &CloudView) -> Registry {
    let mut r = Registry::default();
    hosts(&mut r, view);
    vms(&mut r, view);
    paas(&mut r, view);
    r
}

fn hosts(r: &mut Registry, view: &CloudView) {
    let by_state = gauges(r, "nubo_hosts", "Hosts by state");
    let mut counts: BTreeMap<&str, u64> = view.host_states.iter().map(|s| (*s, 0)).collect();
    for h in &view.hosts {
        *counts.entry(h.state).or_default() += 1;
    }
    for (state, n) in counts {
        set(&by_state, vec![("state", state.to_owned())], n as f64);
    }
    let families = [
        (
            "nubo_host_cpu_capacity_cores",
            "CPU a host may give its VMs, in cores",
        ),
        (
            "nubo_host_cpu_allocated_cores",
            "CPU a host has given its VMs, in cores",
        ),
        (
            "nubo_host_cpu_used_cores",
            "CPU in use on a host as monitoring last saw it, in cores",
        ),
        (
            "nubo_host_memory_capacity_bytes",
            "Memory a host may give its VMs",
        ),
        (
            "nubo_host_memory_allocated_bytes",
            "Memory a host has given its VMs",
        ),
        (
            "nubo_host_memory_used_bytes",
            "Memory in use on a host as monitoring last saw it",
        ),
        ("nubo_host_running_vms", "VMs running on a host"),
    ]
    .map(|(name, help)| gauges(r, name, help));
    for h in &view.hosts {
        let labels = || vec![("host_id", h.id.to_string()), ("host", h.name.clone())];
        let mut values = vec![
            (0, Some(h.cpu_capacity)),
            (1, Some(h.cpu_allocated)),
            (2, h.monitored.map(|m| m.cpu_used)),
            (3, Some(h.memory_capacity)),
            (4, Some(h.memory_allocated)),
            (5, h.monitored.map(|m| m.memory_used)),
            (6, Some(h.running_vms as f64)),
        ];
        for (i, value) in values.drain(..) {
            if let Some(v) = value {
                set(&families[i], labels(), v);
            }
        }
    }
}

fn vms(r: &mut Registry, view: &CloudView) {
    let by_state = gauges(
        r,
        "nubo_vms",
        "VMs by state and LCM state (DONE ones included)",
    );
    let pending = gauges(
        r,
        "nubo_scheduler_pending_vms",
        "VMs waiting for the scheduler to place them (state PENDING)",
    );
    let mut counts: BTreeMap<(&str, &str), u64> = view
        .vm_states
        .iter()
        .map(|s| ((*s, "LCM_INIT"), 0))
        .collect();
    for vm in &view.vms {
        *counts.entry((vm.state, vm.lcm_state)).or_default() += 1;
    }
    let waiting = counts
        .iter()
        .filter(|((state, _), _)| *state == "PENDING")
        .map(|(_, n)| *n)
        .sum::<u64>();
    set(&pending, Vec::new(), waiting as f64);
    for ((state, lcm), n) in counts {
        let labels = vec![("state", state.to_owned()), ("lcm_state", lcm.to_owned())];
        set(&by_state, labels, n as f64);
    }
    let cpu = gauges(
        r,
        "nubo_vm_cpu_cores",
        "CPU a VM used as monitoring last saw it, in cores",
    );
    let memory = gauges(
        r,
        "nubo_vm_memory_bytes",
        "Memory a VM used as monitoring last saw it",
    );
    let rx = Family::<Labels, Counter>::default();
    let tx = Family::<Labels, Counter>::default();
    r.register(
        "nubo_vm_network_receive_bytes",
        "Bytes a VM received, as monitoring last saw it",
        rx.clone(),
    );
    r.register(
        "nubo_vm_network_transmit_bytes",
        "Bytes a VM sent, as monitoring last saw it",
        tx.clone(),
    );
    for vm in &view.vms {
        let Some(u) = vm.usage else { continue };
        let labels = || vec![("vm_id", vm.id.to_string()), ("vm", vm.name.clone())];
        set(&cpu, labels(), u.cpu);
        set(&memory, labels(), u.memory);
        rx.get_or_create(&labels()).inc_by(u.rx_bytes);
        tx.get_or_create(&labels()).inc_by(u.tx_bytes);
    }
}

fn paas(r: &mut Registry, view: &CloudView) {
    let apps = gauges(r, "nubo_apps", "Apps of the PaaS");
    set(&apps, Vec::new(), view.apps as f64);
    let instances = gauges(
        r,
        "nubo_app_instances",
        "App instances by app, process type and state",
    );
    let mut counts: BTreeMap<&InstanceView, u64> = BTreeMap::new();
    for i in &view.instances {
        *counts.entry(i).or_default() += 1;
    }
    for (i, n) in counts {
        let labels = vec![
            ("app", i.app.clone()),
            ("process_type", i.process_type.clone()),
            ("state", i.state.clone()),
        ];
        set(&instances, labels, n as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Metrics};

    fn view() -> CloudView {
        let vm = |id: i32, state: &'static str, lcm: &'static str| VmView {
            id,
            name: format!("vm-{id}"),
            state,
            lcm_state: lcm,
            usage: None,
        };
        let mut running = vm(3, "ACTIVE", "RUNNING");
        running.usage = Some(VmUsage {
            cpu: 0.5,
            memory: 1024.0,
            rx_bytes: 10,
            tx_bytes: 20,
        });
        let instance = |state: &str| InstanceView {
            app: "shop".into(),
            process_type: "web".into(),
            state: state.into(),
        };
        CloudView {
            host_states: vec!["INIT", "MONITORED", "ERROR"],
            vm_states: vec!["PENDING", "HOLD", "DONE"],
            hosts: vec![HostView {
                id: 0,
                name: "h0".into(),
                state: "MONITORED",
                cpu_capacity: 4.0,
                cpu_allocated: 1.5,
                memory_capacity: 8.0 * 1024.0 * 1024.0 * 1024.0,
                memory_allocated: 1024.0,
                running_vms: 1,
                monitored: None,
            }],
            vms: vec![
                vm(1, "PENDING", "LCM_INIT"),
                vm(2, "PENDING", "LCM_INIT"),
                running,
            ],
            apps: 1,
            instances: vec![instance("up"), instance("up"), instance("starting")],
        }
    }

    #[test]
    fn the_state_is_counted_with_zeros_for_empty_states() {
        let text = Metrics::new()
            .render(&view(), Format::OpenMetrics)
            .expect("render");
        for line in [
            r#"nubo_hosts{state="MONITORED"} 1.0"#,
            r#"nubo_hosts{state="ERROR"} 0.0"#,
            r#"nubo_vms{state="PENDING",lcm_state="LCM_INIT"} 2.0"#,
            r#"nubo_vms{state="HOLD",lcm_state="LCM_INIT"} 0.0"#,
            r#"nubo_vms{state="ACTIVE",lcm_state="RUNNING"} 1.0"#,
            "nubo_scheduler_pending_vms 2.0",
            r#"nubo_host_cpu_capacity_cores{host_id="0",host="h0"} 4.0"#,
            r#"nubo_host_memory_capacity_bytes{host_id="0",host="h0"} 8589934592.0"#,
            r#"nubo_vm_cpu_cores{vm_id="3",vm="vm-3"} 0.5"#,
            r#"nubo_vm_network_transmit_bytes_total{vm_id="3",vm="vm-3"} 20"#,
            "nubo_apps 1.0",
            r#"nubo_app_instances{app="shop",process_type="web",state="up"} 2.0"#,
            r#"nubo_app_instances{app="shop",process_type="web",state="starting"} 1.0"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // No sample, no series: a host never monitored has no used CPU.
        assert!(!text.contains("nubo_host_cpu_used_cores{"), "{text}");
        assert!(!text.contains(r#"vm_id="1""#), "{text}");
    }
}
