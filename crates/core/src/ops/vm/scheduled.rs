//! Writes made by the runtime rather than by a caller: the scheduler's placements and
//! messages.

use nubo_lifecycle::{Event, MigrateKind};
use nubo_types::states::VmState;
use nubo_types::{Oid, Result};

use super::transition::{Followup, Placement, apply_event, deploy_event};
use crate::Core;
use crate::model::{Host, Vm};

impl Core {
    /// Commits scheduler decisions: deploys VMs on their hosts (when they are still
    /// pending and the host still has room), and records SCHED_MESSAGE for the others.
    pub(crate) async fn place_vms(
        &self,
        outcomes: Vec<(Oid, std::result::Result<Oid, String>)>,
    ) -> Result<()> {
        let follow = self
            .write(move |tx| {
                let mut follow = Followup::default();
                for (id, outcome) in outcomes {
                    let Ok(vm) = tx.get::<Vm>(id) else { continue };
                    if vm.state != VmState::Pending {
                        continue;
                    }
                    let mut vm = (*vm).clone();
                    match outcome {
                        Ok(host_id) => {
                            let host = tx.get::<Host>(host_id)?;
                            if !host.share.has_room(vm.cpu.hundredths(), vm.memory_kb()) {
                                continue;
                            }
                            let ds_id = match super::system_ds::choose(tx.state, &host, &vm) {
                                Ok(ds) => ds,
                                Err(message) => {
                                    if set_message(&mut vm, &message) {
                                        tx.put(vm)?;
                                    }
                                    continue;
                                }
                            };
                            let at = Placement { host_id, ds_id };
                            let event = deploy_event(&vm);
                            match apply_event(tx, None, &mut vm, event, Some(at)) {
                                Ok(f) => {
                                    vm.user_template.remove("SCHED_MESSAGE");
                                    follow.extend(f);
                                    tx.put(vm)?;
                                }
                                Err(e) => {
                                    // A quota on running VMs, say: say why and wait.
                                    vm = (*tx.get::<Vm>(id)?).clone();
                                    if set_message(&mut vm, &e.to_string()) {
                                        tx.put(vm)?;
                                    }
                                }
                            }
                        }
                        Err(message) => {
                            if set_message(&mut vm, &message) {
                                tx.put(vm)?;
                            }
                        }
                    }
                }
                Ok(follow)
            })
            .await?;
        self.follow_up(follow);
        Ok(())
    }
}

impl Core {
    /// Commits rescheduling decisions: each VM still flagged moves to its new host (a
    /// live migration when RUNNING, a cold one when powered off) and loses the flag.
    pub(crate) async fn migrate_vms(&self, moves: Vec<(Oid, Oid)>) -> Result<()> {
        let follow = self
            .write(move |tx| {
                let mut follow = Followup::default();
                for (id, host_id) in moves {
                    let Ok(vm) = tx.get::<Vm>(id) else { continue };
                    if !vm.resched || vm.host_id() == Some(host_id) {
                        continue;
                    }
                    let kind = if vm.state == VmState::Poweroff {
                        MigrateKind::Cold
                    } else {
                        MigrateKind::Live
                    };
                    let mut vm = (*vm).clone();
                    let host = tx.get::<Host>(host_id)?;
                    let Ok(ds_id) = super::system_ds::choose(tx.state, &host, &vm) else {
                        continue;
                    };
                    let at = Placement { host_id, ds_id };
                    vm.resched = false;
                    if let Ok(f) = apply_event(tx, None, &mut vm, Event::Migrate(kind), Some(at)) {
                        follow.extend(f);
                        tx.put(vm)?;
                    }
                }
                Ok(follow)
            })
            .await?;
        self.follow_up(follow);
        Ok(())
    }
}

/// Sets SCHED_MESSAGE; false when it already says that.
fn set_message(vm: &mut Vm, message: &str) -> bool {
    if vm.user_template.get("SCHED_MESSAGE") == Some(message) {
        return false;
    }
    vm.user_template.set("SCHED_MESSAGE", message.to_string());
    true
}
