//! Scheduler expressions that are too long (issue 12 A), through a whole core: VM allocate
//! and template instantiate refuse them with a clear error and store nothing; a VM that
//! carries one anyway (vm.update takes the user template as it is, as oned does) gets a
//! SCHED_MESSAGE from the scheduler instead of crashing it.

mod support;

use std::time::Duration;

use nubo_core::model::{Vm, VmTemplate};
use nubo_core::{Caller, Core, CoreConfig, PoolFilter};
use nubo_types::Error;
use nubo_types::states::VmState;

/// oned answers a VM its pool refuses INTERNAL (VirtualMachineAllocateAPI::pool_allocate).
const INTERNAL: i32 = 0x2000;

struct Ctx {
    core: Core,
    admin: Caller,
    alice: Caller,
    _dir: tempfile::TempDir,
}

async fn setup() -> Ctx {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = CoreConfig {
        runtime: support::quick_runtime(),
        ..support::config(dir.path())
    };
    let (core, admin) = support::open(config).await;
    let alice = support::user(&core, &admin, "alice").await;
    Ctx {
        core,
        admin,
        alice,
        _dir: dir,
    }
}

/// `n` copies of `term` joined by `op`.
fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

/// The four expressions a user sets, each 50,000 terms long (too many bytes, or, when the
/// terms are short, too many terms).
fn long_expressions() -> Vec<(&'static str, String)> {
    vec![
        ("SCHED_REQUIREMENTS", chain("ID=1", "&", 20_000)),
        ("SCHED_RANK", chain("1", "+", 50_000)),
        ("SCHED_REQUIREMENTS", chain("ID=1", " & ", 50_000)),
        ("SCHED_REQUIREMENTS", chain("ID=1", " | ", 50_000)),
        ("SCHED_RANK", chain("1", " + ", 50_000)),
        ("SCHED_RANK", chain("FREE_CPU", " * ", 50_000)),
        ("SCHED_DS_REQUIREMENTS", chain("ID=1", " & ", 50_000)),
        ("SCHED_DS_RANK", chain("1", " + ", 50_000)),
    ]
}

fn all_vms(ctx: &Ctx) -> Vec<std::sync::Arc<Vm>> {
    ctx.core
        .vm_pool_info(&ctx.admin, PoolFilter::ALL, -2)
        .expect("vm pool")
}

fn refused<T: std::fmt::Debug>(r: Result<T, Error>, name: &str) {
    let e = r.expect_err("the call must fail");
    assert_eq!(e.code() as i32, INTERNAL, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!("Parse error in {name}: expression too long: ")),
        "{text}"
    );
    assert!(text.len() < 300, "the message is short: {text}");
}

#[tokio::test]
async fn allocate_refuses_long_expressions_and_stores_nothing() {
    let ctx = setup().await;
    let automatic = ("AUTOMATIC_REQUIREMENTS", chain("ID=1", " & ", 50_000));
    for (name, text) in long_expressions().into_iter().chain([automatic]) {
        let template = format!("NAME=\"x\"\nCPU=\"0.1\"\nMEMORY=\"16\"\n{name}=\"{text}\"");
        refused(
            ctx.core.vm_allocate(&ctx.alice, &template, false).await,
            name,
        );
        refused(
            ctx.core.vm_allocate(&ctx.alice, &template, true).await,
            name,
        );
    }
    let compact = format!(
        "NAME=\"x\"\nCPU=\"0.1\"\nMEMORY=\"16\"\nSCHED_RANK=\"{}\"",
        chain("1", "+", 50_000)
    );
    let e = ctx
        .core
        .vm_allocate(&ctx.alice, &compact, false)
        .await
        .expect_err("refused");
    assert_eq!(
        e.to_string(),
        "Parse error in SCHED_RANK: expression too long: 50000 terms, at most 4096"
    );
    assert!(all_vms(&ctx).is_empty(), "nothing is stored");
    // Short expressions are still fine, and the next VM gets the first id.
    let ok = "NAME=\"y\"\nCPU=\"0.1\"\nMEMORY=\"16\"\nSCHED_REQUIREMENTS=\"ID=1 | ID=2\"\n\
              SCHED_RANK=\"FREE_CPU - 2 * RUNNING_VMS\"";
    let id = ctx
        .core
        .vm_allocate(&ctx.alice, ok, true)
        .await
        .expect("a short expression is accepted");
    assert_eq!(id, 0);
}

#[tokio::test]
async fn instantiate_refuses_long_expressions_from_the_template_or_the_extra() {
    let ctx = setup().await;
    for (name, text) in long_expressions() {
        // Templates keep what they are given, as in oned: they are checked when used.
        let body = format!("NAME=\"t-{name}\"\nCPU=\"0.1\"\nMEMORY=\"16\"\n{name}=\"{text}\"");
        let tid = ctx
            .core
            .template_allocate(&ctx.alice, &body)
            .await
            .expect("template");
        refused(
            ctx.core
                .template_instantiate(&ctx.alice, tid, "", false, "")
                .await,
            name,
        );
        ctx.core
            .template_delete(&ctx.alice, tid)
            .await
            .expect("delete");
    }
    let tid = ctx
        .core
        .template_allocate(&ctx.alice, "NAME=\"plain\"\nCPU=\"0.1\"\nMEMORY=\"16\"")
        .await
        .expect("template");
    for (name, text) in long_expressions() {
        let extra = format!("{name}=\"{text}\"");
        refused(
            ctx.core
                .template_instantiate(&ctx.alice, tid, "", true, &extra)
                .await,
            name,
        );
    }
    assert!(all_vms(&ctx).is_empty(), "nothing is stored");
    assert!(
        ctx.core
            .info::<VmTemplate>(&ctx.alice, tid)
            .expect("template")
            .template
            .get("SCHED_REQUIREMENTS")
            .is_none()
    );
}

/// Waits (at most 20 s) until VM `id`'s SCHED_MESSAGE satisfies `done`.
async fn sched_message(ctx: &Ctx, id: i32, done: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let vm = ctx.core.info::<Vm>(&ctx.admin, id).expect("vm");
        if let Some(m) = vm.user_template.get("SCHED_MESSAGE")
            && done(m)
        {
            assert_eq!(vm.state, VmState::Pending);
            return m.to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no SCHED_MESSAGE for VM {id}: {:?}",
            vm.user_template.get("SCHED_MESSAGE")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_long_expression_becomes_a_sched_message() {
    let ctx = setup().await;
    ctx.core
        .host_allocate(&ctx.admin, "h1", "sim", "sim", -1)
        .await
        .expect("host");
    for (name, text) in long_expressions() {
        let id = ctx
            .core
            .vm_allocate(&ctx.alice, "NAME=\"x\"\nCPU=\"0.1\"\nMEMORY=\"16\"", true)
            .await
            .expect("vm");
        // vm.update takes the user template as it is (oned does not check it either).
        ctx.core
            .update_template::<Vm>(&ctx.alice, id, &format!("{name}=\"{text}\""), 1)
            .await
            .expect("update");
        ctx.core
            .vm_action(&ctx.alice, "release", id)
            .await
            .expect("release");
        let prefix = format!("Parse error in {name}: expression too long: ");
        let message = sched_message(&ctx, id, |m| m.starts_with(&prefix)).await;
        assert!(message.len() < 300, "{message}");
        ctx.core
            .vm_action(&ctx.alice, "terminate-hard", id)
            .await
            .expect("terminate");
    }
    // The scheduler is still alive: a plain VM is deployed.
    let id = ctx
        .core
        .vm_allocate(&ctx.alice, "NAME=\"ok\"\nCPU=\"0.1\"\nMEMORY=\"16\"", false)
        .await
        .expect("vm");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ctx.core.info::<Vm>(&ctx.admin, id).expect("vm").state == VmState::Pending {
        assert!(
            tokio::time::Instant::now() < deadline,
            "VM {id} never placed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
