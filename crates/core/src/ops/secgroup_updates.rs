//! Bringing the VMs of a security group up to date with its rules, as OpenNebula does
//! after `secgroup.update` and `secgroup.commit`: a VM moves OUTDATED → UPDATING (its
//! host's firewall is being rewritten) → UPDATED, or ERROR when that failed. A VM with no
//! guest on a host is UPDATED at once (its next deploy takes the current rules); one in
//! the middle of another operation waits until it is RUNNING again. Groups whose rules name
//! another group (`REMOTE_GROUP_ID`) are outdated whenever that group's members change.

use std::collections::{BTreeMap, HashSet};

use nubo_types::states::{LcmState, VmState};
use nubo_types::{Oid, Result};

use crate::Core;
use crate::model::{SecGroup, Vm};
use crate::state::State;
use crate::tx::Tx;

/// One VM whose filtered NICs must get the current rules of some of its groups.
#[derive(Debug, Clone, PartialEq)]
pub struct SgUpdate {
    pub vm_id: Oid,
    /// The groups whose rules are being brought to it.
    pub group_ids: Vec<Oid>,
}

/// What to do now with an outdated VM.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// Rewrite its host's firewall.
    Update,
    /// Nothing to rewrite: it takes the rules when it is next deployed.
    Updated,
    /// Another operation is in flight; look again later.
    Wait,
    /// It is gone.
    Drop,
}

/// What to do now with VM `vm` (none: gone).
pub(crate) fn step(vm: Option<&Vm>) -> Step {
    let Some(vm) = vm else {
        return Step::Drop;
    };
    match vm.state {
        VmState::Done => Step::Drop,
        VmState::Active if vm.lcm_state == LcmState::Running && vm.pending.is_none() => {
            Step::Update
        }
        VmState::Active
            if vm.pending.is_some()
                || vm.lcm_state == LcmState::Unknown
                || nubo_lifecycle::pending_op(vm.lcm_state).is_some() =>
        {
            Step::Wait
        }
        _ => Step::Updated,
    }
}

/// How the update of a VM went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    Updated,
    Failed,
    /// The VM was busy by the time its host was to be asked: OUTDATED again.
    Retry,
}

/// Marks the VMs of group `sg` outdated: all of them, or (with `outdated_only`) only those
/// not up to date (being updated, or whose last update failed), as OpenNebula's commit.
pub(crate) fn mark_outdated(sg: &mut SecGroup, outdated_only: bool) {
    let mut moved = std::mem::take(&mut sg.error_vms);
    moved.append(&mut sg.updating_vms);
    if !outdated_only {
        moved.append(&mut sg.updated_vms);
    }
    sg.outdated_vms.append(&mut moved);
}

/// Which VMs a claim takes besides the OUTDATED ones.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Also {
    /// UPDATING ones, left by a previous run of nubod.
    pub updating: bool,
    /// ERROR ones, whose last update failed (tried again now and then).
    pub failed: bool,
}

/// The VMs a claim looks at in group `g`.
fn candidates(g: &SecGroup, also: Also) -> impl Iterator<Item = &Oid> {
    g.outdated_vms
        .iter()
        .chain(g.updating_vms.iter().filter(move |_| also.updating))
        .chain(g.error_vms.iter().filter(move |_| also.failed))
}

/// Marks outdated the VMs of every group whose rules name group `sg`, whose members (and
/// so those rules' peers) just changed. The updater finds them on its next round.
pub(crate) fn outdate_referrers(tx: &mut Tx, sg: Oid) -> Result<()> {
    let referrers: Vec<Oid> = tx
        .state
        .secgroups
        .values()
        .filter(|g| super::secgroup::refers_to(g, sg))
        .map(|g| g.meta.id)
        .collect();
    for id in referrers {
        let mut g = tx.get_mut::<SecGroup>(id)?;
        mark_outdated(&mut g, false);
        tx.put(g)?;
    }
    Ok(())
}

impl Core {
    /// Takes from every group's OUTDATED set (and those `also` names) the VMs that can be
    /// updated now: the updates to carry out. VMs busy with another operation, or with an
    /// update already in flight (`busy`), stay OUTDATED for a later round. Nothing is
    /// written when nothing can move.
    pub(crate) async fn claim_sg_updates(
        &self,
        also: Also,
        busy: &HashSet<Oid>,
    ) -> Result<Vec<SgUpdate>> {
        let decide = |state: &State, vm_id: Oid| {
            if busy.contains(&vm_id) {
                Step::Wait
            } else {
                step(state.vms.get(&vm_id).map(|v| &**v))
            }
        };
        let any = self.read(|state| {
            Ok(state
                .secgroups
                .values()
                .any(|g| candidates(g, also).any(|vm| decide(state, *vm) != Step::Wait)))
        })?;
        if !any {
            return Ok(Vec::new());
        }
        self.write(move |tx| {
            let mut jobs: BTreeMap<Oid, Vec<Oid>> = BTreeMap::new();
            let groups: Vec<Oid> = tx
                .state
                .secgroups
                .values()
                .filter(|g| candidates(g, also).next().is_some())
                .map(|g| g.meta.id)
                .collect();
            for gid in groups {
                let before = tx.get_mut::<SecGroup>(gid)?;
                let mut g = before.clone();
                let mut todo = std::mem::take(&mut g.outdated_vms);
                if also.updating {
                    todo.append(&mut g.updating_vms);
                }
                if also.failed {
                    todo.append(&mut g.error_vms);
                }
                for vm_id in todo {
                    match decide(tx.state, vm_id) {
                        Step::Update => {
                            g.updating_vms.insert(vm_id);
                            jobs.entry(vm_id).or_default().push(gid);
                        }
                        Step::Updated => {
                            g.updated_vms.insert(vm_id);
                        }
                        Step::Wait => {
                            g.outdated_vms.insert(vm_id);
                        }
                        Step::Drop => {}
                    }
                }
                if g != before {
                    tx.put(g)?;
                }
            }
            Ok(jobs
                .into_iter()
                .map(|(vm_id, group_ids)| SgUpdate { vm_id, group_ids })
                .collect())
        })
        .await
    }

    /// Records how the update of a VM went. A VM no longer UPDATING in a group (outdated
    /// again by a newer change, or gone from it) is left as it is.
    pub(crate) async fn finish_sg_update(&self, update: SgUpdate, outcome: Outcome) -> Result<()> {
        self.write(move |tx| finish(tx, &update, outcome)).await
    }
}

fn finish(tx: &mut Tx, update: &SgUpdate, outcome: Outcome) -> Result<()> {
    for gid in &update.group_ids {
        let Ok(mut g) = tx.get_mut::<SecGroup>(*gid) else {
            continue;
        };
        if !g.updating_vms.remove(&update.vm_id) {
            continue;
        }
        match outcome {
            Outcome::Updated => g.updated_vms.insert(update.vm_id),
            Outcome::Failed => g.error_vms.insert(update.vm_id),
            Outcome::Retry => g.outdated_vms.insert(update.vm_id),
        };
        tx.put(g)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_outdates_every_vm_or_only_those_not_up_to_date() {
        let set = |ids: &[Oid]| ids.iter().copied().collect();
        let mut sg = SecGroup {
            meta: crate::model::Meta::of_oneadmin(100, "g", Default::default()),
            updated_vms: set(&[1]),
            outdated_vms: set(&[2]),
            updating_vms: set(&[3]),
            error_vms: set(&[4]),
            template: nubo_template::Template::new(),
        };
        let mut only = sg.clone();
        mark_outdated(&mut only, true);
        assert_eq!(
            only.outdated_vms.iter().copied().collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert_eq!(only.updated_vms.iter().copied().collect::<Vec<_>>(), [1]);
        mark_outdated(&mut sg, false);
        assert_eq!(
            sg.outdated_vms.iter().copied().collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert!(sg.updated_vms.is_empty() && sg.updating_vms.is_empty() && sg.error_vms.is_empty());
    }
}
