//! StartInstances, StopInstances, TerminateInstances and RebootInstances: VM life-cycle
//! actions, refused as a whole when one instance cannot change.

use nubo_core::model::Vm;
use nubo_types::AuthOp;
use nubo_types::states::VmState;

use crate::error::{Ec2Error, Ec2Result, state_refused};
use crate::ids::INSTANCE;
use crate::params::Params;
use crate::xml::Xml;

use super::{Ctx, selected, state_of};

/// A state change asked of instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// StartInstances.
    Start,
    /// StopInstances.
    Stop,
    /// TerminateInstances.
    Terminate,
}

/// The life-cycle action to run for `change` on a VM in EC2 state `state`; `None` when the
/// VM is already where it is asked to go, an error when it cannot get there from here.
fn action_for(change: Change, vm: &Vm, force: bool) -> Ec2Result<Option<&'static str>> {
    let state = state_of(vm).1;
    let wrong = |verb: &str| {
        Ec2Error::client(
            "IncorrectInstanceState",
            format!(
                "The instance '{}' is not in a state from which it can be {verb}.",
                INSTANCE.id(vm.meta.id)
            ),
        )
    };
    Ok(match (change, state) {
        (Change::Start, "running" | "pending") => None,
        (Change::Start, "stopped")
            if vm.state != VmState::Failed && vm.state != VmState::Active =>
        {
            Some("resume")
        }
        (Change::Start, _) => return Err(wrong("started")),
        (Change::Stop, "stopped" | "stopping") => None,
        (Change::Stop, "running") if force => Some("poweroff-hard"),
        (Change::Stop, "running") => Some("poweroff"),
        (Change::Stop, _) => return Err(wrong("stopped")),
        (Change::Terminate, "terminated" | "shutting-down") => None,
        (Change::Terminate, "running") => Some("terminate"),
        (Change::Terminate, _) => Some("terminate-hard"),
    })
}

/// StartInstances, StopInstances, TerminateInstances.
pub async fn change(ctx: &Ctx, p: &Params, x: &mut Xml, change: Change) -> Ec2Result<()> {
    if p.list("InstanceId").is_empty() {
        return Err(Ec2Error::missing("InstanceId"));
    }
    let force = p.bool("Force")?.unwrap_or(false);
    let (instances, _) = selected(ctx, p)?;
    // Every instance must be able to change before any does.
    let plans = instances
        .iter()
        .map(|i| action_for(change, &i.vm, force))
        .collect::<Ec2Result<Vec<_>>>()?;
    // A protected instance may not be terminated: none is, as on EC2.
    if change == Change::Terminate
        && let Some((i, _)) = instances
            .iter()
            .zip(&plans)
            .find(|(i, plan)| plan.is_some() && i.termination_protected())
    {
        return Err(Ec2Error::client(
            "OperationNotPermitted",
            format!(
                "The instance '{}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.",
                i.id()
            ),
        ));
    }
    for i in &instances {
        ctx.may::<Vm>(i.vm.meta.id, AuthOp::Manage)?;
    }
    ctx.proceed()?;
    let deadline = tokio::time::Instant::now() + SETTLE;
    let mut results = Vec::new();
    for (i, plan) in instances.iter().zip(plans) {
        let before = state_of(&i.vm);
        if let Some(action) = plan {
            let id = i.vm.meta.id;
            match run_action(ctx, action, id, change, deadline).await {
                Ok(_) => {}
                Err(nubo_types::Error::Action { message })
                    if change == Change::Terminate && action == "terminate" =>
                {
                    // A guest that cannot be shut down cleanly is destroyed.
                    tracing::debug!(%message, "terminate refused; terminating hard");
                    ctx.core
                        .vm_action(&ctx.caller, "terminate-hard", id)
                        .await?;
                }
                Err(nubo_types::Error::Action { message }) => {
                    return Err(Ec2Error::client("IncorrectInstanceState", message));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let now = ctx.core.info::<Vm>(&ctx.caller, i.vm.meta.id)?;
        results.push((i.id(), before, state_of(&now)));
    }
    x.list("instancesSet", results, |x, (id, before, after)| {
        x.text("instanceId", &id)
            .open("currentState")
            .num("code", after.0)
            .text("name", after.1)
            .close("currentState")
            .open("previousState")
            .num("code", before.0)
            .text("name", before.1)
            .close("previousState");
    });
    Ok(())
}

/// How long one request waits, in all, for pending instances to settle (prolog, boot)
/// before it terminates them.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs `action` on VM `id`. A pending instance is between driver operations (PROLOG,
/// BOOT) that nothing may interrupt; EC2 lets it be terminated, so termination waits for it
/// to settle, until `deadline`.
async fn run_action(
    ctx: &Ctx,
    action: &str,
    id: i32,
    change: Change,
    deadline: tokio::time::Instant,
) -> nubo_types::Result<i32> {
    loop {
        match ctx.core.vm_action(&ctx.caller, action, id).await {
            Err(nubo_types::Error::Action { message })
                if change == Change::Terminate && tokio::time::Instant::now() < deadline =>
            {
                let vm = ctx.core.info::<Vm>(&ctx.caller, id)?;
                if state_of(&vm).1 != "pending" || vm.state != VmState::Active {
                    return Err(nubo_types::Error::Action { message });
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// RebootInstances.
pub async fn reboot(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    if p.list("InstanceId").is_empty() {
        return Err(Ec2Error::missing("InstanceId"));
    }
    let (instances, _) = selected(ctx, p)?;
    for i in &instances {
        if state_of(&i.vm).1 != "running" {
            return Err(Ec2Error::client(
                "IncorrectInstanceState",
                format!("The instance '{}' is not running.", i.id()),
            ));
        }
    }
    for i in &instances {
        ctx.may::<Vm>(i.vm.meta.id, AuthOp::Manage)?;
    }
    ctx.proceed()?;
    for i in &instances {
        ctx.core
            .vm_action(&ctx.caller, "reboot", i.vm.meta.id)
            .await
            .map_err(state_refused("IncorrectInstanceState"))?;
    }
    x.flag("return", true);
    Ok(())
}
