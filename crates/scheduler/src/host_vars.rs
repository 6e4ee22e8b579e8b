//! The variables a host offers to requirement and rank expressions: its template
//! attributes, and the capacity figures OpenNebula exposes from HOST_SHARE.

use nubo_template::Vars;

use crate::HostCandidate;

/// A host seen as expression variables.
#[derive(Debug, Clone, Copy)]
pub struct HostVars<'a> {
    host: &'a HostCandidate,
}

impl<'a> HostVars<'a> {
    /// The variables of `host`.
    pub fn new(host: &'a HostCandidate) -> Self {
        HostVars { host }
    }
}

impl Vars for HostVars<'_> {
    fn values(&self, name: &str) -> Vec<String> {
        let h = self.host;
        let name = name.rsplit('/').next().unwrap_or(name);
        let one = |v: i64| vec![v.to_string()];
        match name {
            "ID" | "HID" => one(i64::from(h.id)),
            "NAME" | "HOSTNAME" => vec![h.name.clone()],
            "CLUSTER_ID" => one(i64::from(h.cluster_id)),
            "MAX_CPU" | "TOTAL_CPU" => one(h.max_cpu),
            "MAX_MEM" | "TOTAL_MEM" => one(h.max_mem),
            "CPU_USAGE" => one(h.cpu_usage),
            "MEM_USAGE" => one(h.mem_usage),
            "FREE_CPU" => one(h.free_cpu_monitored),
            "FREE_MEM" => one(h.max_mem.saturating_sub(h.mem_usage)),
            "RUNNING_VMS" => one(h.vms.len() as i64),
            "CURRENT_VMS" => h.vms.iter().map(|v| v.to_string()).collect(),
            other => h.attributes.get(other).cloned().unwrap_or_default(),
        }
    }
}
