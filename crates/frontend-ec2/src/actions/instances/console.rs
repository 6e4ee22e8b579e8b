//! GetConsoleOutput: the last piece (up to 64 KiB) of what an instance's serial console
//! printed, asked of its host and base64-encoded as EC2 gives it; no output before the
//! instance has run, after its host has let it go, or where the host keeps no console
//! output (simulated hosts).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nubo_core::model::Vm;
use nubo_core::ops::host_access::CONSOLE_TAIL;
use nubo_types::AuthOp;

use crate::error::Ec2Result;
use crate::ids::INSTANCE;
use crate::params::Params;
use crate::xml::{Xml, iso8601};

use super::{Ctx, visible_one};

/// GetConsoleOutput (`Latest` or not: the newest output is all Nubo gives).
pub async fn console_output(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let vm = visible_one(ctx, p.required("InstanceId")?)?;
    ctx.may::<Vm>(vm.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    let output = match ctx
        .core
        .vm_console(&ctx.caller, vm.meta.id, CONSOLE_TAIL)
        .await
    {
        Ok(chunk) => chunk.data,
        // Nothing to show (no host yet, or none that keeps the output), not a failure.
        Err(nubo_types::Error::Action { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    x.text("instanceId", &INSTANCE.id(vm.meta.id))
        .text("timestamp", &iso8601(nubo_core::now()));
    if !output.is_empty() {
        x.text("output", &STANDARD.encode(output));
    }
    Ok(())
}
