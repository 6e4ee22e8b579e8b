//! DescribeInstanceAttribute and ModifyInstanceAttribute. An instance's type is its
//! `EC2_INSTANCE_TYPE` and the CPU, VCPU and MEMORY of that type's template: changing it
//! (while the instance is stopped, as on EC2) resizes the VM to the new type and then
//! relabels it. Termination protection (`disableApiTermination`) is
//! `EC2_DISABLE_API_TERMINATION="YES"` in the VM's user template, changed at any time.
//! Other attributes are shown as Nubo has them and cannot be changed here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nubo_core::model::Vm;
use nubo_core::ops::address_range::value;
use nubo_types::AuthOp;

use crate::error::{Ec2Error, Ec2Result};
use crate::params::Params;
use crate::xml::Xml;

use super::{
    Ctx, DISABLE_API_TERMINATION, Instance, ROOT_DEVICE, instance_types, live, state_of,
    visible_one, write_block_devices, write_groups,
};

/// EC2's other instance attributes, which Nubo does not have.
const NOT_HERE: &[&str] = &[
    "productCodes",
    "sriovNetSupport",
    "enaSupport",
    "enclaveOptions",
];

/// The attributes DescribeInstanceAttribute answers.
const KNOWN: &[&str] = &[
    "instanceType",
    "kernel",
    "ramdisk",
    "userData",
    "rootDeviceName",
    "blockDeviceMapping",
    "groupSet",
    "disableApiTermination",
    "disableApiStop",
    "instanceInitiatedShutdownBehavior",
    "ebsOptimized",
    "sourceDestCheck",
];

/// The parameters of ModifyInstanceAttribute that name an attribute (`Name.Value`, or
/// `Name.N` for lists).
const ATTRIBUTE_PARAMS: &[&str] = &[
    "BlockDeviceMapping",
    "DisableApiStop",
    "DisableApiTermination",
    "EbsOptimized",
    "EnaSupport",
    "GroupId",
    "InstanceInitiatedShutdownBehavior",
    "InstanceType",
    "Kernel",
    "Ramdisk",
    "SourceDestCheck",
    "SriovNetSupport",
    "UserData",
];

/// DescribeInstanceAttribute.
pub fn describe_attribute(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let vm = visible_one(ctx, p.required("InstanceId")?)?;
    let attribute = p.required("Attribute")?;
    if NOT_HERE.contains(&attribute) {
        return Err(Ec2Error::client(
            "UnsupportedOperation",
            format!("Nubo instances have no {attribute} attribute"),
        ));
    }
    if !KNOWN.contains(&attribute) {
        return Err(Ec2Error::invalid(
            "Attribute",
            attribute,
            format!("Nubo answers {}.", KNOWN.join(", ")),
        ));
    }
    let i = Instance::new(ctx, vm);
    x.text("instanceId", &i.id());
    let value = |x: &mut Xml, name: &str, v: &str| {
        x.open(name).text("value", v).close(name);
    };
    match attribute {
        "instanceType" => value(x, "instanceType", i.instance_type()),
        "userData" => match user_data(&i.vm) {
            Some(data) => value(x, "userData", &data),
            None => {
                x.empty("userData");
            }
        },
        "rootDeviceName" => value(x, "rootDeviceName", ROOT_DEVICE),
        "blockDeviceMapping" => write_block_devices(x, &i.vm),
        "groupSet" => write_groups(x, &i),
        "instanceInitiatedShutdownBehavior" => {
            value(x, "instanceInitiatedShutdownBehavior", "stop")
        }
        "sourceDestCheck" => value(x, "sourceDestCheck", "true"),
        "disableApiTermination" => value(
            x,
            "disableApiTermination",
            &i.termination_protected().to_string(),
        ),
        // No kernel or ramdisk of its own, as AWS answers for an HVM instance.
        "kernel" | "ramdisk" => {
            x.empty(attribute);
        }
        // disableApiStop, ebsOptimized: never set on Nubo.
        other => value(x, other, "false"),
    }
    Ok(())
}

/// The instance's user data, base64-encoded, from its context.
fn user_data(vm: &Vm) -> Option<String> {
    let context = vm.template.vectors("CONTEXT").next()?;
    let data = value(context, "USER_DATA")?;
    Some(match value(context, "USER_DATA_ENCODING") {
        Some(e) if e.eq_ignore_ascii_case("base64") => data.to_string(),
        _ => STANDARD.encode(data),
    })
}

/// The change ModifyInstanceAttribute asks for.
enum Wanted<'a> {
    /// A new instance type.
    Type(&'a str),
    /// Termination protection on or off.
    Termination(bool),
}

/// The one change `p` asks for: `InstanceType.Value` / `DisableApiTermination.Value`, or
/// `Attribute` with `Value`.
fn wanted(p: &Params) -> Ec2Result<Wanted<'_>> {
    let mut given: Vec<&str> = p
        .iter()
        .map(|(n, _)| n.split('.').next().unwrap_or(n))
        .filter(|n| ATTRIBUTE_PARAMS.contains(n))
        .collect();
    given.sort_unstable();
    given.dedup();
    let attribute = p.get("Attribute");
    if given.len() + usize::from(attribute.is_some()) > 1 {
        return Err(Ec2Error::client(
            "InvalidParameterCombination",
            "Change one attribute at a time",
        ));
    }
    let (name, key) = match (given.first(), attribute) {
        (Some(&"InstanceType"), _) => ("instanceType", "InstanceType.Value"),
        (Some(&"DisableApiTermination"), _) => {
            ("disableApiTermination", "DisableApiTermination.Value")
        }
        (Some(other), _) => return Err(unsupported(other)),
        (None, Some(a)) => (a, "Value"),
        (None, None) => return Err(Ec2Error::missing("InstanceType")),
    };
    match name {
        "instanceType" => Ok(Wanted::Type(p.required(key)?)),
        "disableApiTermination" => Ok(Wanted::Termination(
            p.bool(key)?.ok_or_else(|| Ec2Error::missing(key))?,
        )),
        other => Err(unsupported(other)),
    }
}

/// ModifyInstanceAttribute: the instance type of a stopped instance, or its termination
/// protection.
pub async fn modify_attribute(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let text = p.required("InstanceId")?;
    let vm = live(ctx, text)?;
    match wanted(p)? {
        Wanted::Type(name) => change_type(ctx, text, &vm, name).await?,
        Wanted::Termination(on) => {
            ctx.may::<Vm>(vm.meta.id, AuthOp::Manage)?;
            ctx.proceed()?;
            ctx.edit::<Vm, _>(vm.meta.id, move |t| {
                if on {
                    t.set(DISABLE_API_TERMINATION, "YES");
                } else {
                    t.remove(DISABLE_API_TERMINATION);
                }
                Ok(())
            })
            .await?;
        }
    }
    x.flag("return", true);
    Ok(())
}

/// Resizes the stopped instance `vm` (named `text`) to instance type `wanted`.
async fn change_type(ctx: &Ctx, text: &str, vm: &Vm, wanted: &str) -> Ec2Result<()> {
    let itype = instance_types::find(ctx, wanted)?;
    ctx.may::<Vm>(vm.meta.id, AuthOp::Manage)?;
    if state_of(vm).1 != "stopped" {
        return Err(Ec2Error::client(
            "IncorrectInstanceState",
            format!("The instance '{text}' is not in the 'stopped' state."),
        ));
    }
    ctx.proceed()?;
    // The size a launch of the type gets: its template's CPU, VCPU (1 when it says none)
    // and MEMORY.
    let t = &itype.template.template;
    let given = |k: &str| t.get(k).map(str::trim).filter(|v| !v.is_empty());
    let mut sizes = format!("VCPU={}\n", given("VCPU").unwrap_or("1"));
    for k in ["CPU", "MEMORY"] {
        if let Some(v) = given(k) {
            sizes.push_str(&format!("{k}={v}\n"));
        }
    }
    ctx.core
        .vm_resize(&ctx.caller, vm.meta.id, &sizes, true)
        .await
        .map_err(|e| match e {
            nubo_types::Error::Action { message } if message.contains("capacity") => {
                Ec2Error::client("InsufficientInstanceCapacity", message)
            }
            // DispatchManager::resize's "Cannot resize a VM in state S"
            nubo_types::Error::Action { message }
                if message.contains("wrong state") || message.contains("in state") =>
            {
                Ec2Error::client("IncorrectInstanceState", message)
            }
            nubo_types::Error::Action { message } => Ec2Error::invalid(
                "InstanceType",
                &itype.name,
                format!("Its template cannot size a VM: {message}"),
            ),
            other => other.into(),
        })?;
    let name = itype.name.clone();
    ctx.edit::<Vm, _>(vm.meta.id, move |t| {
        t.set(instance_types::ATTR, name);
        Ok(())
    })
    .await?;
    Ok(())
}

/// `UnsupportedOperation` for an attribute Nubo does not change over EC2.
fn unsupported(attribute: &str) -> Ec2Error {
    Ec2Error::client(
        "UnsupportedOperation",
        format!(
            "Nubo changes only an instance's type and disableApiTermination over EC2, not {attribute}"
        ),
    )
}
