//! Bringing the VMs of a security group up to date with its rules, as OpenNebula does
//! after `secgroup.update` and `secgroup.commit`: a VM moves OUTDATED → UPDATING (its
//! host's firewall is being rewritten) → UPDATED, or ERROR when that failed. A VM with no
//! guest on a host is UPDATED at once (its next deploy takes the current rules); one in
//! the middle of another operation waits until it is RUNNING again.

use std::collections::BTreeMap;

use nubo_types::states::{LcmState, VmState};
use nubo_types::{Oid, Result};

use crate::Core;
use crate::model::{SecGroup, Vm};
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
enum Step {
    /// Rewrite its host's firewall.
    Update,
    /// Nothing to rewrite: it takes the rules when it is next deployed.
    Updated,
    /// Another operation is in flight; look again later.
    Wait,
    /// It is gone.
    Drop,
}

fn step(vm: Option<&Vm>) -> Step {
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

/// Marks the VMs of group `sg` outdated: all of them, or (with `outdated_only`) only those
/// whose last update failed, besides those already outdated.
pub(super) fn mark_outdated(sg: &mut SecGroup, outdated_only: bool) {
    let mut moved = std::mem::take(&mut sg.error_vms);
    if !outdated_only {
        moved.append(&mut sg.updated_vms);
        moved.append(&mut sg.updating_vms);
    }
    sg.outdated_vms.append(&mut moved);
}

impl Core {
    /// Takes from every group's OUTDATED set (and, with `restart`, its UPDATING set, left
    /// by a previous run of nubod) the VMs that can be updated now: the updates to carry
    /// out, and whether some VMs must wait.
    pub(crate) async fn claim_sg_updates(&self, restart: bool) -> Result<(Vec<SgUpdate>, bool)> {
        self.write(move |tx| {
            let mut jobs: BTreeMap<Oid, Vec<Oid>> = BTreeMap::new();
            let mut waiting = false;
            let groups: Vec<Oid> = tx
                .state
                .secgroups
                .values()
                .filter(|g| !g.outdated_vms.is_empty() || (restart && !g.updating_vms.is_empty()))
                .map(|g| g.meta.id)
                .collect();
            for gid in groups {
                let before = tx.get_mut::<SecGroup>(gid)?;
                let mut g = before.clone();
                let mut todo = std::mem::take(&mut g.outdated_vms);
                if restart {
                    todo.append(&mut g.updating_vms);
                }
                for vm_id in todo {
                    match step(tx.state.vms.get(&vm_id).map(|v| &**v)) {
                        Step::Update => {
                            g.updating_vms.insert(vm_id);
                            jobs.entry(vm_id).or_default().push(gid);
                        }
                        Step::Updated => {
                            g.updated_vms.insert(vm_id);
                        }
                        Step::Wait => {
                            g.outdated_vms.insert(vm_id);
                            waiting = true;
                        }
                        Step::Drop => {}
                    }
                }
                if g != before {
                    tx.put(g)?;
                }
            }
            Ok((
                jobs.into_iter()
                    .map(|(vm_id, group_ids)| SgUpdate { vm_id, group_ids })
                    .collect(),
                waiting,
            ))
        })
        .await
    }

    /// Records how the update of a VM went. A VM no longer UPDATING in a group (outdated
    /// again by a newer change, or gone from it) is left as it is.
    pub(crate) async fn finish_sg_update(&self, update: SgUpdate, ok: bool) -> Result<()> {
        self.write(move |tx| finish(tx, &update, ok)).await
    }
}

fn finish(tx: &mut Tx, update: &SgUpdate, ok: bool) -> Result<()> {
    for gid in &update.group_ids {
        let Ok(mut g) = tx.get_mut::<SecGroup>(*gid) else {
            continue;
        };
        if !g.updating_vms.remove(&update.vm_id) {
            continue;
        }
        if ok {
            g.updated_vms.insert(update.vm_id);
        } else {
            g.error_vms.insert(update.vm_id);
        }
        tx.put(g)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_outdates_every_vm_or_only_the_failed_ones() {
        let set = |ids: &[Oid]| ids.iter().copied().collect();
        let mut sg = SecGroup {
            meta: crate::model::Meta {
                id: 100,
                name: "g".into(),
                uid: 0,
                gid: 0,
                uname: "oneadmin".into(),
                gname: "oneadmin".into(),
                perms: nubo_types::Permissions::default(),
                lock: None,
            },
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
            [2, 4]
        );
        assert_eq!(only.updated_vms.len() + only.updating_vms.len(), 2);
        mark_outdated(&mut sg, false);
        assert_eq!(
            sg.outdated_vms.iter().copied().collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert!(sg.updated_vms.is_empty() && sg.updating_vms.is_empty() && sg.error_vms.is_empty());
    }
}
