//! Instances are Nubo VMs, seen the EC2 way: EC2's state of a VM, the instance's
//! attributes (its type, image, key, reservation, zone, security groups, tags) and their
//! XML, the filters they answer, and which VMs a request names. Terminated (DONE) VMs stay
//! visible for an hour, as on EC2.

mod attributes;
mod block_devices;
mod change;
mod console;
mod describe;
mod password;
mod run;

pub use attributes::{describe_attribute, modify_attribute};
pub use change::{Change, change, reboot};
pub use console::console_output;
pub use describe::{describe, describe_status};
pub use password::password_data;
pub use run::run;

use std::sync::Arc;

use nubo_core::PoolFilter;
use nubo_core::model::{SecGroup, Vm};
use nubo_types::states::{LcmState, VmState};

use crate::error::{Ec2Error, Ec2Result};
use crate::filters::{Facts, tag_facts};
use crate::ids::{self, IMAGE, INSTANCE};
use crate::params::Params;
use crate::tags;
use crate::xml::Xml;

use super::{Ctx, instance_types};

/// The device name of every instance's root disk.
const ROOT_DEVICE: &str = "/dev/vda";

/// How long a terminated instance stays visible (seconds).
const TERMINATED_VISIBLE: i64 = 3600;

/// User-template attributes RunInstances leaves on a VM.
const RESERVATION: &str = "EC2_RESERVATION_ID";
const CLIENT_TOKEN: &str = "EC2_CLIENT_TOKEN";
const KEY_NAME: &str = "EC2_KEY_NAME";
const LAUNCH_INDEX: &str = "EC2_LAUNCH_INDEX";
const IMAGE_ID: &str = "EC2_IMAGE_ID";
/// `YES` when the instance is protected from TerminateInstances (`disableApiTermination`).
const DISABLE_API_TERMINATION: &str = "EC2_DISABLE_API_TERMINATION";

/// EC2's state (code, name) of a VM.
pub fn state_of(vm: &Vm) -> (i32, &'static str) {
    use LcmState as L;
    const PENDING: (i32, &str) = (0, "pending");
    const RUNNING: (i32, &str) = (16, "running");
    const SHUTTING_DOWN: (i32, &str) = (32, "shutting-down");
    const TERMINATED: (i32, &str) = (48, "terminated");
    const STOPPING: (i32, &str) = (64, "stopping");
    const STOPPED: (i32, &str) = (80, "stopped");
    match vm.state {
        VmState::Init | VmState::Pending | VmState::Hold | VmState::Cloning => PENDING,
        VmState::Done => TERMINATED,
        VmState::Stopped | VmState::Suspended | VmState::Poweroff | VmState::Undeployed => STOPPED,
        VmState::Failed | VmState::CloningFailure => STOPPED,
        VmState::Active => match vm.lcm_state {
            L::LcmInit
            | L::Prolog
            | L::Boot
            | L::BootUnknown
            | L::BootPoweroff
            | L::BootSuspended
            | L::BootStopped
            | L::BootUndeploy
            | L::PrologResume
            | L::PrologUndeploy => PENDING,
            L::ShutdownPoweroff
            | L::ShutdownUndeploy
            | L::SaveStop
            | L::SaveSuspend
            | L::EpilogStop
            | L::EpilogUndeploy
            | L::EpilogStopFailure
            | L::EpilogUndeployFailure => STOPPING,
            // SHUTDOWN is terminate's clean shutdown (poweroff and undeploy have their own).
            L::Shutdown | L::Epilog | L::EpilogFailure | L::CleanupDelete | L::CleanupResubmit => {
                SHUTTING_DOWN
            }
            L::BootFailure
            | L::PrologFailure
            | L::BootUndeployFailure
            | L::BootStoppedFailure
            | L::PrologResumeFailure
            | L::PrologUndeployFailure => STOPPED,
            _ => RUNNING,
        },
    }
}

/// Why a VM is where it is, when that is a failure (`stateReason`).
fn state_reason(vm: &Vm) -> Option<String> {
    let failed = vm.state == VmState::Failed || vm.lcm_state.name().ends_with("_FAILURE");
    failed.then(|| {
        let msg = vm.user_template.get("ERROR").unwrap_or(vm.lcm_state.name());
        format!("Server.InternalError: {msg}")
    })
}

/// A VM as EC2 sees it.
pub struct Instance {
    vm: Arc<Vm>,
    tags: Vec<(String, String)>,
    zone: String,
    groups: Vec<(i32, String)>,
    public_ip: Option<String>,
}

impl Instance {
    fn new(ctx: &Ctx, vm: Arc<Vm>) -> Instance {
        let tags = tags::read(&vm.user_template);
        let cid = vm.history.last().map(|h| h.cid);
        let zone = cid
            .and_then(|cid| {
                ctx.core
                    .cluster_names()
                    .ok()?
                    .into_iter()
                    .find(|(id, _)| *id == cid)
                    .map(|(_, n)| n)
            })
            .unwrap_or_default();
        let ids: Vec<i32> = vm
            .template
            .vectors("NIC")
            .filter_map(|n| value(n, "SECURITY_GROUPS"))
            .flat_map(|g| {
                g.split(',')
                    .filter_map(|i| i.trim().parse::<i32>().ok())
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut groups: Vec<(i32, String)> = Vec::new();
        for id in ids {
            if groups.iter().any(|(g, _)| *g == id) {
                continue;
            }
            // A group the caller may not see keeps its name to itself.
            let name = ctx
                .core
                .info::<SecGroup>(&ctx.caller, id)
                .map(|g| g.meta.name.clone())
                .unwrap_or_default();
            groups.push((id, name));
        }
        let public_ip = super::addresses::public_ip_of(ctx, &vm);
        Instance {
            vm,
            tags,
            zone,
            groups,
            public_ip,
        }
    }

    fn id(&self) -> String {
        INSTANCE.id(self.vm.meta.id)
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.vm.user_template.get(name).filter(|v| !v.is_empty())
    }

    fn reservation(&self) -> String {
        self.attr(RESERVATION)
            .map(str::to_string)
            .unwrap_or_else(|| ids::RESERVATION.id(self.vm.meta.id))
    }

    fn image_id(&self) -> Option<String> {
        if let Some(id) = self.attr(IMAGE_ID) {
            return Some(id.to_string());
        }
        self.vm
            .template
            .vectors("DISK")
            .next()
            .and_then(|d| value(d, "IMAGE_ID"))
            .and_then(|i| i.trim().parse::<i32>().ok())
            .map(|i| IMAGE.id(i))
    }

    fn private_ip(&self) -> Option<&str> {
        self.vm.template.vectors("NIC").find_map(|n| value(n, "IP"))
    }

    /// Whether TerminateInstances must leave the instance alone (`disableApiTermination`).
    fn termination_protected(&self) -> bool {
        self.attr(DISABLE_API_TERMINATION)
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    }

    fn instance_type(&self) -> &str {
        self.attr(instance_types::ATTR).unwrap_or("")
    }
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

impl Facts for Instance {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: Option<&str>| v.map(|v| vec![v.to_string()]).unwrap_or_default();
        let (code, state) = state_of(&self.vm);
        Some(match name {
            "instance-id" => vec![self.id()],
            "instance-state-name" => vec![state.into()],
            "instance-state-code" => vec![code.to_string()],
            "instance-type" => vec![self.instance_type().into()],
            "image-id" => self.image_id().into_iter().collect(),
            "key-name" => one(self.attr(KEY_NAME)),
            "availability-zone" => vec![self.zone.clone()],
            "private-ip-address" => one(self.private_ip()),
            "ip-address" => self.public_ip.clone().into_iter().collect(),
            "dns-name" | "private-dns-name" => vec![],
            "reservation-id" => vec![self.reservation()],
            "client-token" => one(self.attr(CLIENT_TOKEN)),
            "launch-time" => vec![crate::xml::iso8601(self.vm.stime)],
            "owner-id" => vec![ids::account(self.vm.meta.uid)],
            "instance.group-id" | "group-id" => self
                .groups
                .iter()
                .map(|(id, _)| ids::SECURITY_GROUP.id(*id))
                .collect(),
            "instance.group-name" | "group-name" => {
                self.groups.iter().map(|(_, n)| n.clone()).collect()
            }
            "architecture" => vec!["x86_64".into()],
            "hypervisor" => vec!["kvm".into()],
            "root-device-type" => vec!["ebs".into()],
            n => return tag_facts(&self.tags, n),
        })
    }
}

/// The VMs that DescribeInstances may show: the caller's, not terminated over an hour ago.
fn visible(ctx: &Ctx) -> Ec2Result<Vec<Arc<Vm>>> {
    let now = nubo_core::now();
    Ok(ctx
        .core
        .vm_pool_info(&ctx.caller, PoolFilter::ALL, -2)?
        .into_iter()
        .filter(|vm| shown(vm, now))
        .collect())
}

/// Whether EC2 shows `vm` at `now`: terminated instances stay for an hour.
fn shown(vm: &Vm, now: i64) -> bool {
    vm.state != VmState::Done || vm.etime + TERMINATED_VISIBLE >= now
}

/// The VM instance `text` names, terminated ones included while they are shown.
fn visible_one(ctx: &Ctx, text: &str) -> Ec2Result<Arc<Vm>> {
    let now = nubo_core::now();
    one_where(ctx, text, |vm| shown(vm, now))
}

/// The VM instance `text` names, unless it is unknown to the caller or terminated.
pub fn live(ctx: &Ctx, text: &str) -> Ec2Result<Arc<Vm>> {
    one_where(ctx, text, |vm| vm.state != VmState::Done)
}

/// The VM instance `text` names, if the caller sees it and it is `wanted`.
fn one_where(ctx: &Ctx, text: &str, wanted: impl Fn(&Vm) -> bool) -> Ec2Result<Arc<Vm>> {
    let id = INSTANCE.parse(text)?;
    ctx.core
        .info::<Vm>(&ctx.caller, id)
        .ok()
        .filter(|vm| wanted(vm))
        .ok_or_else(|| not_found(text))
}

/// The instances named by `InstanceId.N` (all of them must exist), or every visible one.
fn selected(ctx: &Ctx, p: &Params) -> Ec2Result<(Vec<Instance>, bool)> {
    let wanted = p.list("InstanceId");
    let ids = wanted
        .iter()
        .map(|w| INSTANCE.parse(w))
        .collect::<Ec2Result<Vec<_>>>()?;
    let vms = visible(ctx)?;
    if ids.is_empty() {
        return Ok((
            vms.into_iter().map(|vm| Instance::new(ctx, vm)).collect(),
            false,
        ));
    }
    let mut out = Vec::new();
    for (id, text) in ids.iter().zip(&wanted) {
        let vm = vms
            .iter()
            .find(|vm| vm.meta.id == *id)
            .ok_or_else(|| not_found(text))?;
        out.push(Instance::new(ctx, vm.clone()));
    }
    Ok((out, true))
}

/// `InvalidInstanceID.NotFound` for `id`.
pub fn not_found(id: &str) -> Ec2Error {
    INSTANCE.unknown_id(id)
}

fn write_instance(x: &mut Xml, i: &Instance) {
    let vm = &i.vm;
    let (code, name) = state_of(vm);
    x.text("instanceId", &i.id())
        .opt("imageId", i.image_id().as_deref())
        .open("instanceState")
        .num("code", code)
        .text("name", name)
        .close("instanceState")
        .text("privateDnsName", "")
        .text("dnsName", "")
        .text("reason", "")
        .opt("keyName", i.attr(KEY_NAME))
        .num(
            "amiLaunchIndex",
            i.attr(LAUNCH_INDEX)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0),
        )
        .empty("productCodes")
        .text("instanceType", i.instance_type())
        .time("launchTime", vm.stime)
        .open("placement")
        .text("availabilityZone", &i.zone)
        .text("tenancy", "default")
        .close("placement")
        .open("monitoring")
        .text("state", "disabled")
        .close("monitoring")
        .opt("privateIpAddress", i.private_ip())
        .opt("ipAddress", i.public_ip.as_deref())
        .text("architecture", "x86_64")
        .text("rootDeviceType", "ebs")
        .text("rootDeviceName", ROOT_DEVICE);
    write_groups(x, i);
    write_block_devices(x, vm);
    x.text("virtualizationType", "hvm")
        .opt("clientToken", i.attr(CLIENT_TOKEN))
        .tags(&i.tags)
        .text("hypervisor", "kvm");
    if let Some(reason) = state_reason(vm) {
        x.open("stateReason")
            .text("code", "Server.InternalError")
            .text("message", &reason)
            .close("stateReason");
    }
}

/// `groupSet`: the instance's security groups.
fn write_groups(x: &mut Xml, i: &Instance) {
    x.list("groupSet", &i.groups, |x, (id, name)| {
        x.text("groupId", &ids::SECURITY_GROUP.id(*id))
            .text("groupName", name);
    });
}

/// `blockDeviceMapping`: the VM's disks under their device names.
fn write_block_devices(x: &mut Xml, vm: &Vm) {
    x.list("blockDeviceMapping", vm.template.vectors("DISK"), |x, d| {
        let device = value(d, super::volumes::DEVICE)
            .map(str::to_string)
            .unwrap_or_else(|| format!("/dev/{}", value(d, "TARGET").unwrap_or("vda")));
        x.text("deviceName", &device)
            .open("ebs")
            .opt("volumeId", volume_of(d).as_deref())
            .text("status", "attached")
            .time("attachTime", vm.stime)
            .flag("deleteOnTermination", value(d, "PERSISTENT") != Some("YES"))
            .close("ebs");
    });
}

/// The volume id of a VM disk made from a persistent image (a volume); none otherwise.
fn volume_of(disk: &[(String, String)]) -> Option<String> {
    if value(disk, "PERSISTENT") != Some("YES") {
        return None;
    }
    let id = value(disk, "IMAGE_ID")?.trim().parse::<i32>().ok()?;
    Some(format!("vol-{id:08}"))
}

/// Instances grouped by reservation, in order of first appearance.
fn write_reservations(x: &mut Xml, instances: &[Instance]) {
    let mut groups: Vec<(String, Vec<&Instance>)> = Vec::new();
    for i in instances {
        let r = i.reservation();
        match groups.iter_mut().find(|(id, _)| *id == r) {
            Some((_, members)) => members.push(i),
            None => groups.push((r, vec![i])),
        }
    }
    x.list("reservationSet", groups, |x, (r, members)| {
        x.text("reservationId", &r)
            .text("ownerId", &ids::account(members[0].vm.meta.uid))
            .empty("groupSet")
            .list("instancesSet", members, write_instance);
    });
}
