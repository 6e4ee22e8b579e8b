//! A VM described by flags (`--cpu 1 --memory 2G --image debian --network private`), turned
//! into OpenNebula template text; shared by `nubo vm create`, `nubo template create` and
//! `nubo template instantiate`.

use clap::Args;
use nubo_client::nouns::{Image, Vnet};
use nubo_template::{Attribute, Template, Value};

use crate::common;
use crate::context::Ctx;
use crate::exit::usage_error;
use crate::input::megabytes;

/// Capacity, disks and networks of a VM.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// NAME of the VM (with --count, %i in it becomes 0, 1, 2…).
    #[arg(long, short)]
    pub name: Option<String>,
    /// CPU: the share of physical CPUs, e.g. 0.5 or 2.
    #[arg(long, value_parser = cpu)]
    pub cpu: Option<String>,
    /// VCPU: the number of virtual CPUs the guest sees.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub vcpu: Option<u32>,
    /// MEMORY in MB, or with a unit: 512M, 2G.
    #[arg(long, value_parser = megabytes, value_name = "SIZE")]
    pub memory: Option<u64>,
    /// A disk from this image, by id or name; repeat for more disks.
    #[arg(long = "image", value_name = "IMAGE")]
    pub images: Vec<String>,
    /// A NIC on this virtual network, by id or name; repeat for more NICs.
    #[arg(long = "network", value_name = "VNET")]
    pub networks: Vec<String>,
    /// Run only on hosts of this hypervisor (`kvm`, `lxc` for a container, `dummy`): sets
    /// SCHED_REQUIREMENTS="HYPERVISOR=NAME".
    #[arg(long, value_name = "NAME", value_parser = hypervisor)]
    pub hypervisor: Option<String>,
}

/// A hypervisor name: letters, digits, `-` and `_` (it goes into a requirement expression).
pub fn hypervisor(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "invalid hypervisor {text:?}: expected a name such as kvm or lxc"
        ))
    }
}

/// A CPU share: a positive number.
pub fn cpu(text: &str) -> Result<String, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(text.trim().to_owned()),
        _ => Err(format!(
            "invalid CPU {text:?}: expected a positive number such as 0.5 or 2"
        )),
    }
}

impl SpecArgs {
    /// Whether no flag was given.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.cpu.is_none()
            && self.vcpu.is_none()
            && self.memory.is_none()
            && self.images.is_empty()
            && self.networks.is_empty()
            && self.hypervisor.is_none()
    }

    /// The attributes the flags set, NAME left out; images and networks that are not ids
    /// are looked up by name.
    pub fn attributes(&self, ctx: &Ctx) -> anyhow::Result<Template> {
        let mut t = Template::new();
        if let Some(cpu) = &self.cpu {
            t.push(Attribute::single("CPU", cpu.as_str()));
        }
        if let Some(vcpu) = self.vcpu {
            t.push(Attribute::single("VCPU", vcpu.to_string()));
        }
        if let Some(memory) = self.memory {
            t.push(Attribute::single("MEMORY", memory.to_string()));
        }
        for image in &self.images {
            let id = common::id::<Image>(ctx, image)?.to_string();
            t.push(Attribute::vector("DISK", [("IMAGE_ID", id)]));
        }
        for network in &self.networks {
            let id = common::id::<Vnet>(ctx, network)?.to_string();
            t.push(Attribute::vector("NIC", [("NETWORK_ID", id)]));
        }
        if let Some(hypervisor) = &self.hypervisor {
            t.push(Attribute::single(
                "SCHED_REQUIREMENTS",
                format!("HYPERVISOR={hypervisor}"),
            ));
        }
        Ok(t)
    }

    /// The name of VM number `index`: `--name` with `%i` replaced.
    pub fn name_for(&self, index: usize) -> Option<String> {
        self.name
            .as_ref()
            .map(|n| n.replace("%i", &index.to_string()))
    }
}

/// The template text of FILE (`-` for standard input), or empty; a usage error when
/// neither a file nor any flag was given (`example` shows flags that would do).
pub fn base_template(file: Option<&str>, spec: &SpecArgs, example: &str) -> anyhow::Result<String> {
    let base = file
        .map(crate::input::template)
        .transpose()?
        .unwrap_or_default();
    if base.trim().is_empty() && spec.is_empty() {
        return Err(usage_error(format!(
            "give a template FILE, or flags such as {example}"
        )));
    }
    Ok(base)
}

/// `base` (a template file's text) with `name` and `flags` (from [`SpecArgs::attributes`])
/// applied: NAME, CPU, VCPU and MEMORY replace the file's, disks and NICs are added. With
/// nothing to apply, `base` is returned as it is.
pub fn merge(base: &str, name: Option<&str>, flags: &Template) -> anyhow::Result<String> {
    if name.is_none() && flags.is_empty() {
        return Ok(base.to_owned());
    }
    let mut t = Template::parse(base)
        .map_err(|e| usage_error(format!("the template does not parse: {e}")))?;
    if let Some(name) = name {
        t.set("NAME", name);
    }
    for attr in &flags.attrs {
        match &attr.value {
            Value::Single(v) => t.set(&attr.name, v.as_str()),
            Value::Vector(_) => t.push(attr.clone()),
        }
    }
    Ok(t.to_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypervisor_names_are_checked() {
        assert_eq!(hypervisor("lxc").as_deref(), Ok("lxc"));
        assert!(hypervisor("kvm_2").is_ok());
        assert!(hypervisor("").is_err());
        assert!(hypervisor("lxc | kvm").is_err());
        assert!(hypervisor("\"x\"").is_err());
    }

    #[test]
    fn flags_replace_single_attributes_and_add_devices() {
        let mut flags = Template::new();
        flags.push(Attribute::single("MEMORY", "1024"));
        flags.push(Attribute::vector("NIC", [("NETWORK_ID", "3")]));
        let base = "NAME=\"a\"\nMEMORY=\"128\"\nNIC=[NETWORK_ID=\"1\"]\nLABEL=\"x\"\n";
        let merged = merge(base, Some("b"), &flags).expect("merge");
        let t = Template::parse(&merged).expect("parse");
        assert_eq!(t.get("NAME"), Some("b"));
        assert_eq!(t.get("MEMORY"), Some("1024"));
        assert_eq!(t.get_all("MEMORY").count(), 1);
        assert_eq!(t.vectors("NIC").count(), 2);
        assert_eq!(t.get("LABEL"), Some("x"));
        assert_eq!(
            merge("KEEP  = as-is", None, &Template::new()).expect("same"),
            "KEEP  = as-is"
        );
        assert!(merge("A=[", Some("x"), &flags).is_err());
    }

    #[test]
    fn cpu_shares_are_positive_numbers() {
        assert_eq!(cpu("0.5"), Ok("0.5".to_owned()));
        assert!(cpu("0").is_err());
        assert!(cpu("-1").is_err());
        assert!(cpu("lots").is_err());
    }
}
