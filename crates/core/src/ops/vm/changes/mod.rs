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
use crate::auth::{Caller, RestrictedKind, restricted};
use crate::model::{
    Amount, DiskSnapshots, Host, Image, ImageSnapshot, PendingChange, QuotaKind, Vm,
};
use crate::now;
use crate::ops::generic::{fetch_for, parse_template};
use crate::ops::image::to_action;
use crate::ops::quota::charge_owners;
use crate::tx::Tx;

mod disks;
pub(crate) mod exec;
mod finish;
mod nics;
mod sizing;
mod snapshots;

pub(crate) use finish::{commit, rollback};

type Pairs = Vec<(String, String)>;

use super::actions::wrong_state;

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

/// Re-charges the VM's SYSTEM_DISK_SIZE quota (and its host's DISK_USAGE) after its disks
/// changed from `before` MB.
fn recharge_system_disk(tx: &mut Tx, vm: &Vm, before: i64) -> Result<()> {
    let delta = resources::system_disk_mb(&vm.template).saturating_sub(before);
    if delta == 0 {
        return Ok(());
    }
    // The host the VM takes capacity on counts its disks too.
    if let Some(hid) = vm.host_id() {
        let mut host = tx.get_mut::<Host>(hid)?;
        host.share
            .add_usage(0, 0, delta, 0)
            .map_err(|e| Error::action(format!("Host [{hid}]: {e}")))?;
        tx.put(host)?;
    }
    charge_owners(
        tx,
        vm.meta.uid,
        vm.meta.gid,
        QuotaKind::Vm,
        -1,
        &[("SYSTEM_DISK_SIZE", Amount::saturating_units(delta))],
    )
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

/// Runs `prepare` on `vm` and takes it into the hotplug phase of `r`: the driver carries
/// the change out once this commits.
fn through_driver<R>(
    tx: &mut Tx,
    caller: &Caller,
    vm: &mut Vm,
    what: &'static str,
    r: Reconfig,
    prepare: impl FnOnce(&mut Tx, &mut Vm) -> Result<(Option<PendingChange>, R)>,
) -> Result<(super::transition::Followup, R)> {
    if !allowed(vm, r) {
        return Err(wrong_state(what, vm));
    }
    let (pending, out) = prepare(tx, vm)?;
    vm.pending = pending;
    let follow = apply_event(tx, Some(caller), vm, Event::Reconfig(r), None)
        .map_err(|_| wrong_state(what, vm))?;
    tx.put(vm.clone())?;
    Ok((follow, out))
}

impl Core {
    /// Refuses a NIC, NIC_ALIAS or DISK vector being attached (or a NIC's new attributes,
    /// over its `old` ones) that sets a restricted attribute, for callers outside the
    /// oneadmin group.
    fn check_restricted_vector(
        &self,
        caller: &Caller,
        name: &str,
        pairs: &[(String, String)],
        old: Option<&[(String, String)]>,
    ) -> Result<()> {
        let base = old.map(|o| restricted::of_vector(name, o));
        // VirtualMachineAPI attach / attachnic / updatenic: "DISK includes ..." (a NIC_ALIAS
        // is a NIC there)
        self.config().restricted.check_worded(
            caller,
            RestrictedKind::Vm,
            if name == "DISK" { "DISK" } else { "NIC" },
            &restricted::of_vector(name, pairs),
            base.as_ref(),
        )
    }
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
    pub(super) async fn reconfigure<R: Send + 'static>(
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
                through_driver(tx, caller, &mut vm, what, r, prepare)
            })
            .await?;
        self.follow_up(follow);
        Ok(out)
    }

    /// Stages a NIC change (`vm.attachnic`, `detachnic`, `updatenic`, `attachsg`,
    /// `detachsg`) as oned's DispatchManager does: a RUNNING VM through the driver
    /// (HOTPLUG_NIC); a POWEROFF one at once, staying POWEROFF, unless its host's VM_MAD
    /// is COLD_NIC_ATTACH (`runtime::cold_nic_attach`: then through the driver,
    /// HOTPLUG_NIC_POWEROFF). With `elsewhere`, a VM neither RUNNING nor POWEROFF (nor in
    /// another ACTIVE phase, nor DONE) is changed at once too, as oned's updatenic and
    /// security groups do.
    pub(super) async fn reconfigure_nic<R: Send + 'static>(
        &self,
        caller: &Caller,
        id: Oid,
        what: &'static str,
        r: Reconfig,
        elsewhere: bool,
        prepare: impl FnOnce(&mut Tx, &mut Vm) -> Result<(Option<PendingChange>, R)> + Send,
    ) -> Result<R> {
        let (follow, out) = self
            .write(|tx| {
                let mut vm = (*fetch_for::<Vm>(tx.state, caller, id, AuthOp::Manage)?).clone();
                // Decided by the host's VM_MAD, not by a live driver; in doubt (no host),
                // through the driver.
                let cold = || match vm.current().map(|h| tx.get::<Host>(h.hid)) {
                    Some(Ok(host)) => crate::runtime::cold_nic_attach(&host),
                    _ => true,
                };
                let now = match vm.state {
                    VmState::Poweroff => !cold(),
                    VmState::Active | VmState::Done => false,
                    _ => elsewhere,
                };
                if !now {
                    return through_driver(tx, caller, &mut vm, what, r, prepare);
                }
                let (pending, out) = prepare(tx, &mut vm)?;
                vm.pending = pending;
                commit(tx, &mut vm)?;
                // An attach or detach is recorded on the open history record, as oned's
                // close_cp_history does.
                if matches!(r, Reconfig::AttachNic | Reconfig::DetachNic)
                    && let Some(h) = vm.current_mut().filter(|h| h.etime == 0)
                {
                    h.action = r.history().code();
                    h.uid = caller.uid;
                    h.gid = caller.gid;
                }
                tx.put(vm)?;
                Ok((super::transition::Followup::default(), out))
            })
            .await?;
        self.follow_up(follow);
        Ok(out)
    }

    /// Changes VM `id` at once, with no driver operation (a VM that is not on a host).
    pub(super) async fn change_now<R: Send + 'static>(
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
}
