//! Applying one life-cycle event to a VM inside a write: the `lifecycle` crate decides the
//! new phase; this module carries out the effects that touch other objects (host capacity,
//! history records, quotas) and lists what must happen after the commit (driver operations
//! to start, the scheduler to wake).

use nubo_lifecycle::{DriverOp, Effect, Event, Origin, Transition, UserAction};
use nubo_types::states::{LcmState, VmState};
use nubo_types::{Error, Oid, Result};

use super::create::vm_quota;
use crate::auth::Caller;
use crate::model::{Datastore, History, Host, QuotaKind, Vm, VmOrigin};
use crate::now;
use crate::ops::quota::{add_owners, charge_owners, holds_running_quota, running_amounts};
use crate::tx::Tx;

/// A driver operation to start once the transition is committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    /// The VM.
    pub vm_id: Oid,
    /// Its operation sequence number: the reply must carry it back.
    pub seq: u64,
    /// What to do.
    pub op: DriverOp,
    /// The host that carries it out.
    pub host_id: Oid,
    /// For migrations: the destination.
    pub target_host_id: Option<Oid>,
}

/// What to do after a commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Followup {
    /// Driver operations to start.
    pub dispatch: Vec<Dispatch>,
    /// Wake the scheduler: VMs are pending, or capacity was freed.
    pub schedule: bool,
}

impl Followup {
    /// Adds another follow-up to this one.
    pub fn extend(&mut self, other: Followup) {
        self.dispatch.extend(other.dispatch);
        self.schedule |= other.schedule;
    }
}

/// Where a deploy or migration puts the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The host.
    pub host_id: Oid,
    /// The system datastore.
    pub ds_id: Oid,
}

/// Checks the scheduler expressions of a new VM's template (from `vm.allocate` or a
/// template instantiated with its extra template): each must parse and stay within the
/// expression limits (terms, length, nesting), else an API error names it. The scheduler
/// parses them again on every pass and turns a failure into SCHED_MESSAGE, so a VM that
/// got one another way (`vm.update`) only waits.
pub(crate) fn check_expressions(template: &nubo_template::Template) -> Result<()> {
    for name in [
        "SCHED_REQUIREMENTS",
        "SCHED_DS_REQUIREMENTS",
        "AUTOMATIC_REQUIREMENTS",
    ] {
        if let Some(text) = template.get(name) {
            nubo_template::Requirements::parse(text)
                .map_err(|e| Error::api(format!("Parse error in {name}: {e}")))?;
        }
    }
    for name in ["SCHED_RANK", "SCHED_DS_RANK"] {
        if let Some(text) = template.get(name) {
            nubo_template::Rank::parse(text)
                .map_err(|e| Error::api(format!("Parse error in {name}: {e}")))?;
        }
    }
    Ok(())
}

fn origin_of(o: VmOrigin) -> Origin {
    match o {
        VmOrigin::Fresh => Origin::Fresh,
        VmOrigin::Stopped => Origin::Stopped,
        VmOrigin::Undeployed => Origin::Undeployed,
    }
}

fn origin_from(o: Origin) -> VmOrigin {
    match o {
        Origin::Fresh => VmOrigin::Fresh,
        Origin::Stopped => VmOrigin::Stopped,
        Origin::Undeployed => VmOrigin::Undeployed,
    }
}

/// The deploy event for a VM, with the origin it remembers.
pub(crate) fn deploy_event(vm: &Vm) -> Event {
    Event::Deploy(origin_of(vm.origin))
}

/// Gives (`sign` -1) or takes (+1) a VM's share of host `hid`: taking a share that would
/// overflow the host's usage is refused, giving one back never takes it below zero.
fn share(tx: &mut Tx, hid: Oid, vm: &Vm, sign: i64) -> Result<()> {
    let mut host = tx.get_mut::<Host>(hid)?;
    let disk_mb = super::resources::system_disk_mb(&vm.template);
    let signed = |v: i64| if sign > 0 { v } else { v.saturating_neg() };
    host.share
        .add_usage(
            signed(vm.cpu.hundredths()),
            signed(vm.memory_kb()),
            signed(disk_mb),
            sign,
        )
        .map_err(|e| Error::action(format!("Host [{hid}]: {e} with VM [{}]", vm.meta.id)))?;
    if sign > 0 {
        host.vms.insert(vm.meta.id);
    } else {
        host.vms.remove(&vm.meta.id);
    }
    tx.put(host)
}

/// Takes (`take`) or releases the running quotas of a VM; a take is checked against the
/// limits only with `check`.
fn running_quota(tx: &mut Tx, vm: &Vm, take: bool, check: bool) -> Result<()> {
    let amounts = running_amounts(vm).map(|(k, v)| (k, if take { v } else { v.released() }));
    let (uid, gid) = (vm.meta.uid, vm.meta.gid);
    if check {
        charge_owners(tx, uid, gid, QuotaKind::Vm, -1, &amounts)
    } else {
        add_owners(tx, uid, gid, QuotaKind::Vm, -1, &amounts)
    }
}

/// Moves every quota a VM holds (VM, running, NETWORK leases, IMAGE) from its owner to
/// `uid`/`gid` (staged by a chown, before the VM itself is changed).
pub(crate) fn move_quota(tx: &mut Tx, id: Oid, uid: Oid, gid: Oid) -> Result<()> {
    let mut vm = (*tx.get::<Vm>(id)?).clone();
    if vm.state == VmState::Done {
        return Ok(());
    }
    let amounts = vm_quota(&vm);
    let released = amounts.map(|(k, v)| (k, v.released()));
    charge_owners(tx, vm.meta.uid, vm.meta.gid, QuotaKind::Vm, -1, &released)?;
    let running = holds_running_quota(vm.state, vm.lcm_state);
    if running {
        running_quota(tx, &vm, false, false)?;
    }
    super::resources::move_quota(tx, &vm, uid, gid)?;
    vm.meta.uid = uid;
    vm.meta.gid = gid;
    charge_owners(tx, uid, gid, QuotaKind::Vm, -1, &amounts)?;
    if running {
        running_quota(tx, &vm, true, true)?;
    }
    Ok(())
}

fn open_history(tx: &mut Tx, vm: &mut Vm, at: Placement) -> Result<()> {
    let host = tx.get::<Host>(at.host_id)?;
    let ds = tx.get::<Datastore>(at.ds_id).ok();
    let record = History {
        seq: vm.history.len() as i32,
        hostname: host.name.clone(),
        hid: host.id,
        cid: host.cluster_id,
        stime: now(),
        etime: 0,
        vm_mad: host.vm_mad.clone(),
        tm_mad: ds.as_ref().map(|d| d.tm_mad.clone()).unwrap_or_default(),
        ds_id: at.ds_id,
        pstime: 0,
        petime: 0,
        rstime: 0,
        retime: 0,
        estime: 0,
        eetime: 0,
        action: 0,
        uid: -1,
        gid: -1,
    };
    let migrating = matches!(
        vm.lcm_state,
        LcmState::Migrate
            | LcmState::SaveMigrate
            | LcmState::PrologMigratePoweroff
            | LcmState::PrologMigrateSuspend
            | LcmState::PrologMigrateUnknown
    );
    if migrating {
        vm.migrating_from = vm.current().cloned();
    }
    super::create::set_system(&mut vm.template, "TM_MAD_SYSTEM", record.tm_mad.clone());
    vm.history.push(record);
    share(tx, at.host_id, vm, 1)
}

fn leave_host(tx: &mut Tx, vm: &mut Vm) -> Result<()> {
    let t = now();
    let Some(hid) = vm.host_id() else {
        return Ok(());
    };
    if let Some(h) = vm.current_mut() {
        h.etime = t;
        h.eetime = t;
    }
    share(tx, hid, vm, -1)
}

fn commit_migration(tx: &mut Tx, vm: &mut Vm) -> Result<()> {
    if let Some(old) = vm.migrating_from.take() {
        let t = now();
        if let Some(h) = vm.history.iter_mut().find(|h| h.seq == old.seq) {
            h.etime = t;
        }
        share(tx, old.hid, vm, -1)?;
    }
    Ok(())
}

fn rollback_migration(tx: &mut Tx, vm: &mut Vm) -> Result<()> {
    if let Some(old) = vm.migrating_from.take()
        && let Some(new) = vm.history.pop()
    {
        share(tx, new.hid, vm, -1)?;
        debug_assert_eq!(vm.current().map(|h| h.seq), Some(old.seq));
    }
    Ok(())
}

fn release(tx: &mut Tx, vm: &mut Vm) -> Result<()> {
    vm.etime = now();
    let amounts = vm_quota(vm).map(|(k, v)| (k, v.released()));
    charge_owners(tx, vm.meta.uid, vm.meta.gid, QuotaKind::Vm, -1, &amounts)?;
    crate::ops::vmgroup::leave(tx, vm)?;
    super::resources::release(tx, vm)
}

/// Where an operation runs: (host, target host). A cold migration's target is the host
/// the VM leaves; so is a resume's from STOPPED or UNDEPLOYED onto another host than the
/// one that kept its files.
pub(crate) fn op_hosts(vm: &Vm, op: DriverOp) -> Option<(Oid, Option<Oid>)> {
    let current = vm.current()?.hid;
    match (&vm.migrating_from, op) {
        (Some(from), DriverOp::Migrate | DriverOp::Save) => Some((from.hid, Some(current))),
        (Some(from), DriverOp::PrologMigrate) => Some((current, Some(from.hid))),
        (_, DriverOp::Prolog)
            if matches!(
                vm.lcm_state,
                LcmState::PrologResume | LcmState::PrologUndeploy
            ) =>
        {
            let kept_on = vm.history.iter().rev().nth(1).map(|h| h.hid);
            Some((current, kept_on.filter(|h| *h != current)))
        }
        _ => Some((current, None)),
    }
}

fn stamp_times(vm: &mut Vm, to: (VmState, LcmState)) {
    let t = now();
    let Some(h) = vm.current_mut() else { return };
    match to.1 {
        LcmState::Prolog | LcmState::PrologResume | LcmState::PrologUndeploy => h.pstime = t,
        LcmState::Boot | LcmState::BootStopped | LcmState::BootUndeploy
            if h.pstime > 0 && h.petime == 0 =>
        {
            h.petime = t;
        }
        LcmState::Running if h.rstime == 0 => h.rstime = t,
        LcmState::Epilog | LcmState::EpilogStop | LcmState::EpilogUndeploy => {
            h.retime = t;
            h.estime = t;
        }
        _ => {}
    }
}

/// Applies `event` to `vm` (changed in place; the caller puts it). `who` is recorded on
/// the history record; `at` is where a deploy or migration goes. All or nothing: when the
/// event fails (a quota, a host's share), what it staged on other objects (quotas, hosts,
/// history) is undone, so a caller that drops the error and goes on leaks nothing.
pub(crate) fn apply_event(
    tx: &mut Tx,
    who: Option<&Caller>,
    vm: &mut Vm,
    event: Event,
    at: Option<Placement>,
) -> Result<Followup> {
    let before = vm.clone();
    let out = tx.attempt(|tx| apply_event_staged(tx, who, vm, event, at));
    if out.is_err() {
        *vm = before;
    }
    out
}

fn apply_event_staged(
    tx: &mut Tx,
    who: Option<&Caller>,
    vm: &mut Vm,
    event: Event,
    at: Option<Placement>,
) -> Result<Followup> {
    let phase = (vm.state, vm.lcm_state);
    let Transition {
        to,
        action,
        effects,
    } = nubo_lifecycle::next(phase, event).map_err(|e| Error::action(e.to_string()))?;
    // Running quotas follow the phase, as OpenNebula 7.4 counts them; a resume or a deploy
    // of a stopped or undeployed VM asks for them (and may be refused), the other steps of
    // the life cycle take them back unchecked.
    let held = holds_running_quota(phase.0, phase.1);
    let holds = holds_running_quota(to.0, to.1);
    if held != holds {
        let asked = matches!(event, Event::Action(UserAction::Resume) | Event::Deploy(_));
        running_quota(tx, vm, holds, holds && asked)?;
    }
    let mut follow = Followup::default();
    if to != phase {
        vm.prev_state = vm.state;
        vm.prev_lcm_state = vm.lcm_state;
    }
    vm.state = to.0;
    vm.lcm_state = to.1;
    super::cancel_on_leave(vm);
    for effect in effects {
        match effect {
            Effect::OpenHistory => {
                let at = at.ok_or_else(|| Error::internal("a placement is needed here"))?;
                open_history(tx, vm, at)?;
            }
            Effect::LeaveHost => {
                leave_host(tx, vm)?;
                follow.schedule = true;
            }
            Effect::CommitMigration => {
                commit_migration(tx, vm)?;
                follow.schedule = true;
            }
            Effect::RollbackMigration => {
                rollback_migration(tx, vm)?;
                follow.schedule = true;
            }
            Effect::Release => release(tx, vm)?,
            Effect::Schedule => follow.schedule = true,
            Effect::SetResched => {
                vm.resched = true;
                follow.schedule = true;
            }
            Effect::ClearResched => vm.resched = false,
            Effect::SetOrigin(o) => vm.origin = origin_from(o),
            Effect::CommitReconfig => super::changes::commit(tx, vm)?,
            Effect::RollbackReconfig => super::changes::rollback(tx, vm)?,
            Effect::Run(op) => {
                let (host_id, target_host_id) = op_hosts(vm, op)
                    .ok_or_else(|| Error::internal("the VM has no host to run on"))?;
                vm.op_seq += 1;
                follow.dispatch.push(Dispatch {
                    vm_id: vm.meta.id,
                    seq: vm.op_seq,
                    op,
                    host_id,
                    target_host_id,
                });
            }
        }
    }
    // The action goes on the open record; a closed one keeps the action that closed it.
    if let Some(action) = action
        && let Some(h) = vm
            .current_mut()
            .filter(|h| h.etime == 0 || to.0 == VmState::Done)
    {
        h.action = action.code();
        h.uid = who.map_or(-1, |c| c.uid);
        h.gid = who.map_or(-1, |c| c.gid);
    }
    stamp_times(vm, to);
    if to.0 == VmState::Done {
        vm.resched = false;
    }
    Ok(follow)
}
