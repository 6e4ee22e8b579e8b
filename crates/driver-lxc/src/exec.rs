//! Commands run in a container for `vm.exec` (OpenNebula 7.4's guest command execution):
//! the command line is split into words as a shell would (no shell runs it, as
//! OpenNebula's drivers run it), its standard input is the request's base64, and it runs
//! with the runtime's `exec` in the background. When it ends, its result — exit code and
//! the first 64 KiB of each output, base64 — is kept in the container's directory and
//! reported with every report until the next command, as QEMU_GA_EXEC. A cancel kills it.
//! Health checks' commands run the same way, but waited for and bounded in time
//! ([`LxcDriver::check_command`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use nubo_driver::{CheckOutcome, ExecReport, ExecSpec};

use crate::LxcDriver;
use crate::error::LxcError;
use crate::layout::ContainerDir;
use crate::runtime::ExecCommand;

/// The most of each output kept in the result.
pub const RESULT_OUTPUT_LIMIT: usize = 64 * 1024;

/// How long a command may run before it is killed.
const EXEC_TIMEOUT: Duration = Duration::from_secs(3600);

/// The longest command line taken.
const COMMAND_LIMIT: usize = 64 * 1024;

/// Commands running now, by VM.
#[derive(Debug, Default)]
pub(crate) struct Running {
    by_vm: Mutex<HashMap<i32, Handle>>,
}

#[derive(Debug, Clone)]
struct Handle {
    pid_file: PathBuf,
    cancelled: Arc<AtomicBool>,
}

fn b64(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(RESULT_OUTPUT_LIMIT)];
    base64::engine::general_purpose::STANDARD.encode(cut)
}

/// The program and arguments of a command line, split as a shell splits words.
pub fn words(command: &str) -> Result<Vec<String>, LxcError> {
    if command.len() > COMMAND_LIMIT {
        return Err(LxcError::BadRequest("the command is too long".into()));
    }
    let words = shell_words::split(command)
        .map_err(|e| LxcError::BadRequest(format!("the command does not parse: {e}")))?;
    if words.is_empty() {
        return Err(LxcError::BadRequest("no command to run".into()));
    }
    Ok(words)
}

/// Kills the process whose pid (on the host) the runtime wrote into `pid_file`.
async fn kill_pid_in(pid_file: &std::path::Path) {
    let pid = tokio::fs::read_to_string(pid_file)
        .await
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        // Gone already is as good as killed.
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

impl LxcDriver {
    /// Starts `spec` in VM `vm_id`'s running container (operation number `seq`).
    pub(crate) async fn exec_start(
        &self,
        vm_id: i32,
        seq: u64,
        spec: &ExecSpec,
    ) -> Result<String, LxcError> {
        let args = words(&spec.command)?;
        let stdin = base64::engine::general_purpose::STANDARD
            .decode(spec.stdin_b64.trim())
            .map_err(|e| LxcError::BadRequest(format!("the standard input is not base64: {e}")))?;
        if self.status(vm_id).await.as_deref() != Some("running") {
            return Err(LxcError::BadRequest("the container is not running".into()));
        }
        let dir = self.dir(vm_id);
        if self.running_exec(vm_id).is_some() {
            return Err(LxcError::BadRequest(
                "a command is already being executed".into(),
            ));
        }
        let _ = tokio::fs::remove_file(dir.exec_result()).await;
        let handle = Handle {
            pid_file: dir.root().join("exec.pid"),
            cancelled: Arc::new(AtomicBool::new(false)),
        };
        let _ = tokio::fs::remove_file(&handle.pid_file).await;
        self.execs()
            .by_vm
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(vm_id, handle.clone());
        let me = self.clone();
        let command = ExecCommand {
            args,
            env: Vec::new(),
            stdin,
            timeout: EXEC_TIMEOUT,
            pid_file: Some(handle.pid_file.clone()),
        };
        tokio::spawn(async move {
            let out = me.exec(vm_id, &command).await;
            let pid = tokio::fs::read_to_string(&handle.pid_file)
                .await
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(-1);
            let cancelled = handle.cancelled.load(Ordering::SeqCst);
            let report = match out {
                Ok(o) => ExecReport {
                    seq,
                    pid,
                    status: if cancelled { "CANCELLED" } else { "DONE" }.into(),
                    return_code: if o.timed_out { -1 } else { o.code },
                    stdout_b64: b64(&o.stdout),
                    stderr_b64: b64(&o.stderr),
                },
                Err(e) => ExecReport {
                    seq,
                    pid,
                    status: if cancelled { "CANCELLED" } else { "DONE" }.into(),
                    return_code: -1,
                    stdout_b64: String::new(),
                    stderr_b64: b64(e.to_string().as_bytes()),
                },
            };
            me.keep_exec_result(&me.dir(vm_id), &report).await;
            me.execs()
                .by_vm
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&vm_id);
        });
        Ok(String::new())
    }

    /// Runs a health check's command in VM `vm_id`'s running container, as its process
    /// runs (its environment, user and directory), and waits for it; one that outlives
    /// `timeout` is killed, in the container too.
    pub(crate) async fn check_command(
        &self,
        vm_id: i32,
        args: Vec<String>,
        timeout: Duration,
    ) -> Result<CheckOutcome, LxcError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let pid_file = self.dir(vm_id).root().join(format!(
            "check-{}.pid",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let command = ExecCommand {
            args,
            timeout: timeout.min(nubo_driver::CHECK_TIMEOUT_MAX),
            pid_file: Some(pid_file.clone()),
            ..ExecCommand::default()
        };
        let out = self.exec(vm_id, &command).await;
        if matches!(&out, Ok(o) if o.timed_out) {
            kill_pid_in(&pid_file).await;
        }
        let _ = tokio::fs::remove_file(&pid_file).await;
        let out = out?;
        Ok(CheckOutcome::new(
            out.code,
            out.timed_out,
            &out.stdout,
            &out.stderr,
        ))
    }

    fn running_exec(&self, vm_id: i32) -> Option<Handle> {
        self.execs()
            .by_vm
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&vm_id)
            .cloned()
    }

    /// Stops the command running in VM `vm_id`'s container.
    pub(crate) async fn exec_cancel(&self, vm_id: i32) -> Result<String, LxcError> {
        let Some(handle) = self.running_exec(vm_id) else {
            return Err(LxcError::BadRequest(
                "there is no command being executed".into(),
            ));
        };
        handle.cancelled.store(true, Ordering::SeqCst);
        kill_pid_in(&handle.pid_file).await;
        Ok(String::new())
    }

    async fn keep_exec_result(&self, dir: &ContainerDir, report: &ExecReport) {
        let path = dir.exec_result();
        let Ok(json) = serde_json::to_vec(report) else {
            return;
        };
        let tmp = path.with_extension("tmp");
        if tokio::fs::metadata(dir.root()).await.is_ok()
            && tokio::fs::write(&tmp, json).await.is_ok()
        {
            let _ = tokio::fs::rename(&tmp, &path).await;
        }
    }

    /// The result of the last command run in the container, once it ended.
    pub(crate) async fn exec_result(&self, dir: &ContainerDir) -> Option<ExecReport> {
        let text = tokio::fs::read(dir.exec_result()).await.ok()?;
        serde_json::from_slice(&text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(nubo_testkit::cases(256))]

        /// Any command line is split or refused, never more than it holds.
        #[test]
        fn any_command_line_splits_or_is_refused(text in nubo_testkit::hostile_text()) {
            if let Ok(w) = words(&text) {
                proptest::prop_assert!(!w.is_empty());
                proptest::prop_assert!(w.iter().map(String::len).sum::<usize>() <= text.len());
            }
        }
    }

    #[test]
    fn command_lines_split_as_a_shell_splits_them() {
        assert_eq!(
            words("sh -c 'echo \"a b\"; exit 3'").expect("words"),
            ["sh", "-c", "echo \"a b\"; exit 3"]
        );
        assert!(words("").is_err());
        assert!(words("echo 'unterminated").is_err());
        assert!(words(&"x".repeat(COMMAND_LIMIT + 1)).is_err());
        assert_eq!(
            b64(&vec![0u8; RESULT_OUTPUT_LIMIT * 2]).len(),
            (RESULT_OUTPUT_LIMIT / 3 + 1) * 4
        );
    }
}
