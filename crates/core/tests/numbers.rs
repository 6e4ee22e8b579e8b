//! Numbers that corrupted accounting (issue 12 I), through a whole core: CPU, VCPU and
//! MEMORY that are not finite, exact and bounded are refused by allocate, instantiate and
//! resize with nothing changed; a CPU quota of 0.3 takes exactly three VMs of 0.1; a host's
//! usage and a user's quota usage come back to exactly zero after many VMs come and go;
//! a host's reported capacity stays within bounds.
//!
//! Only the core's public calls are used (no new types), so the same file runs against
//! the code before the fix and fails there.

mod support;

use std::sync::Arc;
use std::time::Duration;

use nubo_core::model::{Host, QuotaKind, User, Vm};
use nubo_core::{Caller, Core, CoreConfig};
use nubo_types::Error;
use nubo_types::states::{LcmState, VmState};

const ACTION: i32 = 0x800;
/// oned answers a VM or template its pool refuses INTERNAL (`pool_allocate`).
const INTERNAL: i32 = 0x2000;

struct Ctx {
    core: Core,
    admin: Caller,
    bob: Caller,
    bob_id: i32,
    _dir: tempfile::TempDir,
}

async fn setup() -> Ctx {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = CoreConfig {
        runtime: support::quick_runtime(),
        ..support::config(dir.path())
    };
    let (core, admin) = support::open(config).await;
    let bob = support::user(&core, &admin, "bob").await;
    let bob_id = bob.uid;
    Ctx {
        core,
        admin,
        bob,
        bob_id,
        _dir: dir,
    }
}

fn vm_text(cpu: &str, vcpu: Option<&str>, memory: &str) -> String {
    let vcpu = vcpu.map(|v| format!("VCPU=\"{v}\"\n")).unwrap_or_default();
    format!("NAME=\"n\"\nCPU=\"{cpu}\"\n{vcpu}MEMORY=\"{memory}\"")
}

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> i32 {
    r.expect_err("the call must fail").code() as i32
}

impl Ctx {
    fn vm(&self, id: i32) -> Arc<Vm> {
        self.core.info::<Vm>(&self.admin, id).expect("vm")
    }

    fn host(&self, id: i32) -> Arc<Host> {
        self.core.info::<Host>(&self.admin, id).expect("host")
    }

    /// Bob's VM quota usage of `field`.
    fn used(&self, field: &str) -> f64 {
        self.core
            .info::<User>(&self.admin, self.bob_id)
            .expect("bob")
            .quotas
            .entry(QuotaKind::Vm, -1)
            .map_or(0.0, |e| e.used(field))
    }

    fn vm_count(&self) -> usize {
        self.core
            .vm_pool_info(&self.admin, nubo_core::PoolFilter::ALL, -2)
            .expect("pool")
            .len()
    }

    /// A monitored sim host.
    async fn host_up(&self) -> i32 {
        let id = self
            .core
            .host_allocate(&self.admin, "h1", "sim", "sim", -1)
            .await
            .expect("host");
        self.until(|| self.host(id).share.max_cpu > 0, "host monitored")
            .await;
        id
    }

    async fn until(&self, done: impl Fn() -> bool, what: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn running(&self, id: i32) {
        self.until(
            || {
                let vm = self.vm(id);
                vm.state == VmState::Active && vm.lcm_state == LcmState::Running
            },
            &format!("VM {id} running"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_with_huge_values_is_refused_and_changes_nothing() {
    let ctx = setup().await;
    let hid = ctx.host_up().await;
    let id = ctx
        .core
        .vm_allocate(&ctx.admin, &vm_text("1", Some("2"), "64"), false)
        .await
        .expect("vm");
    ctx.running(id).await;
    let share = ctx.host(hid).share.clone();
    assert_eq!((share.cpu_usage, share.mem_usage), (100, 64 * 1024));
    for text in [
        r#"CPU="1e308" MEMORY="18446744073709551615" VCPU="4294967296""#,
        r#"CPU="1e308""#,
        r#"MEMORY="18446744073709551615""#,
        r#"VCPU="4294967296""#,
        r#"CPU="1048577""#,
        r#"MEMORY="4294967297""#,
        r#"VCPU="65537""#,
        r#"CPU="1e-320""#,
        r#"CPU="NaN""#,
        r#"CPU="0.001""#,
        r#"MEMORY="1.5""#,
    ] {
        for enforce in [false, true] {
            let e = ctx
                .core
                .vm_resize(&ctx.admin, id, text, enforce)
                .await
                .expect_err(text);
            assert_eq!(e.code() as i32, ACTION, "{text}: {e}");
            assert!(e.to_string().len() < 200, "short: {e}");
        }
        let vm = ctx.vm(id);
        assert_eq!(vm.template.get("CPU"), Some("1"), "{text}");
        assert_eq!(vm.template.get("VCPU"), Some("2"), "{text}");
        assert_eq!(vm.template.get("MEMORY"), Some("64"), "{text}");
        assert_eq!(
            (vm.state, vm.lcm_state),
            (VmState::Active, LcmState::Running)
        );
        assert_eq!(ctx.host(hid).share, share, "{text}: the host is unchanged");
    }
    let e = ctx
        .core
        .vm_resize(&ctx.admin, id, r#"CPU="1e308""#, false)
        .await
        .expect_err("refused");
    assert!(
        e.to_string().contains("CPU must be a plain decimal number"),
        "{e}"
    );
    // A sensible resize still works, exactly.
    ctx.core
        .vm_resize(&ctx.admin, id, r#"CPU="0.35" MEMORY="96""#, false)
        .await
        .expect("resize");
    ctx.running(id).await;
    let vm = ctx.vm(id);
    assert_eq!(vm.template.get("CPU"), Some("0.35"));
    let now = ctx.host(hid).share.clone();
    assert_eq!((now.cpu_usage, now.mem_usage), (35, 96 * 1024));
}

#[tokio::test]
async fn allocate_and_instantiate_refuse_numbers_that_corrupt_accounting() {
    let ctx = setup().await;
    let bad = [
        vm_text("1e-320", None, "64"),
        vm_text("NaN", None, "64"),
        vm_text("nan", None, "64"),
        vm_text("inf", None, "64"),
        vm_text("-inf", None, "64"),
        vm_text("-1", None, "64"),
        vm_text("0", None, "64"),
        vm_text("0.001", None, "64"),
        vm_text("0.005", None, "64"),
        vm_text("1e308", None, "64"),
        vm_text("1048577", None, "64"),
        vm_text("1", Some("4294967296"), "64"),
        vm_text("1", Some("65537"), "64"),
        vm_text("1", Some("0"), "64"),
        vm_text("1", Some("1.5"), "64"),
        vm_text("1", None, "18446744073709551615"),
        vm_text("1", None, "4294967297"),
        vm_text("1", None, "0"),
        vm_text("1", None, "-64"),
        "NAME=\"n\"\nMEMORY=\"64\"".to_string(),
        "NAME=\"n\"\nCPU=\"1\"".to_string(),
    ];
    for text in &bad {
        for hold in [false, true] {
            let e = ctx
                .core
                .vm_allocate(&ctx.bob, text, hold)
                .await
                .expect_err(text);
            assert_eq!(e.code() as i32, INTERNAL, "{text}: {e}");
        }
    }
    let e = ctx
        .core
        .vm_allocate(&ctx.bob, &vm_text("0.001", None, "64"), true)
        .await
        .expect_err("refused");
    assert!(
        e.to_string().contains("CPU must be a multiple of 0.01"),
        "{e}"
    );
    let tid = ctx
        .core
        .template_allocate(&ctx.bob, &vm_text("1e-320", None, "64"))
        .await
        .expect("templates keep what they are given");
    assert_eq!(
        code(
            ctx.core
                .template_instantiate(&ctx.bob, tid, "", true, "")
                .await
        ),
        INTERNAL
    );
    let good = ctx
        .core
        .template_allocate(
            &ctx.bob,
            &vm_text("0.5", None, "64").replace("NAME=\"n\"", "NAME=\"good\""),
        )
        .await
        .expect("template");
    assert_eq!(
        code(
            ctx.core
                .template_instantiate(&ctx.bob, good, "", true, "VCPU=\"4294967296\"")
                .await
        ),
        INTERNAL
    );
    assert_eq!(ctx.vm_count(), 0, "nothing is stored");
    assert_eq!((ctx.used("CPU"), ctx.used("VMS")), (0.0, 0.0));

    // Bob's own VM: he cannot zero his CPU usage by resizing it.
    let id = ctx
        .core
        .vm_allocate(&ctx.bob, &vm_text("0.5", Some("1"), "64"), true)
        .await
        .expect("vm");
    assert_eq!(ctx.used("CPU"), 0.5);
    for text in [
        r#"VCPU="4294967296""#,
        r#"CPU="1e-320""#,
        r#"CPU="1e-320" VCPU="4294967296""#,
        r#"CPU="-0.5""#,
        r#"MEMORY="-64""#,
    ] {
        assert_eq!(
            code(ctx.core.vm_resize(&ctx.bob, id, text, false).await),
            ACTION,
            "{text}"
        );
        assert_eq!((ctx.used("CPU"), ctx.used("MEMORY")), (0.5, 64.0), "{text}");
        assert_eq!(ctx.vm(id).template.get("VCPU"), Some("1"));
    }
}

#[tokio::test]
async fn a_cpu_quota_of_0_3_takes_exactly_three_vms_of_0_1() {
    let ctx = setup().await;
    ctx.core
        .user_quota(&ctx.admin, ctx.bob_id, r#"VM=[CPU="0.3"]"#)
        .await
        .expect("quota");
    let tenth = vm_text("0.1", None, "16");
    let mut ids = Vec::new();
    for n in 1..=3 {
        let id = ctx
            .core
            .vm_allocate(&ctx.bob, &tenth, true)
            .await
            .unwrap_or_else(|e| panic!("VM {n} of 0.1 CPU fits a quota of 0.3: {e}"));
        ids.push(id);
    }
    assert_eq!(ctx.used("CPU"), 0.3, "exactly 0.3");
    let e = ctx
        .core
        .vm_allocate(&ctx.bob, &tenth, true)
        .await
        .expect_err("the fourth is over the quota");
    assert!(matches!(e, Error::Quota { .. }), "{e}");
    assert!(
        e.to_string().contains("limit of 0.3 reached for CPU"),
        "{e}"
    );
    assert_eq!(
        ctx.core
            .vm_allocate(&ctx.bob, &vm_text("0.01", None, "16"), true)
            .await
            .map_err(|e| matches!(e, Error::Quota { .. })),
        Err(true),
        "not even 0.01 more"
    );
    // Growing one VM by 0.01 is over the quota too; shrinking and growing back is fine.
    let e = ctx
        .core
        .vm_resize(&ctx.bob, ids[0], r#"CPU="0.11""#, false)
        .await
        .expect_err("over the quota");
    assert!(matches!(e, Error::Quota { .. }), "{e}");
    ctx.core
        .vm_resize(&ctx.bob, ids[0], r#"CPU="0.07""#, false)
        .await
        .expect("shrink");
    ctx.core
        .vm_resize(&ctx.bob, ids[0], r#"CPU="0.1""#, false)
        .await
        .expect("grow back");
    assert_eq!(ctx.used("CPU"), 0.3);
    for id in ids {
        ctx.core
            .vm_action(&ctx.bob, "terminate-hard", id)
            .await
            .expect("terminate");
    }
    assert_eq!(ctx.used("CPU"), 0.0, "exactly nothing");
    assert_eq!(ctx.used("VMS"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_comes_back_to_exactly_zero_after_many_vms() {
    let ctx = setup().await;
    let hid = ctx.host_up().await;
    // Sums of these as floats leave crumbs (0.1 + 0.2 - 0.1 - 0.2 > 0).
    let cpus = ["0.1", "0.2", "0.33", "0.07", "0.01", "0.17"];
    let mut ids = Vec::new();
    for i in 0..24 {
        let text = vm_text(cpus[i % cpus.len()], Some("1"), "16");
        ids.push(
            ctx.core
                .vm_allocate(&ctx.bob, &text, false)
                .await
                .expect("vm"),
        );
    }
    for id in &ids {
        ctx.running(*id).await;
    }
    let share = ctx.host(hid).share.clone();
    let hundredths = [10, 20, 33, 7, 1, 17];
    let want: i64 = (0..24).map(|i| hundredths[i % hundredths.len()]).sum();
    assert_eq!(share.cpu_usage, want);
    assert_eq!(share.running_vms, 24);
    // Resize some while they run.
    for (n, id) in ids.iter().enumerate().take(6) {
        let text = format!("CPU=\"{}\" MEMORY=\"{}\"", cpus[(n + 1) % cpus.len()], 32);
        ctx.core
            .vm_resize(&ctx.bob, *id, &text, true)
            .await
            .expect("resize");
    }
    for id in &ids {
        ctx.running(*id).await;
    }
    // One at a time, so the releases come in a known order.
    for id in &ids {
        ctx.core
            .vm_action(&ctx.bob, "terminate-hard", *id)
            .await
            .expect("terminate");
        ctx.until(|| ctx.vm(*id).state == VmState::Done, "VM done")
            .await;
    }
    let share = ctx.host(hid).share.clone();
    assert_eq!(
        (
            share.cpu_usage,
            share.mem_usage,
            share.running_vms,
            share.disk_usage
        ),
        (0, 0, 0, 0)
    );
    for field in [
        "CPU",
        "MEMORY",
        "VMS",
        "RUNNING_CPU",
        "RUNNING_MEMORY",
        "RUNNING_VMS",
    ] {
        assert_eq!(ctx.used(field), 0.0, "{field} usage is exactly zero");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosts_capacity_stays_within_bounds() {
    let ctx = setup().await;
    let hid = ctx.host_up().await;
    ctx.core
        .update_template::<Host>(
            &ctx.admin,
            hid,
            "SIM_CPU=\"9223372036854775807\"\nSIM_MEMORY=\"9223372036854775807\"",
            1,
        )
        .await
        .expect("update");
    ctx.until(
        || ctx.host(hid).share.max_cpu != 800,
        "new capacity monitored",
    )
    .await;
    let share = ctx.host(hid).share.clone();
    assert_eq!(share.max_cpu, (1 << 20) * 100, "2^20 CPUs at most");
    assert_eq!(share.max_mem, 1 << 42, "4 PiB at most");
    assert_eq!(share.total_cpu, share.max_cpu);
    ctx.core
        .update_template::<Host>(&ctx.admin, hid, "SIM_CPU=\"-500\"\nSIM_MEMORY=\"-5\"", 1)
        .await
        .expect("update");
    ctx.until(
        || ctx.host(hid).share.max_mem != 1 << 42,
        "new capacity monitored",
    )
    .await;
    let share = ctx.host(hid).share.clone();
    assert_eq!((share.max_cpu, share.max_mem), (0, 0), "never negative");
}
