//! Tests of showback: months, ranges as oned reads them, and records identical to those
//! of a month-by-month reference (the implementation before issue 12 B, which walked every
//! month of the range) on histories spanning years.

use nubo_template::Template;
use nubo_types::Permissions;
use nubo_types::states::{LcmState, VmState};

use super::*;
use crate::model::{Meta, VmOrigin};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Epoch second of `y-m-d` at `h` o'clock.
fn at(y: i64, m: i64, d: i64, h: i64) -> i64 {
    days_from_civil(y, m, d) * DAY + h * HOUR
}

fn record(seq: i32, (stime, etime): (i64, i64), (rstime, retime): (i64, i64)) -> History {
    History {
        seq,
        hostname: "h".into(),
        hid: 0,
        cid: 0,
        stime,
        etime,
        vm_mad: "sim".into(),
        tm_mad: "dummy".into(),
        ds_id: 0,
        pstime: stime,
        petime: stime,
        rstime,
        retime,
        estime: 0,
        eetime: 0,
        action: 0,
        uid: -1,
        gid: -1,
    }
}

fn vm(id: i32, costs: &str, history: Vec<History>) -> Arc<Vm> {
    let template = Template::parse(&format!(
        "{costs}\nDISK=[SIZE=\"1024\"]\nDISK=[SIZE=\"512\"]"
    ))
    .expect("template");
    Arc::new(Vm {
        meta: Meta::of_oneadmin(id, format!("vm{id}"), Permissions::default()),
        state: VmState::Active,
        lcm_state: LcmState::Running,
        prev_state: VmState::Active,
        prev_lcm_state: LcmState::Running,
        resched: false,
        stime: history.first().map_or(0, |h| h.stime),
        etime: 0,
        deploy_id: String::new(),
        last_poll: 0,
        template,
        user_template: Template::default(),
        history,
        cpu: crate::model::Cpu::from_hundredths(50).expect("cpu"),
        vcpu: 1,
        memory_mb: 768,
        origin: VmOrigin::Fresh,
        op_seq: 0,
        migrating_from: None,
        pending: None,
        disk_snapshots: Vec::new(),
    })
}

/// Showback as it was computed before: every month from `from` to `to`, every VM.
fn by_every_month(vms: &[Arc<Vm>], from: (i32, u32), to: (i32, u32), now: i64) -> Vec<Showback> {
    let month_start = |(y, m): (i32, u32)| days_from_civil(i64::from(y), i64::from(m), 1) * DAY;
    let next = |(y, m): (i32, u32)| if m >= 12 { (y + 1, 1) } else { (y, m + 1) };
    let mut out = Vec::new();
    let mut month = from;
    while month <= to {
        let (lo, hi) = (month_start(month), month_start(next(month)));
        for vm in vms {
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
                cpu_cost: cost(vm, "CPU_COST") * vm.cpu.as_f64() * hours,
                memory_cost: cost(vm, "MEMORY_COST") * vm.memory_mb as f64 * hours,
                disk_cost: cost(vm, "DISK_COST") * disk_mb(vm) * hours,
            });
        }
        month = next(month);
    }
    out
}

/// Three VMs over 2024–2026: one placement across a year end and two months, one
/// migrated twice and still running, one that ran for an afternoon.
fn cloud(now: i64) -> Vec<Arc<Vm>> {
    vec![
        vm(
            0,
            "CPU_COST=\"0.5\"\nMEMORY_COST=\"0.01\"\nDISK_COST=\"0.001\"",
            vec![record(
                0,
                (at(2024, 11, 20, 8), at(2025, 2, 3, 17)),
                (at(2024, 11, 20, 9), at(2025, 2, 3, 16)),
            )],
        ),
        vm(
            1,
            "CPU_COST=\"2\"",
            vec![
                record(
                    0,
                    (at(2025, 1, 31, 23), at(2025, 3, 1, 1)),
                    (at(2025, 2, 1, 0), at(2025, 3, 1, 0)),
                ),
                record(1, (at(2025, 3, 1, 1), at(2025, 12, 31, 12)), (0, 0)),
                record(2, (at(2025, 12, 31, 12), 0), (at(2026, 1, 1, 0), 0)),
            ],
        ),
        vm(
            2,
            "MEMORY_COST=\"1\"",
            vec![record(
                0,
                (at(2025, 2, 14, 12), at(2025, 2, 14, 18)),
                (at(2025, 2, 14, 13), at(2025, 2, 14, 17)),
            )],
        ),
    ]
    .into_iter()
    .filter(|v| v.history.iter().all(|h| h.stime <= now))
    .collect()
}

/// What a record says, comparable.
fn key(r: &Showback) -> (i32, i32, u32, [f64; 5]) {
    (
        r.vm.meta.id,
        r.year,
        r.month,
        [r.hours, r.rhours, r.cpu_cost, r.memory_cost, r.disk_cost],
    )
}

fn keys(records: &[Showback]) -> Vec<(i32, i32, u32, [f64; 5])> {
    records.iter().map(key).collect()
}

#[test]
fn months_and_days() {
    assert_eq!(start_of(month_index(1970, 1)), 0);
    assert_eq!(start_of(month_index(2026, 12)), 1_796_083_200);
    assert_eq!(start_of(month_index(2026, 12) + 1), at(2027, 1, 1, 0));
    assert_eq!(month_of(1_796_126_400), month_index(2026, 12));
    assert_eq!(month_of(at(2027, 1, 1, 0) - 1), month_index(2026, 12));
    assert_eq!(overlap(10, 20, 15, 30), 5);
    assert_eq!(overlap(10, 20, 25, 30), 0);
}

#[test]
fn ranges_are_read_as_oned_reads_them() {
    assert_eq!(month_bound(-1, -1), Ok(None));
    assert_eq!(month_bound(-1, 2025), Ok(None));
    assert_eq!(month_bound(3, -1), Ok(None));
    assert_eq!(month_bound(3, 2025), Ok(Some(month_index(2025, 3))));
    assert_eq!(
        month_bound(1, i32::MIN),
        Ok(Some(month_index(i64::from(i32::MIN), 1)))
    );
    for month in [0, 13, -2, i32::MIN, i32::MAX] {
        let e = month_bound(month, 2025).expect_err("invalid month");
        assert_eq!(e.code(), nubo_types::ErrorCode::RpcApi, "{e}");
        assert!(
            e.to_string().contains(&format!("Invalid month {month}")),
            "{e}"
        );
    }
}

#[test]
fn records_match_the_month_by_month_reference() {
    let now = at(2026, 2, 10, 12);
    let vms = cloud(now);
    let open = showback(&vms, None, None, now);
    let reference = by_every_month(&vms, (2024, 11), (2026, 2), now);
    assert_eq!(keys(&open), keys(&reference));
    assert_eq!(open.len(), 4 + 14 + 1, "VM 0: 4 months, VM 1: 14, VM 2: 1");
    for (from, to) in [
        ((2025, 1), (2025, 3)),
        ((2025, 2), (2025, 2)),
        ((2024, 12), (2026, 1)),
        ((2020, 1), (2026, 2)),
        ((2025, 12), (2026, 2)),
    ] {
        let range = |(y, m): (i32, u32)| Some(month_index(i64::from(y), i64::from(m)));
        let got = showback(&vms, range(from), range(to), now);
        assert_eq!(
            keys(&got),
            keys(&by_every_month(&vms, from, to, now)),
            "{from:?} to {to:?}"
        );
    }
    // The costs themselves, for one month: VM 0 in December 2024 (31 days, all running).
    let dec = showback(
        &vms,
        Some(month_index(2024, 12)),
        Some(month_index(2024, 12)),
        now,
    );
    let hours = 31.0 * 24.0;
    assert_eq!(dec.len(), 1, "VM 0 and nothing else");
    assert_eq!(
        key(&dec[0]),
        (
            0,
            2024,
            12,
            [
                hours,
                hours,
                0.5 * 0.5 * hours,
                0.01 * 768.0 * hours,
                0.001 * 1536.0 * hours
            ]
        )
    );
}

#[test]
fn ranges_far_apart_cost_only_the_records() {
    let now = at(2026, 2, 10, 12);
    let vms = cloud(now);
    let everything = showback(&vms, None, None, now);
    let wide = showback(
        &vms,
        Some(month_index(i64::from(i32::MIN), 1)),
        Some(month_index(i64::from(i32::MAX), 12)),
        now,
    );
    assert_eq!(keys(&wide), keys(&everything));
    let future = showback(
        &vms,
        Some(month_index(2100, 1)),
        Some(month_index(i64::from(i32::MAX), 12)),
        now,
    );
    assert!(future.is_empty());
    let reversed = showback(
        &vms,
        Some(month_index(2025, 6)),
        Some(month_index(2025, 5)),
        now,
    );
    assert!(reversed.is_empty(), "a start after the end selects nothing");
    let before = showback(&vms, None, Some(month_index(-5, 3)), now);
    assert!(before.is_empty());
}
