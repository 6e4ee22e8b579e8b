//! What VMs used: monitoring samples (`vm.monitoring`, `vmpool.monitoring`), placement
//! records in a time window (`vmpool.accounting`) and monthly costs (`vmpool.showback`),
//! each limited to the VMs the caller may see. Each answer costs what the VMs hold (their
//! samples, their history records and the months those cover), never the width of the
//! window or range asked for.

use std::collections::BTreeMap;
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
            // VirtualMachinePoolShowbackCalculateAPI::showback_calc
            Err(Error::restricted(
                caller.uid,
                "Action reserved for group 0 only",
            ))
        }
    }

    /// `vmpool.showback`: monthly use and cost of the VMs `filter` selects, from
    /// `m1/y1` to `m2/y2`. As in oned, a bound applies only when both its month and its
    /// year are given (not -1), any year is taken, and a start after the end selects
    /// nothing; a month must be -1 or 1–12. The work is proportional to the VMs' history
    /// records (only the months they cover), never to the months in the range.
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
        let from = month_bound(m1, y1)?;
        let to = month_bound(m2, y2)?;
        let vms = self.read(|s| Ok(list_where(s, caller, filter, |_: &Vm| true)))?;
        Ok(showback(&vms, from, to, crate::now()))
    }
}

/// Months counted from year 0: `year * 12 + month - 1`.
type MonthIndex = i64;

fn month_index(year: i64, month: i64) -> MonthIndex {
    year * 12 + month - 1
}

/// The epoch second month `m` starts.
fn start_of(m: MonthIndex) -> i64 {
    days_from_civil(m.div_euclid(12), m.rem_euclid(12) + 1, 1) * 86_400
}

/// The month of epoch second `t`.
fn month_of(t: i64) -> MonthIndex {
    let (y, m, _) = calendar::civil(t.div_euclid(86_400));
    month_index(y, m)
}

/// One end of a showback range: none (open) unless both `month` and `year` are given.
fn month_bound(month: i32, year: i32) -> Result<Option<MonthIndex>> {
    if month != -1 && !(1..=12).contains(&month) {
        return Err(Error::api(format!(
            "Invalid month {month}, it must be -1 or 1 to 12"
        )));
    }
    if month == -1 || year == -1 {
        return Ok(None);
    }
    Ok(Some(month_index(i64::from(year), i64::from(month))))
}

/// Adds to `into` (per month) the seconds of `[a, b)` in each month of `[from, to]`;
/// `slot` picks which count.
fn spread(
    into: &mut BTreeMap<MonthIndex, (i64, i64)>,
    (a, b): (i64, i64),
    (from, to): (MonthIndex, MonthIndex),
    slot: fn(&mut (i64, i64)) -> &mut i64,
) {
    let (a, b) = (a.max(start_of(from)).max(0), b.min(start_of(to + 1)));
    if b <= a {
        return;
    }
    for m in month_of(a)..=month_of(b - 1) {
        let secs = overlap(a, b, start_of(m), start_of(m + 1));
        if secs > 0 {
            *slot(into.entry(m).or_default()) += secs;
        }
    }
}

/// The showback records of `vms` in months `from..=to` (open ends: from the first record,
/// to the current month), month by month, each month's VMs in the order given.
fn showback(
    vms: &[Arc<Vm>],
    from: Option<MonthIndex>,
    to: Option<MonthIndex>,
    now: i64,
) -> Vec<Showback> {
    let current = month_of(now);
    let range = (
        from.unwrap_or(month_of(0)).max(month_of(0)),
        to.unwrap_or(current).min(current),
    );
    if range.0 > range.1 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for vm in vms {
        let mut months = BTreeMap::new();
        for h in &vm.history {
            let end = if h.etime == 0 { now } else { h.etime };
            spread(&mut months, (h.stime, end), range, |c| &mut c.0);
            if h.rstime > 0 {
                let rend = if h.retime == 0 { end } else { h.retime };
                spread(&mut months, (h.rstime, rend), range, |c| &mut c.1);
            }
        }
        for (m, (secs, rsecs)) in months {
            if secs == 0 {
                continue;
            }
            let hours = secs as f64 / 3600.0;
            out.push(Showback {
                vm: vm.clone(),
                year: i32::try_from(m.div_euclid(12)).unwrap_or(i32::MAX),
                month: u32::try_from(m.rem_euclid(12) + 1).unwrap_or(1),
                hours,
                rhours: rsecs as f64 / 3600.0,
                cpu_cost: cost(vm, "CPU_COST") * vm.cpu.as_f64() * hours,
                memory_cost: cost(vm, "MEMORY_COST") * vm.memory_mb as f64 * hours,
                disk_cost: cost(vm, "DISK_COST") * disk_mb(vm) * hours,
            });
        }
    }
    // Stable: within a month the VMs keep their order.
    out.sort_by_key(|r| (r.year, r.month));
    out
}

#[cfg(test)]
mod tests;
