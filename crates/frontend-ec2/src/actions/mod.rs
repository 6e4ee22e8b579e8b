//! The actions: each reads its parameters, calls the core as the request's user, and
//! writes the members of its `<ActionResponse>`.

mod account;
mod addresses;
mod image_attributes;
mod images;
mod instance_types;
mod instances;
mod key_pairs;
mod regions;
mod security_groups;
mod snapshots;
mod ssh_keys;
mod tagging;
mod volumes;

use nubo_core::{Caller, Core};

use crate::error::{Ec2Error, Ec2Result};
use crate::params::Params;
use crate::xml::Xml;

/// What an action runs with.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The core.
    pub core: Core,
    /// The user who signed the request.
    pub caller: Caller,
    /// This cloud's region.
    pub region: String,
    /// The Host the request was sent to (the endpoint regions report).
    pub host: String,
    /// `DryRun=true`: check everything, change nothing, answer `DryRunOperation`.
    pub dry_run: bool,
}

impl Ctx {
    /// Checks that the caller may do `op` on object `id` (403 `UnauthorizedOperation`).
    pub fn may<T: nubo_core::model::PoolObject>(
        &self,
        id: i32,
        op: nubo_types::AuthOp,
    ) -> Ec2Result<()> {
        Ok(self.core.authorize_op::<T>(&self.caller, id, op)?)
    }

    /// Edits object `id`'s template with `f` in one write. When `f` refuses, the write is
    /// dropped (nothing `f` did is kept) and its EC2 error is the answer.
    pub async fn edit<T: nubo_core::model::Templated, R: Send + 'static>(
        &self,
        id: i32,
        f: impl FnOnce(&mut nubo_template::Template) -> Ec2Result<R>,
    ) -> Ec2Result<R> {
        let mut refused = None;
        let outcome = self
            .core
            .edit_template::<T, _>(&self.caller, id, |t| {
                f(t).map_err(|e| {
                    refused = Some(e);
                    nubo_types::Error::api("refused by the EC2 front end")
                })
            })
            .await;
        match refused {
            Some(e) => Err(e),
            None => Ok(outcome?),
        }
    }

    /// Checks that `tags` may be set on a new object (keys, values, how many).
    pub fn check_new_tags(&self, tags: &[(String, String)]) -> Ec2Result<()> {
        crate::tags::add(&mut nubo_template::Template::new(), tags)
    }

    /// Whether an object of user `uid` is among `owners` (`Owner.N`: `self` or account ids;
    /// none given: every owner).
    pub fn owned_by(&self, owners: &[&str], uid: i32) -> bool {
        owners.is_empty()
            || owners.iter().any(|o| match *o {
                "self" => uid == self.caller.uid,
                account => account.parse::<i32>().ok() == Some(uid),
            })
    }

    /// Marks the point after which an action changes things: on a dry run the action
    /// stops here, having checked its parameters, objects and rights.
    pub fn proceed(&self) -> Ec2Result<()> {
        if self.dry_run {
            return Err(Ec2Error::dry_run());
        }
        Ok(())
    }
}

/// Every action this front end knows.
pub(crate) const ACTIONS: &[&str] = &[
    "DescribeRegions",
    "DescribeAvailabilityZones",
    "DescribeAccountAttributes",
    "DescribeInstanceTypes",
    "RunInstances",
    "DescribeInstances",
    "DescribeInstanceStatus",
    "StartInstances",
    "StopInstances",
    "RebootInstances",
    "TerminateInstances",
    "DescribeImages",
    "RegisterImage",
    "DeregisterImage",
    "CreateImage",
    "CreateKeyPair",
    "ImportKeyPair",
    "DescribeKeyPairs",
    "DeleteKeyPair",
    "CreateSecurityGroup",
    "DescribeSecurityGroups",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "DeleteSecurityGroup",
    "CreateVolume",
    "DescribeVolumes",
    "AttachVolume",
    "DetachVolume",
    "DeleteVolume",
    "CreateSnapshot",
    "DescribeSnapshots",
    "DeleteSnapshot",
    "AllocateAddress",
    "DescribeAddresses",
    "AssociateAddress",
    "DisassociateAddress",
    "ReleaseAddress",
    "CreateTags",
    "DeleteTags",
    "DescribeTags",
    "GetConsoleOutput",
    "DescribeInstanceAttribute",
    "ModifyInstanceAttribute",
    "GetPasswordData",
    "DescribeImageAttribute",
    "ModifyImageAttribute",
    "ResetImageAttribute",
];

/// Runs `action`, writing its reply members into `x`; refuses a request any of whose
/// parameters holds a character XML cannot carry ([`Params::check`]).
pub async fn dispatch(ctx: &Ctx, action: &str, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    p.check()?;
    if !ACTIONS.contains(&action) {
        return Err(Ec2Error::client(
            "InvalidAction",
            format!("The action {action} is not valid for this web service."),
        ));
    }
    let outcome = run(ctx, action, p, x).await;
    // Actions that change things stop at `Ctx::proceed` on a dry run; a Describe only reads.
    if ctx.dry_run && outcome.is_ok() {
        return Err(Ec2Error::dry_run());
    }
    outcome
}

async fn run(ctx: &Ctx, action: &str, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    match action {
        "DescribeRegions" => regions::describe_regions(ctx, p, x),
        "DescribeAvailabilityZones" => regions::describe_zones(ctx, p, x),
        "DescribeAccountAttributes" => account::describe_attributes(ctx, p, x),
        "DescribeInstanceTypes" => instance_types::describe(ctx, p, x),
        "RunInstances" => instances::run(ctx, p, x).await,
        "DescribeInstances" => instances::describe(ctx, p, x),
        "DescribeInstanceStatus" => instances::describe_status(ctx, p, x),
        "StartInstances" => instances::change(ctx, p, x, instances::Change::Start).await,
        "StopInstances" => instances::change(ctx, p, x, instances::Change::Stop).await,
        "TerminateInstances" => instances::change(ctx, p, x, instances::Change::Terminate).await,
        "RebootInstances" => instances::reboot(ctx, p, x).await,
        "DescribeImages" => images::describe(ctx, p, x),
        "RegisterImage" => images::register(ctx, p, x).await,
        "DeregisterImage" => images::deregister(ctx, p, x).await,
        "CreateImage" => images::create(ctx, p, x).await,
        "CreateKeyPair" => key_pairs::create(ctx, p, x).await,
        "ImportKeyPair" => key_pairs::import(ctx, p, x).await,
        "DescribeKeyPairs" => key_pairs::describe(ctx, p, x),
        "DeleteKeyPair" => key_pairs::delete(ctx, p, x).await,
        "CreateSecurityGroup" => security_groups::create(ctx, p, x).await,
        "DescribeSecurityGroups" => security_groups::describe(ctx, p, x),
        "AuthorizeSecurityGroupIngress" => security_groups::authorize(ctx, p, x, false).await,
        "AuthorizeSecurityGroupEgress" => security_groups::authorize(ctx, p, x, true).await,
        "RevokeSecurityGroupIngress" => security_groups::revoke(ctx, p, x, false).await,
        "RevokeSecurityGroupEgress" => security_groups::revoke(ctx, p, x, true).await,
        "DeleteSecurityGroup" => security_groups::delete(ctx, p, x).await,
        "CreateVolume" => volumes::create(ctx, p, x).await,
        "DescribeVolumes" => volumes::describe(ctx, p, x),
        "AttachVolume" => volumes::attach(ctx, p, x).await,
        "DetachVolume" => volumes::detach(ctx, p, x).await,
        "DeleteVolume" => volumes::delete(ctx, p, x).await,
        "CreateSnapshot" => snapshots::create(ctx, p, x).await,
        "DescribeSnapshots" => snapshots::describe(ctx, p, x),
        "DeleteSnapshot" => snapshots::delete(ctx, p, x).await,
        "AllocateAddress" => addresses::allocate(ctx, p, x).await,
        "DescribeAddresses" => addresses::describe(ctx, p, x),
        "AssociateAddress" => addresses::associate(ctx, p, x).await,
        "DisassociateAddress" => addresses::disassociate(ctx, p, x).await,
        "ReleaseAddress" => addresses::release(ctx, p, x).await,
        "CreateTags" => tagging::create(ctx, p, x).await,
        "DeleteTags" => tagging::delete(ctx, p, x).await,
        "DescribeTags" => tagging::describe(ctx, p, x),
        "GetConsoleOutput" => instances::console_output(ctx, p, x).await,
        "DescribeInstanceAttribute" => instances::describe_attribute(ctx, p, x),
        "ModifyInstanceAttribute" => instances::modify_attribute(ctx, p, x).await,
        "GetPasswordData" => instances::password_data(ctx, p, x),
        "DescribeImageAttribute" => image_attributes::describe(ctx, p, x),
        "ModifyImageAttribute" => image_attributes::modify(ctx, p, x).await,
        "ResetImageAttribute" => image_attributes::reset(ctx, p, x).await,
        _ => Err(Ec2Error::internal(format!("no handler for {action}"))),
    }
}

/// `TagSpecification.N.*` tags for resources of `kind` (`instance`, `image`, …).
pub fn tag_specifications(p: &Params, kind: &str) -> Ec2Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for spec in p.structs("TagSpecification") {
        let Some(rt) = spec.get("ResourceType") else {
            return Err(Ec2Error::missing("TagSpecification.N.ResourceType"));
        };
        if rt == kind {
            out.extend(spec.tags("Tag")?);
        }
    }
    Ok(out)
}
