//! What VMs used: monitoring samples (`vm.monitoring`, `vmpool.monitoring`), placement
//! records in a time window (`vmpool.accounting`) and monthly costs (`vmpool.showback`),
//! each limited to the VMs the caller may see.

use std::sync::Arc;

use nubo_types::{AuthOp, Error, Oid, Result};

use crate::Core;
use crate::auth::Caller;
use crate::calendar::{self, days_from_civil};
use crate::model::{History, Vm};
use crate::monitoring::VmSample;
use crate::ops::generic::fetch_for;
use crate::ops::pool::{PoolFilter, list_where};

/// One showback record: a VM's use and cost in one month.
#[derive(Debug, Clone, PartialEq)]
pub struct Showback {
    /// The VM.
    pub vm: Arc<Vm>,
    /// Year.
    pub year: i32,
    /// Month (1–12).
    pub month: u32,
    /// Hours the VM existed on a host in the month.
    pub hours: f64,
    /// Hours it was running.
    pub rhours: f64,
    /// CPU_COST × CPU × hours.
    pub cpu_cost: f64,
    /// MEMORY_COST × MEMORY (MB) × hours.
    pub memory_cost: f64,
    /// DISK_COST × disk size (MB) × hours.
    pub disk_cost: f64,
}

impl Showback {
    /// The sum of the costs.
    pub fn total(&self) -> f64 {
        self.cpu_cost + self.memory_cost + self.disk_cost
    }
}

/// The epoch second a month starts.
fn month_start(year: i32, month: u32) -> i64 {
    days_from_civil(i64::from(year), i64::from(month), 1) * 86_400
}

fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month >= 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

/// Seconds of `[a, b)` inside `[lo, hi)`.
fn overlap(a: i64, b: i64, lo: i64, hi: i64) -> i64 {
    (b.min(hi) - a.max(lo)).max(0)
}

fn cost(vm: &Vm, name: &str) -> f64 {
    vm.template
        .get(name)
        .or_else(|| vm.user_template.get(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn disk_mb(vm: &Vm) -> f64 {
    vm.template
        .vectors("DISK")
        .filter_map(|d| {
            d.iter()
                .find(|(k, _)| k == "SIZE")
                .and_then(|(_, v)| v.parse::<f64>().ok())
        })
        .sum()
}

impl Core {
    /// `vm.monitoring`: the recent samples of one VM.
    pub fn vm_monitoring(&self, caller: &Caller, id: Oid) -> Result<Vec<VmSample>> {
        self.read(|s| fetch_for::<Vm>(s, caller, id, AuthOp::Use).map(drop))?;
        Ok(self.inner.monitoring.vm(id, 0))
    }

    /// The latest monitoring sample of VM `id` (for its MONITORING element; the caller
    /// has already been authorized to see the VM).
    pub fn vm_latest_sample(&self, id: Oid) -> Option<VmSample> {
        self.inner.monitoring.vm_latest(id)
    }

    /// `vmpool.monitoring`: samples of the VMs `filter` selects, from the last `seconds`
    /// (-1: all kept; 0: only the latest of each VM).
    pub fn vm_pool_monitoring(
        &self,
        caller: &Caller,
        filter: i32,
        seconds: i32,
    ) -> Result<Vec<(Oid, VmSample)>> {
        let filter = PoolFilter {
            filter,
            start: -1,
            end: -1,
        }
        .validate()?;
        let vms = self.read(|s| Ok(list_where(s, caller, filter, |_: &Vm| true)))?;
        let since = if seconds > 0 {
            crate::now() - i64::from(seconds)
        } else {
            0
        };
        let log = &self.inner.monitoring;
        Ok(vms
            .iter()
            .flat_map(|vm| {
                let id = vm.meta.id;
                let samples = if seconds == 0 {
                    log.vm_latest(id).into_iter().collect()
                } else {
                    log.vm(id, since)
                };
                samples.into_iter().map(move |s| (id, s))
            })
            .collect())
    }

    /// `vmpool.accounting`: the placement records, with their VMs, that overlap
    /// `[start, end]` (-1: open).
    pub fn vm_pool_accounting(
        &self,
        caller: &Caller,
        filter: i32,
        start: i64,
        end: i64,
    ) -> Result<Vec<(History, Arc<Vm>)>> {
        let filter = PoolFilter {
            filter,
            start: -1,
            end: -1,
        }
        .validate()?;
        let vms = self.read(|s| Ok(list_where(s, caller, filter, |_: &Vm| true)))?;
        let (lo, hi) = (
            if start < 0 { i64::MIN } else { start },
            if end < 0 { i64::MAX } else { end },
        );
        Ok(vms
            .iter()
            .flat_map(|vm| {
                vm.history
                    .iter()
                    .filter(|h| h.stime <= hi && (h.etime == 0 || h.etime >= lo))
                    .map(|h| (h.clone(), vm.clone()))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// `vmpool.calculateshowback`: showback is computed when asked for, so there is nothing
    /// to calculate ahead; only oneadmin's group may ask, as in oned.
    pub fn vm_pool_calculate_showback(&self, caller: &Caller) -> Result<()> {
        if caller.is_admin() {
            Ok(())
        } else {
            Err(Error::Authorization {
                uid: caller.uid,
                op: "MANAGE".into(),
                object: "VM POOL SHOWBACK".into(),
            })
        }
    }

    /// `vmpool.showback`: monthly use and cost of the VMs `filter` selects, from
    /// `m1/y1` to `m2/y2` (-1: from the first / to the current month).
    pub fn vm_pool_showback(
        &self,
        caller: &Caller,
        filter: i32,
        (m1, y1): (i32, i32),
        (m2, y2): (i32, i32),
    ) -> Result<Vec<Showback>> {
        let filter = PoolFilter {
            filter,
            start: -1,
            end: -1,
        }
        .validate()?;
        for m in [m1, m2] {
            if m != -1 && !(1..=12).contains(&m) {
                return Err(Error::api(format!("Invalid month {m}")));
            }
        }
        let vms = self.read(|s| Ok(list_where(s, caller, filter, |_: &Vm| true)))?;
        let now = crate::now();
        let first = vms
            .iter()
            .flat_map(|v| v.history.iter().map(|h| h.stime))
            .min()
            .unwrap_or(now);
        let (fy, fm) = year_month(first);
        let (ny, nm) = year_month(now);
        let from = if m1 < 0 || y1 < 0 {
            (fy, fm)
        } else {
            (y1, m1.unsigned_abs())
        };
        let to = if m2 < 0 || y2 < 0 {
            (ny, nm)
        } else {
            (y2, m2.unsigned_abs())
        };
        let mut out = Vec::new();
        let mut month = from;
        while month <= to {
            let lo = month_start(month.0, month.1);
            let next = next_month(month.0, month.1);
            let hi = month_start(next.0, next.1);
            for vm in &vms {
                let (mut secs, mut rsecs) = (0, 0);
                for h in &vm.history {
                    let end = if h.etime == 0 { now } else { h.etime };
                    secs += overlap(h.stime, end, lo, hi);
                    if h.rstime > 0 {
                        let rend = if h.retime == 0 { end } else { h.retime };
                        rsecs += overlap(h.rstime, rend, lo, hi);
                    }
                }
                if secs == 0 {
                    continue;
                }
                let hours = secs as f64 / 3600.0;
                out.push(Showback {
                    vm: vm.clone(),
                    year: month.0,
                    month: month.1,
                    hours,
                    rhours: rsecs as f64 / 3600.0,
                    cpu_cost: cost(vm, "CPU_COST") * vm.cpu * hours,
                    memory_cost: cost(vm, "MEMORY_COST") * vm.memory_mb as f64 * hours,
                    disk_cost: cost(vm, "DISK_COST") * disk_mb(vm) * hours,
                });
            }
            month = next;
        }
        Ok(out)
    }
}

/// (year, month) of an epoch second.
fn year_month(t: i64) -> (i32, u32) {
    let (y, m, _) = calendar::civil(t.div_euclid(86_400));
    (
        i32::try_from(y).unwrap_or(i32::MAX),
        u32::try_from(m).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_days() {
        assert_eq!(month_start(1970, 1), 0);
        assert_eq!(month_start(2026, 12), 1_796_083_200);
        assert_eq!(year_month(1_796_126_400), (2026, 12));
        assert_eq!(next_month(2026, 12), (2027, 1));
        assert_eq!(overlap(10, 20, 15, 30), 5);
        assert_eq!(overlap(10, 20, 25, 30), 0);
    }
}
