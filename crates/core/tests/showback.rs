//! `vmpool.showback` and `vmpool.accounting` through a whole core (issue 12 B): ranges as
//! wide as the parameters allow answer at once with the VMs' records, invalid months are
//! refused, and a normal range gives the same records as before.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use nubo_core::model::Vm;
use nubo_core::ops::vm::Showback;
use nubo_core::{Caller, Core, CoreConfig, PoolFilter};
use nubo_types::states::LcmState;
use nubo_types::{Error, ErrorCode};

struct Ctx {
    core: Core,
    admin: Caller,
    alice: Caller,
    _dir: tempfile::TempDir,
}

/// A cloud with one simulated host and three running VMs (two of alice's), whose
/// placements started at least a second ago.
async fn setup() -> Ctx {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = CoreConfig {
        runtime: support::quick_runtime(),
        ..support::config(dir.path())
    };
    let (core, admin) = support::open(config).await;
    let alice = support::user(&core, &admin, "alice").await;
    core.host_allocate(&admin, "h1", "sim", "sim", -1)
        .await
        .expect("host");
    let vm = |name: &str| {
        format!(
            "NAME=\"{name}\"\nCPU=\"0.5\"\nMEMORY=\"64\"\nCPU_COST=\"2\"\nMEMORY_COST=\"0.5\"\n\
             DISK_COST=\"0.25\""
        )
    };
    // Costs are restricted attributes: oneadmin sets them and gives alice her VMs.
    for (who, name) in [(&alice, "a1"), (&alice, "a2"), (&admin, "root")] {
        let id = core
            .vm_allocate(&admin, &vm(name), false)
            .await
            .expect("vm");
        if who.uid != admin.uid {
            core.chown::<Vm>(&admin, id, who.uid, -1)
                .await
                .expect("chown");
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let vms = core
            .vm_pool_info(&admin, PoolFilter::ALL, -1)
            .expect("pool");
        if vms.iter().all(|v| v.lcm_state == LcmState::Running) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the VMs never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every placement lasts at least a second, so each VM has a record this month.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Ctx {
        core,
        admin,
        alice,
        _dir: dir,
    }
}

/// Runs `call` on its own thread and waits at most 10 s for it: a call that loops over
/// every month up to year 2^31 never answers, and the test fails instead of hanging.
fn promptly<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(call());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the call answers within 10 s")
}

fn showback(
    ctx: &Ctx,
    who: &Caller,
    from: (i32, i32),
    to: (i32, i32),
) -> Result<Vec<Showback>, Error> {
    let (core, who) = (ctx.core.clone(), who.clone());
    promptly(move || core.vm_pool_showback(&who, -2, from, to))
}

/// (VM name, year, month) of each record.
fn which(records: &[Showback]) -> Vec<(String, i32, u32)> {
    records
        .iter()
        .map(|r| (r.vm.meta.name.clone(), r.year, r.month))
        .collect()
}

fn this_month() -> (i32, u32) {
    let days = nubo_core::now().div_euclid(86_400);
    // Howard Hinnant's civil_from_days, enough for a test.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widest_range_answers_at_once_with_the_records() {
    let ctx = setup().await;
    let (year, month) = this_month();
    // one.vmpool.showback(-2, 1, -2147483648, 12, 2147483647), as oned reads it: every
    // record from the first to the last.
    let wide = showback(&ctx, &ctx.admin, (1, i32::MIN), (12, i32::MAX)).expect("showback");
    let open = showback(&ctx, &ctx.admin, (-1, -1), (-1, -1)).expect("showback");
    let now =
        showback(&ctx, &ctx.admin, (month as i32, year), (month as i32, year)).expect("showback");
    if this_month() != (year, month) {
        return; // The month changed under the test: its records are split, ask again.
    }
    let expected: Vec<(String, i32, u32)> = ["a1", "a2", "root"]
        .iter()
        .map(|n| (n.to_string(), year, month))
        .collect();
    for records in [&wide, &open, &now] {
        assert_eq!(which(records), expected);
        for r in records.iter() {
            assert!(r.hours > 0.0 && r.hours < 1.0, "{}", r.hours);
            assert!(r.rhours <= r.hours);
            assert_eq!(r.cpu_cost, 2.0 * 0.5 * r.hours);
            assert_eq!(r.memory_cost, 0.5 * 64.0 * r.hours);
            assert_eq!(r.disk_cost, 0.0, "no disks");
        }
    }
    // Alice sees her VMs only.
    let hers = showback(&ctx, &ctx.alice, (1, i32::MIN), (12, i32::MAX)).expect("showback");
    assert_eq!(which(&hers), expected[..2].to_vec());
    // Ranges that hold no record: in the future, before 1970, or reversed.
    for (from, to) in [
        ((1, year + 1), (12, i32::MAX)),
        ((1, i32::MIN), (12, 1969)),
        ((1, i32::MIN), (12, i32::MIN)),
        ((month as i32, year), (1, year - 1)),
    ] {
        let none = showback(&ctx, &ctx.admin, from, to).expect("showback");
        assert!(none.is_empty(), "{from:?} to {to:?}: {:?}", which(&none));
    }
    // A month is -1 or 1 to 12.
    for (m1, m2) in [(0, 12), (13, 12), (1, -2), (i32::MIN, i32::MAX)] {
        let e = showback(&ctx, &ctx.admin, (m1, 2025), (m2, 2026)).expect_err("invalid month");
        assert_eq!(e.code(), ErrorCode::RpcApi, "{e}");
        assert!(e.to_string().starts_with("Invalid month "), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounting_over_the_widest_window_answers_at_once() {
    let ctx = setup().await;
    for (start, end) in [
        (-1, -1),
        (0, i64::from(i32::MAX)),
        (i64::from(i32::MIN), i64::from(i32::MAX)),
    ] {
        let (core, admin) = (ctx.core.clone(), ctx.admin.clone());
        let records =
            promptly(move || core.vm_pool_accounting(&admin, -2, start, end)).expect("accounting");
        let mut names: Vec<String> = records
            .iter()
            .map(|(_, vm): &(_, std::sync::Arc<Vm>)| vm.meta.name.clone())
            .collect();
        names.sort();
        assert_eq!(names, ["a1", "a2", "root"], "{start} to {end}");
    }
}
