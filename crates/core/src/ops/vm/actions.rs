//! The VM calls that change its phase: allocate, `vm.action`, deploy, migrate, recover;
//! and the intake of driver replies.

use nubo_lifecycle::{Event, MigrateKind, RecoverOp, UserAction};
use nubo_types::states::{DatastoreType, HostState, VmState};
use nubo_types::{AuthOp, Error, Oid, Result};

use super::create::create_vm;
use super::transition::{Followup, Placement, apply_event, deploy_event};
use crate::Core;
use crate::auth::{Caller, RestrictedKind, authorize};
use crate::model::{Datastore, Host, Vm};
use crate::ops::generic::{fetch_for, parse_template};
use crate::state::State;
use crate::tx::Tx;

/// A `vm.recover` request.
pub type RecoverRequest = RecoverOp;

/// The rights a `vm.action` needs (OpenNebula's default VM_*_OPERATIONS).
fn action_op(action: UserAction) -> AuthOp {
    match action {
        UserAction::Resched | UserAction::Unresched => AuthOp::Admin,
        _ => AuthOp::Manage,
    }
}

/// oned's `VirtualMachine::state_str()`: the LCM state while ACTIVE, else the VM state.
pub(super) fn state_str(vm: &Vm) -> &'static str {
    if vm.state == VmState::Active {
        vm.lcm_state.name()
    } else {
        vm.state.name()
    }
}

/// The refusal of `what` on `vm` in its state, worded as oned words each call
/// (DispatchManagerActions.cc, VirtualMachineAPI.cc, VirtualMachine::updateconf).
pub(super) fn wrong_state(what: &str, vm: &Vm) -> Error {
    let (id, s) = (vm.meta.id, state_str(vm));
    Error::action(match what {
        "terminate" | "terminate-hard" => format!(
            "Error performing action \"{what}\": Could not terminate VM {id}, wrong state {s}."
        ),
        "deploy" => format!("Deploy action is not available for state {s}"),
        "migrate" => format!("Migrate action is not available for state {s}"),
        "disk-attach" => format!("Could not attach a new disk to VM {id}, wrong state {s}."),
        "disk-detach" => format!("Could not detach disk from VM {id}, wrong state {s}."),
        "disk-resize" => format!("Could not resize disk for VM {id}, wrong state {s}."),
        "disk-saveas" => "VM has to be RUNNING, POWEROFF or SUSPENDED to save disks.".into(),
        "nic-attach" => format!("Could not add a new NIC to VM {id}, wrong state {s}."),
        "nic-detach" => format!("Could not detach NIC from VM {id}, wrong state {s}."),
        "sg-attach" | "sg-detach" => format!("VM {id} is in wrong state {s}"),
        "snapshot-create" | "disk-snapshot-create" => {
            format!("Could not create a new snapshot for VM {id}, wrong state {s}.")
        }
        "disk-snapshot-revert" => {
            format!("Could not revert to disk snapshot for VM {id}, wrong state {s}.")
        }
        "disk-snapshot-delete" => {
            format!("Could not delete disk snapshot from VM {id}, wrong state {s}.")
        }
        "resize" => format!("Cannot resize a VM in state {s}"),
        "updateconf" => format!("configuration cannot be updated in state {s}"),
        w if UserAction::from_name(w).is_some() => {
            format!("Error performing action \"{w}\": This action is not available for state {s}")
        }
        w => format!(
            "Error performing \"{w}\" on virtual machine [{id}]: wrong state {}/{}",
            vm.state.name(),
            vm.lcm_state.name()
        ),
    })
}

/// The reason of a quota refusal, without the `User [N] : ` and the final `.` of its
/// AUTHORIZATION form.
fn quota_reason(message: &str) -> &str {
    message
        .split_once(" : ")
        .map_or(message, |(_, m)| m)
        .trim_end_matches('.')
}

/// Runs `event` on VM `id` inside `tx`, mapping a refusal to the wrong-state error.
fn transition(
    tx: &mut Tx,
    who: &Caller,
    id: Oid,
    op: AuthOp,
    what: &str,
    event: Event,
    at: Option<Placement>,
) -> Result<Followup> {
    let mut vm = (*fetch_for::<Vm>(tx.state, who, id, op)?).clone();
    let follow = apply_event(tx, Some(who), &mut vm, event, at).map_err(|e| match e {
        // Over the running quotas: a resume is an ACTION error with the quota's bare
        // message ("user [N] limit of ..."), a deploy of a stopped or undeployed VM an
        // AUTHORIZATION one in the caller's name ("User [caller] : user [N] limit of ...."),
        // as in oned (VirtualMachineAPI::action and ::deploy).
        Error::Quota { message } if event == Event::Action(UserAction::Resume) => {
            Error::action(quota_reason(&message))
        }
        Error::Quota { message } => Error::Quota {
            message: format!("User [{}] : {}.", who.uid, quota_reason(&message)),
        },
        _ => wrong_state(what, &vm),
    })?;
    tx.put(vm)?;
    Ok(follow)
}

/// The system datastore for `vm` on `host`: `ds` if given, else the one the VM's
/// SCHED_DS_REQUIREMENTS and SCHED_DS_RANK choose.
/// What a caller must hold on the places it puts a VM (`vm.deploy`, `vm.migrate`), as in
/// oned: MANAGE on the host and USE on a system datastore it names.
fn may_place_on(state: &State, caller: &Caller, host: &Host, ds: Oid) -> Result<()> {
    authorize(state, caller, host, AuthOp::Manage)?;
    if ds >= 0 {
        authorize(
            state,
            caller,
            state.get::<Datastore>(ds)?.as_ref(),
            AuthOp::Use,
        )?;
    }
    Ok(())
}

fn system_ds(state: &State, host: &Host, vm: &Vm, ds: Oid) -> Result<Oid> {
    if ds >= 0 {
        let d = state.get::<Datastore>(ds)?;
        if d.ds_type != DatastoreType::System {
            return Err(Error::action(format!(
                "Datastore [{ds}] is not a system datastore"
            )));
        }
        return Ok(ds);
    }
    super::system_ds::choose(state, host, vm).map_err(Error::action)
}

/// Checks that `host` can take `vm` now (with `enforce`, its capacity too).
fn check_host(host: &Host, vm: &Vm, enforce: bool) -> Result<()> {
    if matches!(host.state, HostState::Offline | HostState::Error) {
        return Err(Error::action(format!(
            "Host [{}] is {} and cannot run VMs",
            host.id,
            host.state.name()
        )));
    }
    if enforce && !host.share.has_room(vm.cpu.hundredths(), vm.memory_kb()) {
        return Err(Error::action(format!(
            "Host [{}] does not have enough capacity for VM [{}]",
            host.id, vm.meta.id
        )));
    }
    Ok(())
}

impl Core {
    /// Creates a VM from a template (`vm.allocate`), PENDING, or HOLD with `hold`.
    pub async fn vm_allocate(&self, caller: &Caller, text: &str, hold: bool) -> Result<Oid> {
        let template = parse_template(text)
            .map_err(|e| Error::allocate(nubo_types::ObjectKind::Vm, e.to_string()))?;
        self.config()
            .restricted
            .check(caller, RestrictedKind::Vm, &template, None)?;
        let (id, follow) = self
            .write(move |tx| create_vm(tx, caller, template, hold, None))
            .await?;
        self.follow_up(follow);
        Ok(id)
    }

    /// Performs a `vm.action` by name.
    pub async fn vm_action(&self, caller: &Caller, name: &str, id: Oid) -> Result<Oid> {
        let action = UserAction::from_name(name)
            .ok_or_else(|| Error::action(format!("Action \"{name}\" is not supported")))?;
        let follow = self
            .write(|tx| {
                transition(
                    tx,
                    caller,
                    id,
                    action_op(action),
                    name,
                    Event::Action(action),
                    None,
                )
            })
            .await?;
        self.follow_up(follow);
        Ok(id)
    }

    /// Deploys a PENDING, HOLD, STOPPED or UNDEPLOYED VM on `host_id` (`vm.deploy`).
    pub async fn vm_deploy(
        &self,
        caller: &Caller,
        id: Oid,
        host_id: Oid,
        enforce: bool,
        ds_id: Oid,
    ) -> Result<Oid> {
        let follow = self
            .write(|tx| {
                let vm = fetch_for::<Vm>(tx.state, caller, id, AuthOp::Admin)?;
                let host = tx.state.get::<Host>(host_id)?.clone();
                may_place_on(tx.state, caller, &host, ds_id)?;
                check_host(&host, &vm, enforce)?;
                let at = Placement {
                    host_id,
                    ds_id: system_ds(tx.state, &host, &vm, ds_id)?,
                };
                let event = deploy_event(&vm);
                transition(tx, caller, id, AuthOp::Admin, "deploy", event, Some(at))
            })
            .await?;
        self.follow_up(follow);
        Ok(id)
    }

    /// Migrates a VM to `host_id` (`vm.migrate`): live, or cold (type 0 save, 1 poweroff,
    /// 2 poweroff-hard).
    #[allow(clippy::too_many_arguments)]
    pub async fn vm_migrate(
        &self,
        caller: &Caller,
        id: Oid,
        host_id: Oid,
        live: bool,
        enforce: bool,
        ds_id: Oid,
        kind: i32,
    ) -> Result<Oid> {
        let migrate = match (live, kind) {
            (true, _) => MigrateKind::Live,
            (false, 1) => MigrateKind::Poweroff,
            (false, 2) => MigrateKind::PoweroffHard,
            _ => MigrateKind::Cold,
        };
        let follow = self
            .write(|tx| {
                let vm = fetch_for::<Vm>(tx.state, caller, id, AuthOp::Admin)?;
                if vm.host_id() == Some(host_id) {
                    return Err(Error::action(format!(
                        "VM [{id}] is already running on host [{host_id}]"
                    )));
                }
                let host = tx.state.get::<Host>(host_id)?.clone();
                may_place_on(tx.state, caller, &host, ds_id)?;
                check_host(&host, &vm, enforce)?;
                let ds = match ds_id {
                    -1 => vm.current().map_or(0, |h| h.ds_id),
                    ds => ds,
                };
                let at = Placement {
                    host_id,
                    ds_id: system_ds(tx.state, &host, &vm, ds)?,
                };
                transition(
                    tx,
                    caller,
                    id,
                    AuthOp::Admin,
                    "migrate",
                    Event::Migrate(migrate),
                    Some(at),
                )
            })
            .await?;
        self.follow_up(follow);
        Ok(id)
    }

    /// Recovers a VM (`vm.recover`): op 0 failure, 1 success, 2 retry, 3 delete,
    /// 4 delete-recreate, 5 delete-db.
    pub async fn vm_recover(&self, caller: &Caller, id: Oid, op: i32) -> Result<Oid> {
        let op = RecoverOp::from_code(op)
            .ok_or_else(|| Error::action("Wrong recovery operation code"))?;
        let follow = self
            .write(|tx| {
                let vm = fetch_for::<Vm>(tx.state, caller, id, AuthOp::Admin)?;
                let settle = matches!(
                    op,
                    RecoverOp::Success | RecoverOp::Failure | RecoverOp::Retry
                );
                if settle
                    && nubo_lifecycle::next((vm.state, vm.lcm_state), Event::Recover(op)).is_err()
                {
                    // As in oned: an ACTIVE VM with nothing to recover (RUNNING, a
                    // phase waiting for its driver) is left as it is; any other state
                    // is refused with oned's words.
                    if vm.state == VmState::Active {
                        return Ok(Followup::default());
                    }
                    let what = if op == RecoverOp::Retry {
                        "a retry"
                    } else {
                        "a recover operation"
                    };
                    return Err(Error::action(format!(
                        "Could not perform {what} on VM {id}, wrong state {}.",
                        vm.state.name()
                    )));
                }
                transition(
                    tx,
                    caller,
                    id,
                    AuthOp::Admin,
                    "recover",
                    Event::Recover(op),
                    None,
                )
            })
            .await?;
        self.follow_up(follow);
        Ok(id)
    }

    /// Applies driver replies: each is (VM, operation sequence, success, message). A
    /// reply for an operation the VM no longer waits for is dropped.
    pub(crate) async fn driver_replies(
        &self,
        replies: Vec<(Oid, u64, std::result::Result<String, String>)>,
    ) -> Result<()> {
        let follow = self
            .write(move |tx| {
                let mut follow = Followup::default();
                for (id, seq, outcome) in replies {
                    let Ok(vm) = tx.get::<Vm>(id) else { continue };
                    if vm.op_seq != seq || vm.state == VmState::Done {
                        continue;
                    }
                    let mut vm = (*vm).clone();
                    let event = match &outcome {
                        Ok(info) => {
                            if vm.deploy_id.is_empty() && !info.is_empty() {
                                vm.deploy_id = info.clone();
                            }
                            vm.user_template.remove("ERROR");
                            Event::DriverSuccess
                        }
                        Err(message) => {
                            vm.user_template.set("ERROR", message.clone());
                            Event::DriverFailure
                        }
                    };
                    // The reply may race with a user's recover; a refused event is dropped.
                    if let Ok(f) = apply_event(tx, None, &mut vm, event, None) {
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
