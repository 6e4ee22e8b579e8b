//! GetPasswordData: the encrypted Windows administrator password of an instance. Nubo's
//! instances are Linux guests, which have none: the answer is empty password data, as AWS
//! gives for a Linux instance, with the instance id and the time of the answer.

use nubo_core::model::Vm;
use nubo_types::AuthOp;

use crate::error::Ec2Result;
use crate::ids::INSTANCE;
use crate::params::Params;
use crate::xml::{Xml, iso8601};

use super::{Ctx, visible_one};

/// GetPasswordData.
pub fn password_data(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let vm = visible_one(ctx, p.required("InstanceId")?)?;
    ctx.may::<Vm>(vm.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    x.text("instanceId", &INSTANCE.id(vm.meta.id))
        .text("timestamp", &iso8601(nubo_core::now()))
        .text("passwordData", "");
    Ok(())
}
