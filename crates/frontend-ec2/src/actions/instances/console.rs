//! GetConsoleOutput: the last piece (up to 64 KiB) of what an instance's serial console
//! printed, asked of its host and base64-encoded as EC2 gives it; no output before the
//! guest has printed anything, once the instance is terminated, or from simulated hosts;
//! `InternalError` when the host cannot be asked.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nubo_core::model::Vm;
use nubo_core::ops::host_access::CONSOLE_TAIL;
use nubo_types::AuthOp;
use nubo_types::states::VmState;

use crate::error::{Ec2Error, Ec2Result};
use crate::ids::INSTANCE;
use crate::params::Params;
use crate::xml::{Xml, iso8601};

use super::{Ctx, visible_one};

/// GetConsoleOutput (`Latest` or not: the newest output is all Nubo gives).
pub async fn console_output(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let vm = visible_one(ctx, p.required("InstanceId")?)?;
    ctx.may::<Vm>(vm.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    // Before the instance has run, and once its host has let it go, there is nothing to ask.
    let output = if vm.history.is_empty() || vm.state == VmState::Done {
        Vec::new()
    } else {
        ctx.core
            .vm_console(&ctx.caller, vm.meta.id, CONSOLE_TAIL)
            .await
            .map_err(|e| match e {
                // The host could not be asked, or did not answer.
                nubo_types::Error::Action { message } => Ec2Error::internal(message),
                other => other.into(),
            })?
            .data
    };
    x.text("instanceId", &INSTANCE.id(vm.meta.id))
        .text("timestamp", &iso8601(nubo_core::now()));
    if !output.is_empty() {
        x.text("output", &STANDARD.encode(output));
    }
    Ok(())
}
