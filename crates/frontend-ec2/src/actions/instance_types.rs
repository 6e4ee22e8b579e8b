//! Instance types are VM templates the caller may use that carry
//! `EC2_INSTANCE_TYPE = "<name>"`; their CPU and memory are the template's. The first such
//! template (lowest id) of a name is the one RunInstances instantiates.

use std::sync::Arc;

use nubo_core::PoolFilter;
use nubo_core::model::VmTemplate;

use crate::error::{Ec2Error, Ec2Result};
use crate::filters::{Facts, Filters};
use crate::paging::Page;
use crate::params::Params;
use crate::xml::Xml;

use super::Ctx;

/// The template attribute that makes a VM template an instance type.
pub const ATTR: &str = "EC2_INSTANCE_TYPE";

/// An instance type.
#[derive(Debug, Clone)]
pub struct InstanceType {
    /// Its name.
    pub name: String,
    /// The template behind it.
    pub template: Arc<VmTemplate>,
}

impl InstanceType {
    /// Virtual CPUs: the template's VCPU, else 1 (what a VM made from it gets).
    pub fn vcpus(&self) -> i64 {
        self.template
            .template
            .get("VCPU")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v > 0)
            .unwrap_or(1)
    }

    /// Memory in MiB.
    pub fn memory_mib(&self) -> i64 {
        self.template
            .template
            .get("MEMORY")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(0)
    }
}

impl Facts for InstanceType {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "instance-type" => vec![self.name.clone()],
            "vcpu-info.default-vcpus" => vec![self.vcpus().to_string()],
            "memory-info.size-in-mib" => vec![self.memory_mib().to_string()],
            "current-generation" => vec!["true".into()],
            "hypervisor" => vec!["kvm".into()],
            "processor-info.supported-architecture" => vec!["x86_64".into()],
            _ => return None,
        })
    }
}

/// Every instance type the caller may use, by name (the first template of each name).
pub fn all(ctx: &Ctx) -> Ec2Result<Vec<InstanceType>> {
    let templates = ctx
        .core
        .pool_info::<VmTemplate>(&ctx.caller, PoolFilter::ALL)?;
    let mut out: Vec<InstanceType> = Vec::new();
    for t in templates {
        let Some(name) = t.template.get(ATTR).map(|n| n.trim().to_string()) else {
            continue;
        };
        if name.is_empty() || out.iter().any(|o| o.name == name) {
            continue;
        }
        out.push(InstanceType { name, template: t });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The instance type `name`.
pub fn find(ctx: &Ctx, name: &str) -> Ec2Result<InstanceType> {
    all(ctx)?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| {
            Ec2Error::client(
                "InvalidInstanceType",
                format!("The instance type '{name}' does not exist (no VM template you may use has {ATTR}=\"{name}\")"),
            )
        })
}

/// DescribeInstanceTypes.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    let page = Page::parse(p, 5, 100)?;
    let types = all(ctx)?;
    if let Some(sample) = types.first() {
        filters.check(&|n| sample.facts(n).is_some())?;
    }
    let names = p.list("InstanceType");
    for n in &names {
        if !types.iter().any(|t| t.name == *n) {
            return Err(Ec2Error::client(
                "InvalidInstanceType",
                format!("The following supplied instance types do not exist: [{n}]"),
            ));
        }
    }
    let chosen: Vec<&InstanceType> = types
        .iter()
        .filter(|t| (names.is_empty() || names.contains(&t.name.as_str())) && filters.matches(*t))
        .collect();
    let (chosen, next) = page.cut(chosen);
    x.list("instanceTypeSet", chosen, |x, t| {
        x.text("instanceType", &t.name)
            .flag("currentGeneration", true)
            .flag("freeTierEligible", false)
            .strings("supportedUsageClasses", ["on-demand"])
            .strings("supportedRootDeviceTypes", ["ebs"])
            .strings("supportedVirtualizationTypes", ["hvm"]);
        x.flag("bareMetal", false)
            .text("hypervisor", "kvm")
            .open("processorInfo")
            .strings("supportedArchitectures", ["x86_64"])
            .close("processorInfo")
            .open("vCpuInfo")
            .num("defaultVCpus", t.vcpus())
            .close("vCpuInfo")
            .open("memoryInfo")
            .num("sizeInMiB", t.memory_mib())
            .close("memoryInfo");
    });
    x.opt("nextToken", next.as_deref());
    Ok(())
}
