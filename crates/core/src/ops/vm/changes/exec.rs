//! Guest command execution, OpenNebula 7.4's `vm.exec`, `vm.retryexec` and
//! `vm.cancelexec` (DispatchManager::exec / exec_cancel): a RUNNING VM takes the command
//! and its base64 standard input into its `QEMU_GA_EXEC` vector and goes HOTPLUG while
//! its driver starts it; then it is RUNNING again with STATUS=EXECUTING, and the result
//! the host reports (PID, RETURN_CODE, base64 STDOUT and STDERR) is merged with
//! STATUS=DONE. A cancel ends it with STATUS=CANCELLED, as does the VM leaving RUNNING.

use base64::Engine;

use super::*;
use nubo_driver::{ExecReport, ExecSpec};

/// The vector that records the command and its result.
pub(crate) const EXEC_ATTR: &str = "QEMU_GA_EXEC";

/// The longest command line taken.
const COMMAND_LIMIT: usize = 64 * 1024;
/// The longest standard input taken (base64).
const STDIN_LIMIT: usize = 1024 * 1024;

/// A field of the VM's QEMU_GA_EXEC.
pub(crate) fn field<'a>(vm: &'a Vm, key: &str) -> Option<&'a str> {
    vm.template
        .vectors(EXEC_ATTR)
        .next()
        .and_then(|p| get(p, key))
}

/// Sets fields of QEMU_GA_EXEC (made when missing), kept in the order the XSD lists them.
fn set_fields(vm: &mut Vm, fields: &[(&str, String)]) {
    if find_vector(&vm.template, EXEC_ATTR).is_none() {
        push_system(
            vm,
            Attribute::vector(EXEC_ATTR, Vec::<(String, String)>::new()),
        );
    }
    if let Some(at) = find_vector(&vm.template, EXEC_ATTR)
        && let Some(p) = vector_mut(&mut vm.template, at)
    {
        for (k, v) in fields {
            set(p, k, v);
        }
        p.sort_by(|a, b| a.0.cmp(&b.0));
    }
}

fn find_vector(t: &Template, name: &str) -> Option<usize> {
    t.attrs
        .iter()
        .position(|a| a.name == name && a.value.as_vector().is_some())
}

/// Sets QEMU_GA_EXEC's STATUS.
pub(crate) fn set_status(vm: &mut Vm, status: &str) {
    set_fields(vm, &[("STATUS", status.to_string())]);
}

/// A VM leaving RUNNING stops the command it was running: STATUS=CANCELLED (oned's
/// shutdown success and clean-up).
pub(crate) fn cancel_on_leave(vm: &mut Vm) {
    let running = vm.state == VmState::Active
        && matches!(vm.lcm_state, LcmState::Running | LcmState::Hotplug);
    if !running && field(vm, "STATUS") == Some("EXECUTING") {
        set_status(vm, "CANCELLED");
    }
}

/// Merges a result the host reported, when it is the one the VM waits for (the command
/// started by the VM's current operation, still EXECUTING). Whether the VM changed.
pub(crate) fn take_result(vm: &mut Vm, report: &ExecReport) -> bool {
    if report.seq != vm.op_seq || field(vm, "STATUS") != Some("EXECUTING") {
        return false;
    }
    set_fields(
        vm,
        &[
            ("PID", report.pid.to_string()),
            ("RETURN_CODE", report.return_code.to_string()),
            ("STATUS", report.status.clone()),
            ("STDERR", report.stderr_b64.clone()),
            ("STDOUT", report.stdout_b64.clone()),
        ],
    );
    true
}

/// What the driver runs for VM `vm`'s pending command.
pub(crate) fn exec_spec(vm: &Vm) -> ExecSpec {
    ExecSpec {
        command: field(vm, "COMMAND").unwrap_or_default().to_string(),
        stdin_b64: field(vm, "STDIN").unwrap_or_default().to_string(),
    }
}

fn running(vm: &Vm) -> bool {
    vm.state == VmState::Active && vm.lcm_state == LcmState::Running
}

impl Core {
    /// `vm.exec`: runs `command` with standard input `stdin_b64` in the guest.
    pub async fn vm_exec(
        &self,
        caller: &Caller,
        id: Oid,
        command: &str,
        stdin_b64: &str,
    ) -> Result<Oid> {
        if command.len() > COMMAND_LIMIT {
            return Err(Error::action(format!(
                "Could not execute command, the command is longer than {COMMAND_LIMIT} bytes"
            )));
        }
        if stdin_b64.len() > STDIN_LIMIT
            || base64::engine::general_purpose::STANDARD
                .decode(stdin_b64.trim())
                .is_err()
        {
            return Err(Error::action(format!(
                "Could not execute command, the standard input must be base64 of at most {STDIN_LIMIT} characters"
            )));
        }
        let (command, stdin) = (command.to_string(), stdin_b64.trim().to_string());
        self.start_exec(caller, id, Some((command, stdin))).await
    }

    /// `vm.retryexec`: runs the VM's last command again.
    pub async fn vm_exec_retry(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.start_exec(caller, id, None).await
    }

    async fn start_exec(
        &self,
        caller: &Caller,
        id: Oid,
        command: Option<(String, String)>,
    ) -> Result<Oid> {
        let (follow, out) = self
            .write(|tx| {
                let mut vm = (*fetch_for::<Vm>(tx.state, caller, id, AuthOp::Manage)?).clone();
                if !running(&vm) {
                    return Err(Error::action(
                        "Could not execute command, VM must be in running",
                    ));
                }
                if field(&vm, "STATUS") == Some("EXECUTING") {
                    return Err(Error::action(
                        "Could not execute command, a command is already being executed",
                    ));
                }
                let (command, stdin) = command.unwrap_or_else(|| {
                    let s = exec_spec(&vm);
                    (s.command, s.stdin_b64)
                });
                through_driver(tx, caller, &mut vm, "exec", Reconfig::Exec, |_, vm| {
                    vm.template.remove(EXEC_ATTR);
                    set_fields(vm, &[("COMMAND", command), ("STDIN", stdin)]);
                    Ok((Some(PendingChange::Exec), id))
                })
            })
            .await?;
        self.follow_up(follow);
        Ok(out)
    }

    /// `vm.cancelexec`: stops the command running in the guest.
    pub async fn vm_exec_cancel(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        let (follow, out) = self
            .write(|tx| {
                let mut vm = (*fetch_for::<Vm>(tx.state, caller, id, AuthOp::Manage)?).clone();
                if !running(&vm) {
                    return Err(Error::action(
                        "Could not cancel command, VM must be in running",
                    ));
                }
                if field(&vm, "STATUS") != Some("EXECUTING") {
                    return Err(Error::action(
                        "Could not cancel command, there is no command being executed",
                    ));
                }
                through_driver(
                    tx,
                    caller,
                    &mut vm,
                    "exec-cancel",
                    Reconfig::ExecCancel,
                    |_, _| Ok((Some(PendingChange::ExecCancel), id)),
                )
            })
            .await?;
        self.follow_up(follow);
        Ok(out)
    }
}
