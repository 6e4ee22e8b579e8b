//! DescribeImageAttribute, ModifyImageAttribute and ResetImageAttribute of AMIs.
//!
//! The description is the image's `DESCRIPTION`. Launch permissions are the image's
//! permission bits: `Group=all` is OTHER USE (a public image); Nubo cannot share an image
//! with one other account, so a `UserId` other than the owner's own (who may always launch
//! it) is refused with `InvalidAMIAttributeItemValue`, as are organizations. Only the owner
//! (MANAGE) sees and changes launch permissions. The attributes Nubo images do not have
//! (kernel, ramdisk, product codes, SR-IOV, boot mode, …) are answered empty, as AWS answers
//! for an HVM image without them, and cannot be changed.

use nubo_core::model::Image;
use nubo_types::AuthOp;

use crate::error::{Ec2Error, Ec2Result};
use crate::ids::{self, IMAGE};
use crate::params::Params;
use crate::xml::Xml;

use super::Ctx;
use super::images::{find, write_block_devices};

/// Longest description AWS takes.
const MAX_DESCRIPTION: usize = 255;

/// The attributes answered empty: Nubo images have none of them.
const EMPTY: &[&str] = &[
    "kernel",
    "ramdisk",
    "sriovNetSupport",
    "bootMode",
    "tpmSupport",
    "uefiData",
    "lastLaunchedTime",
    "imdsSupport",
];

/// DescribeImageAttribute.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let text = p.required("ImageId")?;
    let attribute = p.required("Attribute")?;
    let img = find(ctx, text)?;
    let known = EMPTY.contains(&attribute)
        || matches!(
            attribute,
            "description"
                | "launchPermission"
                | "productCodes"
                | "blockDeviceMapping"
                | "deregistrationProtection"
        );
    if !known {
        return Err(unknown_attribute(attribute));
    }
    if attribute == "launchPermission" {
        ctx.may::<Image>(img.meta.id, AuthOp::Manage)?;
    }
    x.text("imageId", &IMAGE.id(img.meta.id));
    match attribute {
        "description" => match img.template.get("DESCRIPTION").filter(|d| !d.is_empty()) {
            Some(d) => {
                x.open("description").text("value", d).close("description");
            }
            None => {
                x.empty("description");
            }
        },
        "launchPermission" => {
            let public = img.meta.perms.other_allows(AuthOp::Use);
            x.list("launchPermission", public.then_some("all"), |x, g| {
                x.text("group", g);
            });
        }
        "productCodes" => {
            x.empty("productCodes");
        }
        "blockDeviceMapping" => write_block_devices(x, &img),
        "deregistrationProtection" => {
            x.open(attribute).text("value", "disabled").close(attribute);
        }
        empty => {
            x.empty(empty);
        }
    }
    Ok(())
}

/// A change of launch permissions: whether the image becomes public (`Some(true)`),
/// private (`Some(false)`) or stays as it is.
fn launch_change(p: &Params, owner: &str) -> Ec2Result<Option<bool>> {
    let mut public = None;
    let mut apply = |add: bool, group: Option<&str>, user: Option<&str>, other: Option<&str>| {
        if let Some(g) = group {
            if g != "all" {
                return Err(item_value(format!(
                    "The launch permission group '{g}' is not valid: the only group is 'all'"
                )));
            }
            if public.is_some_and(|p| p != add) {
                return Err(Ec2Error::client(
                    "InvalidParameterCombination",
                    "The group 'all' cannot be both added and removed",
                ));
            }
            public = Some(add);
        }
        if let Some(u) = user
            && u != owner
        {
            return Err(item_value(format!(
                "Nubo cannot share an image with the single account '{u}': it shares images with every account (Group=all) or none"
            )));
        }
        if let Some(o) = other {
            return Err(item_value(format!(
                "Nubo has no organizations to share an image with ('{o}')"
            )));
        }
        Ok(())
    };
    for (add, part) in [
        (true, "LaunchPermission.Add"),
        (false, "LaunchPermission.Remove"),
    ] {
        for item in p.structs(part) {
            let other = item
                .get("OrganizationArn")
                .or(item.get("OrganizationalUnitArn"));
            apply(add, item.get("Group"), item.get("UserId"), other)?;
        }
    }
    let listed = |name: &str| p.list(name);
    let (groups, users) = (listed("UserGroup"), listed("UserId"));
    let orgs: Vec<&str> = listed("OrganizationArn")
        .into_iter()
        .chain(listed("OrganizationalUnitArn"))
        .collect();
    if !(groups.is_empty() && users.is_empty() && orgs.is_empty()) {
        let add = match p.required("OperationType")? {
            "add" => true,
            "remove" => false,
            other => {
                return Err(Ec2Error::invalid(
                    "OperationType",
                    other,
                    "It must be add or remove.",
                ));
            }
        };
        for g in groups {
            apply(add, Some(g), None, None)?;
        }
        for u in users {
            apply(add, None, Some(u), None)?;
        }
        for o in orgs {
            apply(add, None, None, Some(o))?;
        }
    }
    Ok(public)
}

/// The one attribute `p` changes: `Description.Value`, `LaunchPermission.*`, or
/// `Attribute` (with `Value`, or `OperationType` and `UserGroup.N` / `UserId.N`).
fn changed_attribute(p: &Params) -> Ec2Result<String> {
    let mut given: Vec<&str> = p
        .iter()
        .map(|(n, _)| n.split('.').next().unwrap_or(n))
        .filter_map(|n| match n {
            "Description" => Some("description"),
            "LaunchPermission" => Some("launchPermission"),
            "ImdsSupport" => Some("imdsSupport"),
            "ProductCode" => Some("productCodes"),
            _ => None,
        })
        .collect();
    let launch_lists = [
        "UserGroup",
        "UserId",
        "OrganizationArn",
        "OrganizationalUnitArn",
    ];
    if p.iter()
        .any(|(n, _)| launch_lists.contains(&n.split('.').next().unwrap_or(n)))
    {
        given.push("launchPermission");
    }
    if let Some(a) = p.get("Attribute") {
        given.push(a);
    }
    given.sort_unstable();
    given.dedup();
    match given.as_slice() {
        [one] => Ok((*one).to_string()),
        [] => Err(Ec2Error::missing("Attribute")),
        _ => Err(Ec2Error::client(
            "InvalidParameterCombination",
            "You can modify only one attribute of an image at a time",
        )),
    }
}

/// ModifyImageAttribute: the description or the launch permissions.
pub async fn modify(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let text = p.required("ImageId")?;
    let img = find(ctx, text)?;
    let id = img.meta.id;
    match changed_attribute(p)?.as_str() {
        "description" => {
            let value = p
                .get("Description.Value")
                .or(p.get("Value"))
                .ok_or_else(|| Ec2Error::missing("Description.Value"))?
                .to_string();
            if value.chars().count() > MAX_DESCRIPTION {
                return Err(Ec2Error::invalid(
                    "Description",
                    &value,
                    format!("It must be at most {MAX_DESCRIPTION} characters long."),
                ));
            }
            ctx.may::<Image>(id, AuthOp::Manage)?;
            ctx.proceed()?;
            ctx.edit::<Image, _>(id, move |t| {
                if value.is_empty() {
                    t.remove("DESCRIPTION");
                } else {
                    t.set("DESCRIPTION", value);
                }
                Ok(())
            })
            .await?;
        }
        "launchPermission" => {
            let public = launch_change(p, &ids::account(img.meta.uid))?;
            ctx.may::<Image>(id, AuthOp::Manage)?;
            ctx.proceed()?;
            if let Some(public) = public {
                set_public(ctx, id, public).await?;
            }
        }
        "imdsSupport" => {
            return Err(Ec2Error::client(
                "UnsupportedOperation",
                "Nubo has no instance metadata service: imdsSupport cannot be set",
            ));
        }
        other => return Err(fixed_attribute(other)),
    }
    x.flag("return", true);
    Ok(())
}

/// ResetImageAttribute: `launchPermission`, which makes the image private.
pub async fn reset(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let text = p.required("ImageId")?;
    let attribute = p.required("Attribute")?;
    let img = find(ctx, text)?;
    if attribute != "launchPermission" {
        return Err(Ec2Error::invalid(
            "Attribute",
            attribute,
            "Only launchPermission can be reset.",
        ));
    }
    ctx.may::<Image>(img.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    set_public(ctx, img.meta.id, false).await?;
    x.flag("return", true);
    Ok(())
}

/// Sets the image's OTHER USE bit.
async fn set_public(ctx: &Ctx, id: i32, public: bool) -> Ec2Result<()> {
    let mut bits = [-1; 9];
    bits[6] = i32::from(public);
    ctx.core.chmod::<Image>(&ctx.caller, id, bits).await?;
    Ok(())
}

/// `InvalidAMIAttributeItemValue`: a launch permission Nubo cannot give.
fn item_value(message: String) -> Ec2Error {
    Ec2Error::client("InvalidAMIAttributeItemValue", message)
}

/// An attribute DescribeImageAttribute does not know.
fn unknown_attribute(attribute: &str) -> Ec2Error {
    Ec2Error::invalid("Attribute", attribute, "Unknown attribute.")
}

/// An attribute an image has but ModifyImageAttribute cannot change.
fn fixed_attribute(attribute: &str) -> Ec2Error {
    Ec2Error::invalid(
        "Attribute",
        attribute,
        "Only description and launchPermission can be modified.",
    )
}
