//! Changes to a VM in place: disk and NIC hotplug, NIC updates and security groups, VM
//! and disk snapshots, disk resize and save-as, CPU/memory resize, `updateconf`.
//!
//! A change the hypervisor must carry out is staged with the VM in a hotplug phase and a
//! [`PendingChange`] that says how to finish it (driver success) or undo it (failure);
//! [`commit`] and [`rollback`] are run by the life-cycle effects. Resources a change takes
//! (leases, images, quota) are taken when it is asked for, so a refusal changes nothing.

use nubo_lifecycle::{Event, Reconfig};
use nubo_template::{Attribute, Template, Value};
use nubo_types::states::{ImageState, LcmState, VmState};
use nubo_types::{AuthOp, Error, Oid, Result};

use super::resources::{self, Taken, get, set};
use super::transition::apply_event;
use crate::Core;
use crate::auth::Caller;
use crate::model::{DiskSnapshots, Host, Image, ImageSnapshot, PendingChange, QuotaKind, Vm};
use crate::now;
use crate::ops::generic::{fetch_for, parse_template};
use crate::ops::quota::charge_owners;
use crate::tx::Tx;

type Pairs = Vec<(String, String)>;

fn wrong_state(what: &str, vm: &Vm) -> Error {
    Error::action(format!(
        "Error performing \"{what}\" on virtual machine [{}]: wrong state {}/{}",
        vm.meta.id,
        vm.state.name(),
        vm.lcm_state.name()
    ))
}

/// Whether the life cycle allows `r` now.
fn allowed(vm: &Vm, r: Reconfig) -> bool {
    nubo_lifecycle::next((vm.state, vm.lcm_state), Event::Reconfig(r)).is_ok()
}

/// Index (in the template) of the vector `name` whose `key` is `id`.
fn find(t: &Template, name: &str, key: &str, id: i32) -> Option<usize> {
    let want = id.to_string();
    t.attrs.iter().position(|a| {
        a.name == name
            && a.value
                .as_vector()
                .is_some_and(|p| get(p, key) == Some(&want))
    })
}

fn vector_mut(t: &mut Template, at: usize) -> Option<&mut Pairs> {
    match t.attrs.get_mut(at).map(|a| &mut a.value) {
        Some(Value::Vector(p)) => Some(p),
        _ => None,
    }
}

fn no_disk(vm: Oid, disk: i32) -> Error {
    Error::action(format!("VM {vm} has no DISK with DISK_ID {disk}"))
}

fn no_nic(vm: Oid, nic: i32) -> Error {
    Error::action(format!("VM {vm} has no NIC with NIC_ID {nic}"))
}

/// The next free id of `key` among the `name` vectors.
fn next_id(t: &Template, name: &str, key: &str) -> i32 {
    t.vectors(name)
        .filter_map(|p| get(p, key).and_then(|v| v.parse::<i32>().ok()))
        .max()
        .map_or(0, |m| m + 1)
}

/// Re-charges the VM's SYSTEM_DISK_SIZE quota after its disks changed from `before` MB.
fn recharge_system_disk(tx: &mut Tx, vm: &Vm, before: i64) -> Result<()> {
    let delta = resources::system_disk_mb(&vm.template) - before;
    if delta == 0 {
        return Ok(());
    }
    charge_owners(
        tx,
        vm.meta.uid,
        vm.meta.gid,
        QuotaKind::Vm,
        -1,
        &[("SYSTEM_DISK_SIZE", delta as f64)],
    )
}

/// Finishes the pending change of `vm` after its driver operation succeeded.
pub(crate) fn commit(tx: &mut Tx, vm: &mut Vm) -> Result<()> {
    let Some(change) = vm.pending.take() else {
        return Ok(());
    };
    match change {
        PendingChange::AttachDisk { disk_id } => clear_attach(vm, "DISK", "DISK_ID", disk_id),
        PendingChange::AttachNic { nic_id } => clear_attach(vm, "NIC", "NIC_ID", nic_id),
        PendingChange::DetachDisk { disk_id } => {
            if let Some(at) = find(&vm.template, "DISK", "DISK_ID", disk_id) {
                let before = resources::system_disk_mb(&vm.template);
                let attr = vm.template.attrs.remove(at);
                resources::release_disk(tx, vm, attr.value.as_vector().unwrap_or_default())?;
                vm.disk_snapshots.retain(|s| s.disk_id != disk_id);
                recharge_system_disk(tx, vm, before)?;
            }
        }
        PendingChange::DetachNic { nic_id } => {
            if let Some(at) = find(&vm.template, "NIC", "NIC_ID", nic_id) {
                let pairs = vm.template.attrs[at]
                    .value
                    .as_vector()
                    .unwrap_or_default()
                    .to_vec();
                resources::release_nic(tx, vm, &pairs)?;
                vm.template.attrs.remove(at);
            }
        }
        PendingChange::UpdateNic { .. }
        | PendingChange::DiskResize { .. }
        | PendingChange::Resize { .. } => {}
        PendingChange::SnapshotCreate { snap_id, name } => {
            for snap in vm
                .template
                .attrs
                .iter_mut()
                .filter(|a| a.name == "SNAPSHOT")
            {
                if let Value::Vector(p) = &mut snap.value {
                    p.retain(|(k, _)| k != "ACTIVE");
                }
            }
            let pairs = [
                ("ACTIVE", "YES".to_string()),
                ("HYPERVISOR_ID", format!("snap-{snap_id}")),
                ("NAME", name),
                ("SNAPSHOT_ID", snap_id.to_string()),
                ("SYSTEM_DISK_SIZE", "0".to_string()),
                ("TIME", now().to_string()),
            ];
            push_system(vm, Attribute::vector("SNAPSHOT", pairs));
        }
        PendingChange::SnapshotRevert { snap_id } => {
            let want = snap_id.to_string();
            for snap in vm
                .template
                .attrs
                .iter_mut()
                .filter(|a| a.name == "SNAPSHOT")
            {
                if let Value::Vector(p) = &mut snap.value {
                    p.retain(|(k, _)| k != "ACTIVE");
                    if get(p, "SNAPSHOT_ID") == Some(&want) {
                        p.insert(0, ("ACTIVE".into(), "YES".into()));
                    }
                }
            }
        }
        PendingChange::SnapshotDelete { snap_id } => {
            if let Some(at) = find(&vm.template, "SNAPSHOT", "SNAPSHOT_ID", snap_id) {
                vm.template.attrs.remove(at);
            }
        }
        PendingChange::DiskSnapshotCreate {
            disk_id,
            snap_id,
            name,
        } => {
            let size = find(&vm.template, "DISK", "DISK_ID", disk_id)
                .and_then(|at| vm.template.attrs[at].value.as_vector())
                .and_then(|p| get(p, "SIZE").and_then(|s| s.parse().ok()))
                .unwrap_or(0);
            let snaps = disk_snapshots_mut(vm, disk_id);
            let parent = snaps.current_base();
            for s in &mut snaps.snapshots {
                s.active = false;
            }
            snaps.snapshots.push(ImageSnapshot {
                id: snap_id,
                name,
                date: now(),
                parent,
                size,
                active: true,
            });
        }
        PendingChange::DiskSnapshotRevert { disk_id, snap_id } => {
            let snaps = disk_snapshots_mut(vm, disk_id);
            for s in &mut snaps.snapshots {
                s.active = s.id == snap_id;
            }
        }
        PendingChange::DiskSnapshotDelete { disk_id, snap_id } => {
            let snaps = disk_snapshots_mut(vm, disk_id);
            snaps.snapshots.retain(|s| s.id != snap_id);
            vm.disk_snapshots.retain(|s| !s.snapshots.is_empty());
        }
        PendingChange::DiskSaveas { image_id, .. } => {
            if let Ok(mut image) = tx.get_mut::<Image>(image_id) {
                image.state = ImageState::Ready;
                tx.put(image)?;
            }
        }
    }
    Ok(())
}

/// Undoes the pending change of `vm` after its driver operation failed.
pub(crate) fn rollback(tx: &mut Tx, vm: &mut Vm) -> Result<()> {
    let Some(change) = vm.pending.take() else {
        return Ok(());
    };
    match change {
        PendingChange::AttachDisk { disk_id } => {
            if let Some(at) = find(&vm.template, "DISK", "DISK_ID", disk_id) {
                let before = resources::system_disk_mb(&vm.template);
                let attr = vm.template.attrs.remove(at);
                resources::release_disk(tx, vm, attr.value.as_vector().unwrap_or_default())?;
                recharge_system_disk(tx, vm, before)?;
            }
        }
        PendingChange::AttachNic { nic_id } => {
            if let Some(at) = find(&vm.template, "NIC", "NIC_ID", nic_id) {
                let pairs = vm.template.attrs[at]
                    .value
                    .as_vector()
                    .unwrap_or_default()
                    .to_vec();
                resources::release_nic(tx, vm, &pairs)?;
                vm.template.attrs.remove(at);
            }
        }
        PendingChange::DetachDisk { disk_id } => clear_attach(vm, "DISK", "DISK_ID", disk_id),
        PendingChange::DetachNic { nic_id } => clear_attach(vm, "NIC", "NIC_ID", nic_id),
        PendingChange::UpdateNic { nic_id, before } => {
            if let Some(at) = find(&vm.template, "NIC", "NIC_ID", nic_id) {
                let now_groups = vm.template.attrs[at]
                    .value
                    .as_vector()
                    .map(resources::security_groups)
                    .unwrap_or_default();
                let old_groups = resources::security_groups(&before);
                for sg in now_groups.iter().filter(|g| !old_groups.contains(g)) {
                    resources::leave_group(tx, vm.meta.id, *sg)?;
                }
                for sg in old_groups {
                    resources::join_group(tx, vm.meta.id, sg)?;
                }
                vm.template.attrs[at].value = Value::Vector(before);
            }
        }
        PendingChange::DiskResize { disk_id, before } => {
            if let Some(at) = find(&vm.template, "DISK", "DISK_ID", disk_id) {
                let total = resources::system_disk_mb(&vm.template);
                if let Some(p) = vector_mut(&mut vm.template, at) {
                    set(p, "SIZE", before.to_string());
                }
                recharge_system_disk(tx, vm, total)?;
            }
        }
        PendingChange::Resize {
            cpu,
            vcpu,
            memory_mb,
        } => set_capacity(tx, vm, cpu, vcpu, memory_mb, false)?,
        PendingChange::DiskSaveas { image_id, .. } => {
            if let Ok(mut image) = tx.get_mut::<Image>(image_id) {
                image.state = ImageState::Error;
                tx.put(image)?;
            }
        }
        PendingChange::SnapshotCreate { .. }
        | PendingChange::SnapshotRevert { .. }
        | PendingChange::SnapshotDelete { .. }
        | PendingChange::DiskSnapshotCreate { .. }
        | PendingChange::DiskSnapshotRevert { .. }
        | PendingChange::DiskSnapshotDelete { .. } => {}
    }
    Ok(())
}

fn clear_attach(vm: &mut Vm, name: &str, key: &str, id: i32) {
    if let Some(at) = find(&vm.template, name, key, id)
        && let Some(p) = vector_mut(&mut vm.template, at)
    {
        p.retain(|(k, _)| k != "ATTACH");
    }
}

/// Adds a system attribute after the others of its name (keeping the XSD order).
pub(super) fn push_system(vm: &mut Vm, attr: Attribute) {
    let rank = |n: &str| {
        super::create::SYSTEM_ATTRIBUTES
            .iter()
            .position(|a| *a == n)
    };
    let mine = rank(&attr.name);
    let at = vm
        .template
        .attrs
        .iter()
        .position(|a| rank(&a.name).unwrap_or(usize::MAX) > mine.unwrap_or(usize::MAX))
        .unwrap_or(vm.template.attrs.len());
    vm.template.attrs.insert(at, attr);
}

fn disk_snapshots_mut(vm: &mut Vm, disk_id: i32) -> &mut DiskSnapshots {
    let at = match vm.disk_snapshots.iter().position(|s| s.disk_id == disk_id) {
        Some(at) => at,
        None => {
            vm.disk_snapshots.push(DiskSnapshots {
                disk_id,
                next_snapshot: 0,
                snapshots: Vec::new(),
            });
            vm.disk_snapshots.len() - 1
        }
    };
    &mut vm.disk_snapshots[at]
}

/// Sets CPU, VCPU and memory, moving quotas and the host's share by the difference.
/// With `enforce`, the host must have room for the growth.
fn set_capacity(
    tx: &mut Tx,
    vm: &mut Vm,
    cpu: f64,
    vcpu: u32,
    memory_mb: i64,
    enforce: bool,
) -> Result<()> {
    let (d_cpu, d_mem) = (cpu - vm.cpu, memory_mb - vm.memory_mb);
    let mut amounts = vec![("CPU", d_cpu), ("MEMORY", d_mem as f64)];
    if let Some(hid) = vm.host_id() {
        amounts.extend([("RUNNING_CPU", d_cpu), ("RUNNING_MEMORY", d_mem as f64)]);
        let mut host = (*tx.get::<Host>(hid)?).clone();
        let (c, m) = ((d_cpu * 100.0).round() as i64, d_mem * 1024);
        if enforce
            && ((c > 0 && host.share.cpu_usage + c > host.share.max_cpu)
                || (m > 0 && host.share.mem_usage + m > host.share.max_mem))
        {
            return Err(Error::action(format!(
                "Host [{hid}] does not have enough capacity for the new size of VM [{}]",
                vm.meta.id
            )));
        }
        host.share.cpu_usage += c;
        host.share.mem_usage += m;
        tx.put(host)?;
    }
    charge_owners(tx, vm.meta.uid, vm.meta.gid, QuotaKind::Vm, -1, &amounts)?;
    vm.cpu = cpu;
    vm.vcpu = vcpu;
    vm.memory_mb = memory_mb;
    super::create::set_system(&mut vm.template, "CPU", format_cpu(cpu));
    super::create::set_system(&mut vm.template, "VCPU", vcpu.to_string());
    super::create::set_system(&mut vm.template, "MEMORY", memory_mb.to_string());
    Ok(())
}

fn format_cpu(cpu: f64) -> String {
    let text = format!("{cpu:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Parses `NAME=[..]` (the single vector a hotplug call takes).
fn single_vector(text: &str, names: &[&str]) -> Result<(String, Pairs)> {
    let t = parse_template(text)?;
    let mut found = t
        .attrs
        .into_iter()
        .filter(|a| names.contains(&a.name.as_str()));
    match (found.next(), found.next()) {
        (
            Some(Attribute {
                name,
                value: Value::Vector(p),
            }),
            None,
        ) => Ok((name, p)),
        _ => Err(Error::action(format!(
            "The template must hold exactly one {} vector",
            names.join(" or ")
        ))),
    }
}

impl Core {
    /// Stages an in-place change `r` on VM `id`: `prepare` changes the VM (taking what it
    /// needs) and says how to finish; the VM enters its hotplug phase and the driver runs.
    async fn reconfigure<R: Send + 'static>(
        &self,
        caller: &Caller,
        id: Oid,
        what: &'static str,
        r: Reconfig,
        prepare: impl FnOnce(&mut Tx, &mut Vm) -> Result<(Option<PendingChange>, R)> + Send,
    ) -> Result<R> {
        let (follow, out) = self
            .write(|tx| {
                let mut vm = (*fetch_for::<Vm>(tx.state, caller, id, AuthOp::Manage)?).clone();
                if !allowed(&vm, r) {
                    return Err(wrong_state(what, &vm));
                }
                let (pending, out) = prepare(tx, &mut vm)?;
                vm.pending = pending;
                let follow = apply_event(tx, Some(caller), &mut vm, Event::Reconfig(r), None)
                    .map_err(|_| wrong_state(what, &vm))?;
                tx.put(vm)?;
                Ok((follow, out))
            })
            .await?;
        self.follow_up(follow);
        Ok(out)
    }

    /// Changes VM `id` at once, with no driver operation (a VM that is not on a host).
    async fn change_now<R: Send + 'static>(
        &self,
        caller: &Caller,
        id: Oid,
        change: impl FnOnce(&mut Tx, &mut Vm) -> Result<R> + Send,
    ) -> Result<R> {
        self.write(|tx| {
            let mut vm = (*fetch_for::<Vm>(tx.state, caller, id, AuthOp::Manage)?).clone();
            let out = change(tx, &mut vm)?;
            tx.put(vm)?;
            Ok(out)
        })
        .await
    }

    /// `vm.attach`: adds a DISK (an image or a volatile disk) to a RUNNING or POWEROFF VM.
    pub async fn vm_attach_disk(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let (_, mut pairs) = single_vector(text, &["DISK"])?;
        let caller2 = caller.clone();
        self.reconfigure(
            caller,
            id,
            "disk-attach",
            Reconfig::AttachDisk,
            move |tx, vm| {
                let disk_id = next_id(&vm.template, "DISK", "DISK_ID");
                let before = resources::system_disk_mb(&vm.template);
                let index = usize::try_from(disk_id).unwrap_or(0);
                resources::take_disk(tx, &caller2, vm, &mut pairs, index, &mut Taken::default())
                    .map_err(to_action)?;
                set(&mut pairs, "ATTACH", "YES");
                push_system(vm, Attribute::vector("DISK", pairs));
                recharge_system_disk(tx, vm, before)?;
                Ok((Some(PendingChange::AttachDisk { disk_id }), id))
            },
        )
        .await
    }

    /// `vm.detach`: removes a DISK.
    pub async fn vm_detach_disk(&self, caller: &Caller, id: Oid, disk_id: i32) -> Result<Oid> {
        self.reconfigure(
            caller,
            id,
            "disk-detach",
            Reconfig::DetachDisk,
            move |_, vm| {
                let at = find(&vm.template, "DISK", "DISK_ID", disk_id)
                    .ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                if let Some(p) = vector_mut(&mut vm.template, at) {
                    set(p, "ATTACH", "YES");
                }
                Ok((Some(PendingChange::DetachDisk { disk_id }), id))
            },
        )
        .await
    }

    /// `vm.attachnic`: adds a NIC (or NIC_ALIAS) taking a lease.
    pub async fn vm_attach_nic(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let (name, mut pairs) = single_vector(text, &["NIC", "NIC_ALIAS"])?;
        let caller2 = caller.clone();
        self.reconfigure(
            caller,
            id,
            "nic-attach",
            Reconfig::AttachNic,
            move |tx, vm| {
                let nic_id = next_id(&vm.template, "NIC", "NIC_ID").max(next_id(
                    &vm.template,
                    "NIC_ALIAS",
                    "NIC_ID",
                ));
                let index = usize::try_from(nic_id).unwrap_or(0);
                resources::take_lease(tx, &caller2, vm, &mut pairs, index, &mut Taken::default())
                    .map_err(to_action)?;
                set(&mut pairs, "ATTACH", "YES");
                push_system(vm, Attribute::vector(&name, pairs));
                Ok((Some(PendingChange::AttachNic { nic_id }), id))
            },
        )
        .await
    }

    /// `vm.detachnic`: removes a NIC and frees its lease.
    pub async fn vm_detach_nic(&self, caller: &Caller, id: Oid, nic_id: i32) -> Result<Oid> {
        self.reconfigure(
            caller,
            id,
            "nic-detach",
            Reconfig::DetachNic,
            move |_, vm| {
                let at = find(&vm.template, "NIC", "NIC_ID", nic_id)
                    .or_else(|| find(&vm.template, "NIC_ALIAS", "NIC_ID", nic_id))
                    .ok_or_else(|| no_nic(vm.meta.id, nic_id))?;
                if let Some(p) = vector_mut(&mut vm.template, at) {
                    set(p, "ATTACH", "YES");
                }
                Ok((Some(PendingChange::DetachNic { nic_id }), id))
            },
        )
        .await
    }

    /// Changes NIC `nic_id` by `edit` (attributes or security groups): through the driver
    /// when the VM is RUNNING or POWEROFF, at once otherwise.
    async fn edit_nic(
        &self,
        caller: &Caller,
        id: Oid,
        nic_id: i32,
        what: &'static str,
        edit: impl FnOnce(&mut Tx, Oid, &mut Pairs) -> Result<()> + Send,
    ) -> Result<Oid> {
        let on_host = self.read(|s| {
            let vm = s.get::<Vm>(id)?;
            Ok(allowed(vm, Reconfig::UpdateNic))
        })?;
        let apply = move |tx: &mut Tx, vm: &mut Vm| -> Result<PendingChange> {
            let at = find(&vm.template, "NIC", "NIC_ID", nic_id)
                .ok_or_else(|| no_nic(vm.meta.id, nic_id))?;
            let vm_id = vm.meta.id;
            let p = vector_mut(&mut vm.template, at).ok_or_else(|| no_nic(vm.meta.id, nic_id))?;
            let before = p.clone();
            edit(tx, vm_id, p)?;
            Ok(PendingChange::UpdateNic { nic_id, before })
        };
        if on_host {
            self.reconfigure(caller, id, what, Reconfig::UpdateNic, move |tx, vm| {
                Ok((Some(apply(tx, vm)?), id))
            })
            .await
        } else {
            self.change_now(caller, id, move |tx, vm| {
                if vm.state == VmState::Done || (vm.state == VmState::Active) {
                    return Err(wrong_state(what, vm));
                }
                apply(tx, vm)?;
                Ok(id)
            })
            .await
        }
    }

    /// `vm.updatenic`: changes a NIC's attributes (QoS and the like; not its network).
    pub async fn vm_update_nic(
        &self,
        caller: &Caller,
        id: Oid,
        nic_id: i32,
        text: &str,
        append: bool,
    ) -> Result<Oid> {
        let t = parse_template(text)?;
        let new: Pairs = t
            .attrs
            .iter()
            .find(|a| a.name == "NIC")
            .and_then(|a| a.value.as_vector())
            .map(<[_]>::to_vec)
            .unwrap_or_else(|| {
                t.attrs
                    .iter()
                    .filter_map(|a| a.value.as_single().map(|v| (a.name.clone(), v.to_string())))
                    .collect()
            });
        const FIXED: [&str; 9] = [
            "NETWORK_ID",
            "NETWORK",
            "IP",
            "IP6",
            "MAC",
            "AR_ID",
            "NIC_ID",
            "BRIDGE",
            "VN_MAD",
        ];
        if let Some((k, _)) = new.iter().find(|(k, _)| FIXED.contains(&k.as_str())) {
            return Err(Error::action(format!(
                "{k} cannot be changed with updatenic; detach the NIC and attach a new one"
            )));
        }
        self.edit_nic(caller, id, nic_id, "nic-update", move |_, _, p| {
            if !append {
                const QOS: [&str; 7] = [
                    "INBOUND_AVG_BW",
                    "INBOUND_PEAK_BW",
                    "INBOUND_PEAK_KB",
                    "OUTBOUND_AVG_BW",
                    "OUTBOUND_PEAK_BW",
                    "OUTBOUND_PEAK_KB",
                    "MODEL",
                ];
                p.retain(|(k, _)| !QOS.contains(&k.as_str()));
            }
            for (k, v) in new {
                set(p, &k, v);
            }
            Ok(())
        })
        .await
    }

    /// `vm.attachsg` / `vm.detachsg`: adds or removes a security group of a NIC.
    pub async fn vm_security_group(
        &self,
        caller: &Caller,
        id: Oid,
        nic_id: i32,
        sg: Oid,
        attach: bool,
    ) -> Result<Oid> {
        let caller2 = caller.clone();
        let what = if attach { "sg-attach" } else { "sg-detach" };
        self.edit_nic(caller, id, nic_id, what, move |tx, vm_id, p| {
            let mut groups = resources::security_groups(p);
            if attach {
                fetch_for::<crate::model::SecGroup>(tx.state, &caller2, sg, AuthOp::Use)?;
                if groups.contains(&sg) {
                    return Err(Error::action(format!(
                        "Security group {sg} is already attached to NIC {nic_id}"
                    )));
                }
                groups.push(sg);
                resources::join_group(tx, vm_id, sg)?;
            } else {
                if !groups.contains(&sg) {
                    return Err(Error::action(format!(
                        "Security group {sg} is not attached to NIC {nic_id}"
                    )));
                }
                groups.retain(|g| *g != sg);
                resources::leave_group(tx, vm_id, sg)?;
            }
            let text: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            set(p, "SECURITY_GROUPS", text.join(","));
            Ok(())
        })
        .await
    }

    /// `vm.snapshotcreate`: takes a snapshot of a RUNNING VM; returns its id.
    pub async fn vm_snapshot_create(&self, caller: &Caller, id: Oid, name: &str) -> Result<i32> {
        let name = name.to_string();
        self.reconfigure(
            caller,
            id,
            "snapshot-create",
            Reconfig::SnapshotCreate,
            move |_, vm| {
                let snap_id = next_id(&vm.template, "SNAPSHOT", "SNAPSHOT_ID");
                let name = if name.trim().is_empty() {
                    format!("snapshot-{snap_id}")
                } else {
                    name
                };
                Ok((
                    Some(PendingChange::SnapshotCreate { snap_id, name }),
                    snap_id,
                ))
            },
        )
        .await
    }

    /// `vm.snapshotrevert` and `vm.snapshotdelete`.
    pub async fn vm_snapshot_change(
        &self,
        caller: &Caller,
        id: Oid,
        snap_id: i32,
        delete: bool,
    ) -> Result<Oid> {
        let (what, r) = if delete {
            ("snapshot-delete", Reconfig::SnapshotDelete)
        } else {
            ("snapshot-revert", Reconfig::SnapshotRevert)
        };
        self.reconfigure(caller, id, what, r, move |_, vm| {
            if find(&vm.template, "SNAPSHOT", "SNAPSHOT_ID", snap_id).is_none() {
                return Err(Error::action(format!(
                    "VM {} has no snapshot with id {snap_id}",
                    vm.meta.id
                )));
            }
            let change = if delete {
                PendingChange::SnapshotDelete { snap_id }
            } else {
                PendingChange::SnapshotRevert { snap_id }
            };
            Ok((Some(change), id))
        })
        .await
    }

    /// `vm.disksnapshotcreate`: returns the snapshot id.
    pub async fn vm_disk_snapshot_create(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        name: &str,
    ) -> Result<i32> {
        let name = name.to_string();
        self.reconfigure(
            caller,
            id,
            "disk-snapshot-create",
            Reconfig::DiskSnapshotCreate,
            move |_, vm| {
                let at = find(&vm.template, "DISK", "DISK_ID", disk_id)
                    .ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                let pairs = vm.template.attrs[at].value.as_vector().unwrap_or_default();
                if get(pairs, "IMAGE_ID").is_none() || get(pairs, "READONLY") == Some("YES") {
                    return Err(Error::action(format!(
                        "Disk {disk_id} cannot have snapshots: it is volatile or read-only"
                    )));
                }
                let snaps = disk_snapshots_mut(vm, disk_id);
                let snap_id = snaps.next_snapshot;
                snaps.next_snapshot += 1;
                let name = if name.trim().is_empty() {
                    format!("snapshot-{snap_id}")
                } else {
                    name
                };
                let change = PendingChange::DiskSnapshotCreate {
                    disk_id,
                    snap_id,
                    name,
                };
                Ok((Some(change), snap_id))
            },
        )
        .await
    }

    /// `vm.disksnapshotrevert` and `vm.disksnapshotdelete`.
    pub async fn vm_disk_snapshot_change(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        snap_id: i32,
        delete: bool,
    ) -> Result<Oid> {
        let (what, r) = if delete {
            ("disk-snapshot-delete", Reconfig::DiskSnapshotDelete)
        } else {
            ("disk-snapshot-revert", Reconfig::DiskSnapshotRevert)
        };
        self.reconfigure(caller, id, what, r, move |_, vm| {
            let snaps = vm.disk_snapshots.iter().find(|s| s.disk_id == disk_id);
            let snap = snaps
                .and_then(|s| s.snapshots.iter().find(|x| x.id == snap_id))
                .ok_or_else(|| {
                    Error::action(format!("Disk {disk_id} has no snapshot with id {snap_id}"))
                })?;
            if delete {
                if snap.active {
                    return Err(Error::action(format!(
                        "Snapshot {snap_id} is the active one and cannot be deleted"
                    )));
                }
                if snaps.is_some_and(|s| s.snapshots.iter().any(|x| x.parent == snap_id)) {
                    return Err(Error::action(format!(
                        "Snapshot {snap_id} has children and cannot be deleted"
                    )));
                }
                Ok((
                    Some(PendingChange::DiskSnapshotDelete { disk_id, snap_id }),
                    id,
                ))
            } else {
                Ok((
                    Some(PendingChange::DiskSnapshotRevert { disk_id, snap_id }),
                    id,
                ))
            }
        })
        .await
    }

    /// `vm.disksnapshotrename`: renames a disk snapshot (no driver operation).
    pub async fn vm_disk_snapshot_rename(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        snap_id: i32,
        name: &str,
    ) -> Result<Oid> {
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(Error::action("The new snapshot name cannot be empty"));
        }
        self.change_now(caller, id, move |_, vm| {
            let snap = vm
                .disk_snapshots
                .iter_mut()
                .find(|s| s.disk_id == disk_id)
                .and_then(|s| s.snapshots.iter_mut().find(|x| x.id == snap_id))
                .ok_or_else(|| {
                    Error::action(format!("Disk {disk_id} has no snapshot with id {snap_id}"))
                })?;
            snap.name = name;
            Ok(id)
        })
        .await
    }

    /// `vm.diskresize`: grows a disk to `size` MB.
    pub async fn vm_disk_resize(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        size: &str,
    ) -> Result<Oid> {
        let size: i64 = size
            .trim()
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| Error::action(format!("Invalid disk size \"{size}\" (MB)")))?;
        self.reconfigure(
            caller,
            id,
            "disk-resize",
            Reconfig::DiskResize,
            move |tx, vm| {
                let at = find(&vm.template, "DISK", "DISK_ID", disk_id)
                    .ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                let total = resources::system_disk_mb(&vm.template);
                let p =
                    vector_mut(&mut vm.template, at).ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                let before: i64 = get(p, "SIZE").and_then(|s| s.parse().ok()).unwrap_or(0);
                if size <= before {
                    return Err(Error::action(format!(
                        "New size {size} MB must be larger than the current {before} MB"
                    )));
                }
                set(p, "SIZE", size.to_string());
                recharge_system_disk(tx, vm, total)?;
                Ok((Some(PendingChange::DiskResize { disk_id, before }), id))
            },
        )
        .await
    }

    /// `vm.disksaveas`: saves a disk into a new image (LOCKED until the copy is done);
    /// returns the image id.
    pub async fn vm_disk_saveas(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        name: &str,
        image_type: &str,
        snap_id: i32,
    ) -> Result<Oid> {
        let (name, image_type) = (name.trim().to_string(), image_type.trim().to_string());
        if name.is_empty() {
            return Err(Error::action("The new image needs a name"));
        }
        let caller2 = caller.clone();
        self.reconfigure(
            caller,
            id,
            "disk-saveas",
            Reconfig::DiskSaveas,
            move |tx, vm| {
                let at = find(&vm.template, "DISK", "DISK_ID", disk_id)
                    .ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                let pairs = vm.template.attrs[at]
                    .value
                    .as_vector()
                    .unwrap_or_default()
                    .to_vec();
                let source = get(&pairs, "IMAGE_ID")
                    .and_then(|v| v.parse::<Oid>().ok())
                    .ok_or_else(|| {
                        Error::action(format!(
                            "Disk {disk_id} is volatile and has no image to save"
                        ))
                    })?;
                if snap_id >= 0
                    && !vm.disk_snapshots.iter().any(|s| {
                        s.disk_id == disk_id && s.snapshots.iter().any(|x| x.id == snap_id)
                    })
                {
                    return Err(Error::action(format!(
                        "Disk {disk_id} has no snapshot with id {snap_id}"
                    )));
                }
                let image = tx.get::<Image>(source)?;
                let size = get(&pairs, "SIZE")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(image.size);
                let image_type = if image_type.is_empty() {
                    image.image_type.name().to_string()
                } else {
                    image_type
                };
                let image_id = crate::ops::image::stage_saveas(
                    tx,
                    &caller2,
                    &name,
                    &image_type,
                    &image,
                    size,
                )?;
                Ok((
                    Some(PendingChange::DiskSaveas { disk_id, image_id }),
                    image_id,
                ))
            },
        )
        .await
    }

    /// `vm.resize`: new CPU, VCPU and MEMORY. A RUNNING VM is resized through the driver;
    /// one that is not on a running host at once. `enforce` checks the host's capacity.
    pub async fn vm_resize(
        &self,
        caller: &Caller,
        id: Oid,
        text: &str,
        enforce: bool,
    ) -> Result<Oid> {
        let t = parse_template(text)?;
        let float = |k: &str| -> Result<Option<f64>> {
            t.get(k)
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x > 0.0)
                        .ok_or_else(|| {
                            Error::action(format!("{k} must be a positive number, not \"{v}\""))
                        })
                })
                .transpose()
        };
        let (cpu, vcpu, memory) = (float("CPU")?, float("VCPU")?, float("MEMORY")?);
        if cpu.is_none() && vcpu.is_none() && memory.is_none() {
            return Err(Error::action("Resize needs CPU, VCPU or MEMORY"));
        }
        let plan = move |vm: &Vm| -> (f64, u32, i64) {
            (
                cpu.unwrap_or(vm.cpu),
                vcpu.map_or(vm.vcpu, |v| v.round() as u32),
                memory.map_or(vm.memory_mb, |m| m.round() as i64),
            )
        };
        let running = self.read(|s| Ok(allowed(s.get::<Vm>(id)?.as_ref(), Reconfig::Resize)))?;
        if running {
            self.reconfigure(caller, id, "resize", Reconfig::Resize, move |tx, vm| {
                let before = PendingChange::Resize {
                    cpu: vm.cpu,
                    vcpu: vm.vcpu,
                    memory_mb: vm.memory_mb,
                };
                let (c, v, m) = plan(vm);
                set_capacity(tx, vm, c, v, m, enforce)?;
                Ok((Some(before), id))
            })
            .await
        } else {
            self.change_now(caller, id, move |tx, vm| {
                let ok = matches!(
                    vm.state,
                    VmState::Pending
                        | VmState::Hold
                        | VmState::Poweroff
                        | VmState::Undeployed
                        | VmState::Stopped
                ) || (vm.state == VmState::Active && vm.lcm_state == LcmState::Running);
                if !ok {
                    return Err(wrong_state("resize", vm));
                }
                let (c, v, m) = plan(vm);
                set_capacity(tx, vm, c, v, m, enforce && vm.state == VmState::Poweroff)?;
                Ok(id)
            })
            .await
        }
    }

    /// `vm.updateconf`: changes the boot and device configuration (OS, FEATURES, INPUT,
    /// GRAPHICS, VIDEO, RAW, CONTEXT, CPU_MODEL, BACKUP_CONFIG). Refused while the VM is in
    /// a transient phase.
    pub async fn vm_updateconf(
        &self,
        caller: &Caller,
        id: Oid,
        text: &str,
        append: bool,
    ) -> Result<Oid> {
        const CONF: [&str; 9] = [
            "OS",
            "FEATURES",
            "INPUT",
            "GRAPHICS",
            "VIDEO",
            "RAW",
            "CONTEXT",
            "CPU_MODEL",
            "BACKUP_CONFIG",
        ];
        let t = parse_template(text)?;
        let given: Vec<Attribute> = t
            .attrs
            .into_iter()
            .filter(|a| CONF.contains(&a.name.as_str()))
            .collect();
        self.change_now(caller, id, move |_, vm| {
            let settled = match vm.state {
                VmState::Active => vm.lcm_state == LcmState::Running,
                VmState::Done => false,
                _ => true,
            };
            if !settled {
                return Err(wrong_state("updateconf", vm));
            }
            for name in CONF {
                let new: Vec<&Attribute> = given.iter().filter(|a| a.name == name).collect();
                if new.is_empty() && append {
                    continue;
                }
                let old = vm.template.remove(name);
                let merged = match (append, old.into_iter().next(), new.first()) {
                    (
                        true,
                        Some(Attribute {
                            value: Value::Vector(mut o),
                            ..
                        }),
                        Some(Attribute {
                            value: Value::Vector(n),
                            ..
                        }),
                    ) => {
                        for (k, v) in n {
                            set(&mut o, k, v.clone());
                        }
                        Some(Attribute::vector(name, o))
                    }
                    (_, _, Some(a)) => Some((*a).clone()),
                    (_, o, None) => o.filter(|_| append),
                };
                if let Some(a) = merged {
                    push_system(vm, a);
                }
            }
            Ok(id)
        })
        .await
    }
}

fn to_action(e: Error) -> Error {
    match e {
        Error::Allocate { message, .. } => Error::action(message),
        other => other,
    }
}
