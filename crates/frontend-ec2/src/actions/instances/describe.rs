//! DescribeInstances (reservations, filters, pages) and DescribeInstanceStatus.

use nubo_core::model::Vm;
use nubo_types::states::LcmState;

use crate::error::{Ec2Error, Ec2Result};
use crate::filters::{Facts, Filters};
use crate::paging::Page;
use crate::params::Params;
use crate::xml::Xml;

use super::{Ctx, Instance, selected, state_of, write_reservations};

/// DescribeInstances.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    let page = Page::parse(p, 5, 1000)?;
    let (instances, by_id) = selected(ctx, p)?;
    if by_id && page.limited() {
        return Err(Ec2Error::client(
            "InvalidParameterCombination",
            "The parameter instancesSet cannot be used with the parameter maxResults",
        ));
    }
    filters.check(&|n| instance_filter_known(n))?;
    let chosen: Vec<Instance> = instances
        .into_iter()
        .filter(|i| filters.matches(i))
        .collect();
    let (chosen, next) = page.cut(chosen);
    write_reservations(x, &chosen);
    x.opt("nextToken", next.as_deref());
    Ok(())
}

fn instance_filter_known(name: &str) -> bool {
    name.starts_with("tag:")
        || matches!(
            name,
            "instance-id"
                | "instance-state-name"
                | "instance-state-code"
                | "instance-type"
                | "image-id"
                | "key-name"
                | "availability-zone"
                | "private-ip-address"
                | "ip-address"
                | "dns-name"
                | "private-dns-name"
                | "reservation-id"
                | "client-token"
                | "launch-time"
                | "owner-id"
                | "instance.group-id"
                | "group-id"
                | "instance.group-name"
                | "group-name"
                | "architecture"
                | "hypervisor"
                | "root-device-type"
                | "tag-key"
                | "tag-value"
        )
}

/// `systemStatus` / `instanceStatus` of a VM.
fn health(vm: &Vm) -> &'static str {
    match state_of(vm).1 {
        "running" if vm.lcm_state == LcmState::Unknown => "impaired",
        "running" => "ok",
        "pending" => "initializing",
        _ => "not-applicable",
    }
}

/// DescribeInstanceStatus.
pub fn describe_status(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    let page = Page::parse(p, 5, 1000)?;
    let all = p.bool("IncludeAllInstances")?.unwrap_or(false);
    let (instances, by_id) = selected(ctx, p)?;
    if by_id && page.limited() {
        return Err(Ec2Error::client(
            "InvalidParameterCombination",
            "The parameter instancesSet cannot be used with the parameter maxResults",
        ));
    }
    let known = |n: &str| {
        matches!(
            n,
            "availability-zone"
                | "instance-state-name"
                | "instance-state-code"
                | "instance-status.status"
                | "system-status.status"
        )
    };
    filters.check(&known)?;
    struct Status<'a>(&'a Instance);
    impl Facts for Status<'_> {
        fn facts(&self, name: &str) -> Option<Vec<String>> {
            match name {
                "instance-status.status" | "system-status.status" => {
                    Some(vec![health(&self.0.vm).to_string()])
                }
                n => self.0.facts(n),
            }
        }
    }
    let chosen: Vec<&Instance> = instances
        .iter()
        .filter(|i| all || state_of(&i.vm).1 == "running")
        .filter(|i| filters.matches(&Status(i)))
        .collect();
    let (chosen, next) = page.cut(chosen);
    x.list("instanceStatusSet", chosen, |x, i| {
        let (code, name) = state_of(&i.vm);
        let status = health(&i.vm);
        x.text("instanceId", &i.id())
            .text("availabilityZone", &i.zone)
            .open("instanceState")
            .num("code", code)
            .text("name", name)
            .close("instanceState");
        for which in ["systemStatus", "instanceStatus"] {
            x.open(which).text("status", status).list(
                "details",
                (status != "not-applicable").then_some(status),
                |x, s| {
                    x.text("name", "reachability").text(
                        "status",
                        match s {
                            "ok" => "passed",
                            "impaired" => "failed",
                            _ => "initializing",
                        },
                    );
                },
            );
            x.close(which);
        }
    });
    x.opt("nextToken", next.as_deref());
    Ok(())
}
