//! The OCI runtime behind the driver. [`Runtime`] is the small seam the driver talks to;
//! [`OciCli`] drives a runtime through the command line that runc, crun and youki share
//! (`create`, `start`, `state`, `kill`, `delete`, `pause`, `resume`, `exec`), so a host
//! chooses its runtime by program name. Every process the driver starts in a container is
//! started by the runtime's command, never forked from the agent's own threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nubo_driver::BoxFuture;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::error::LxcError;

/// How long a runtime command other than `exec` may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The most output kept of each stream of an `exec`.
pub const EXEC_OUTPUT_LIMIT: usize = 1024 * 1024;

/// What the runtime says of a container.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ContainerState {
    /// `created`, `running`, `paused` or `stopped`.
    pub status: String,
    /// The init's pid on the host (0 when stopped).
    #[serde(default)]
    pub pid: i64,
}

/// A command to run in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecCommand {
    /// Program and arguments.
    pub args: Vec<String>,
    /// Environment variables (`KEY=value`), besides the container's.
    pub env: Vec<String>,
    /// Standard input.
    pub stdin: Vec<u8>,
    /// How long it may run before it is killed.
    pub timeout: Duration,
    /// Where the runtime writes the command's pid (on the host), so it can be stopped.
    pub pid_file: Option<PathBuf>,
}

/// What a command run in a container did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    /// Its exit code (-1: killed by a signal or timed out).
    pub code: i32,
    /// Its standard output (at most [`EXEC_OUTPUT_LIMIT`] bytes).
    pub stdout: Vec<u8>,
    /// Its standard error (at most [`EXEC_OUTPUT_LIMIT`] bytes).
    pub stderr: Vec<u8>,
    /// Whether it ran out of time.
    pub timed_out: bool,
}

/// A container's cgroup limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory, bytes (swap included: no swap beyond it).
    pub memory_bytes: i64,
    /// CPU time per period, µs.
    pub cpu_quota_us: i64,
    /// The period, µs.
    pub cpu_period_us: u64,
    /// CPU weight (1024 per CPU).
    pub cpu_shares: u64,
}

/// Where a new container's files are.
#[derive(Debug, Clone)]
pub struct CreateFiles<'a> {
    /// The OCI bundle (config.json and rootfs).
    pub bundle: &'a Path,
    /// Where the runtime writes the init's pid.
    pub pid_file: &'a Path,
    /// The init's standard output and error.
    pub console: &'a Path,
}

/// An OCI runtime.
pub trait Runtime: Send + Sync + std::fmt::Debug {
    /// The runtime's program, for messages.
    fn name(&self) -> &str;
    /// Creates container `id` from its bundle; its init waits for [`Runtime::start`].
    fn create<'a>(
        &'a self,
        id: &'a str,
        files: CreateFiles<'a>,
    ) -> BoxFuture<'a, Result<(), LxcError>>;
    /// Starts a created container's init.
    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), LxcError>>;
    /// The container's state; `None` when the runtime does not know it.
    fn state<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ContainerState>, LxcError>>;
    /// Every container the runtime knows, by id (one call for a whole report).
    fn list(&self) -> BoxFuture<'_, Result<HashMap<String, ContainerState>, LxcError>>;
    /// Sends `signal` (`TERM`, `KILL`) to the init, or to every process with `all`.
    fn kill<'a>(
        &'a self,
        id: &'a str,
        signal: &'a str,
        all: bool,
    ) -> BoxFuture<'a, Result<(), LxcError>>;
    /// Forgets a stopped container (with `force`, kills it first).
    fn delete<'a>(&'a self, id: &'a str, force: bool) -> BoxFuture<'a, Result<(), LxcError>>;
    /// Freezes every process of the container.
    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), LxcError>>;
    /// Thaws a frozen container.
    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), LxcError>>;
    /// Changes a running container's limits: memory (bytes, swap included), CPU time per
    /// period (µs) and CPU weight.
    fn update<'a>(&'a self, id: &'a str, limits: &'a Limits)
    -> BoxFuture<'a, Result<(), LxcError>>;
    /// Runs a command in a running container.
    fn exec<'a>(
        &'a self,
        id: &'a str,
        command: &'a ExecCommand,
    ) -> BoxFuture<'a, Result<ExecOutput, LxcError>>;
}

/// A runtime driven through its command line (runc, crun, youki), keeping its state under
/// `root` (so a restarted agent finds its containers again).
#[derive(Debug, Clone)]
pub struct OciCli {
    /// The program.
    pub program: String,
    /// The runtime's state directory (`--root`).
    pub root: PathBuf,
}

impl OciCli {
    /// `program` keeping its state under `root`.
    pub fn new(program: impl Into<String>, root: PathBuf) -> OciCli {
        OciCli {
            program: program.into(),
            root,
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.arg("--root").arg(&self.root);
        c.stdin(Stdio::null()).kill_on_drop(true);
        c
    }

    fn failure(&self, message: impl Into<String>) -> LxcError {
        LxcError::Runtime {
            program: self.program.clone(),
            message: message.into(),
        }
    }

    /// The error of a runtime that could not be started at all.
    fn not_started(&self, e: &std::io::Error) -> LxcError {
        if e.kind() == std::io::ErrorKind::NotFound {
            self.failure("the OCI runtime is not installed on this host (no such program)")
        } else {
            self.failure(e.to_string())
        }
    }

    /// Runs one runtime command to its end; its standard output.
    async fn run(&self, args: &[&str]) -> Result<String, LxcError> {
        let mut c = self.command();
        c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = tokio::time::timeout(COMMAND_TIMEOUT, c.output())
            .await
            .map_err(|_| self.failure(format!("{} did not finish in time", args.join(" "))))?
            .map_err(|e| self.not_started(&e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(self.failure(runtime_message(&out.stderr, &out.status.to_string())))
        }
    }
}

/// The message of a failed runtime command: its error output without the log prefix runc
/// puts before it (`time=… level=error msg="…"`).
fn runtime_message(stderr: &[u8], status: &str) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(status)
        .trim();
    match line.split_once("msg=") {
        Some((_, msg)) => msg.trim_matches('"').replace("\\\"", "\""),
        None => line.to_string(),
    }
}

/// What a stream carries, at most [`EXEC_OUTPUT_LIMIT`] bytes of it (the rest is read
/// and dropped, so the writer never blocks).
async fn read_bounded<R: tokio::io::AsyncRead + Unpin>(stream: Option<R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut s) = stream {
        let _ = (&mut s)
            .take(EXEC_OUTPUT_LIMIT as u64)
            .read_to_end(&mut buf)
            .await;
        let _ = tokio::io::copy(&mut s, &mut tokio::io::sink()).await;
    }
    buf
}

/// The last error the runtime wrote to its JSON log.
async fn last_logged_error(log: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct Line {
        level: String,
        msg: String,
    }
    let text = tokio::fs::read_to_string(log).await.ok()?;
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .find(|l| l.level == "error")
        .map(|l| l.msg)
}

impl Runtime for OciCli {
    fn name(&self) -> &str {
        &self.program
    }

    fn create<'a>(
        &'a self,
        id: &'a str,
        files: CreateFiles<'a>,
    ) -> BoxFuture<'a, Result<(), LxcError>> {
        Box::pin(async move {
            let log = files.bundle.join("runtime.log");
            let _ = tokio::fs::remove_file(&log).await;
            let console = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(files.console)
                .map_err(|e| LxcError::file(files.console, e))?;
            let console_err = console
                .try_clone()
                .map_err(|e| LxcError::file(files.console, e))?;
            let mut c = Command::new(&self.program);
            c.arg("--root")
                .arg(&self.root)
                .arg("--log")
                .arg(&log)
                .args(["--log-format", "json", "create", "--bundle"])
                .arg(files.bundle)
                .arg("--pid-file")
                .arg(files.pid_file)
                .arg(id)
                .stdin(Stdio::null())
                .stdout(console)
                .stderr(console_err)
                .kill_on_drop(true);
            let status = tokio::time::timeout(COMMAND_TIMEOUT, c.status())
                .await
                .map_err(|_| self.failure("create did not finish in time"))?
                .map_err(|e| self.not_started(&e))?;
            if status.success() {
                return Ok(());
            }
            let message = last_logged_error(&log)
                .await
                .unwrap_or_else(|| format!("create failed ({status})"));
            Err(self.failure(message))
        })
    }

    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), LxcError>> {
        Box::pin(async move { self.run(&["start", id]).await.map(drop) })
    }

    fn state<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ContainerState>, LxcError>> {
        Box::pin(async move {
            match self.run(&["state", id]).await {
                Ok(json) => serde_json::from_str(&json)
                    .map(Some)
                    .map_err(|e| self.failure(format!("unreadable state: {e}"))),
                Err(LxcError::Runtime { message, .. })
                    if message.contains("does not exist") || message.contains("not exist") =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<HashMap<String, ContainerState>, LxcError>> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Listed {
                id: String,
                #[serde(flatten)]
                state: ContainerState,
            }
            let json = self.run(&["list", "--format", "json"]).await?;
            // runc says `null` when it knows no container.
            let listed: Option<Vec<Listed>> = serde_json::from_str(json.trim())
                .map_err(|e| self.failure(format!("unreadable list: {e}")))?;
            Ok(listed
                .unwrap_or_default()
                .into_iter()
                .map(|l| (l.id, l.state))
                .collect())
        })
    }

    fn kill<'a>(
        &'a self,
        id: &'a str,
        signal: &'a str,
        all: bool,
    ) -> BoxFuture<'a, Result<(), LxcError>> {
        Box::pin(async move {
            let args: &[&str] = if all {
                &["kill", "--all", id, signal]
            } else {
                &["kill", id, signal]
            };
            self.run(args).await.map(drop)
        })
    }

    fn delete<'a>(&'a self, id: &'a str, force: bool) -> BoxFuture<'a, Result<(), LxcError>> {
        Box::pin(async move {
            let args: &[&str] = if force {
                &["delete", "--force", id]
            } else {
                &["delete", id]
            };
            self.run(args).await.map(drop)
        })
    }

    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), LxcError>> {
        Box::pin(async move { self.run(&["pause", id]).await.map(drop) })
    }

    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), LxcError>> {
        Box::pin(async move { self.run(&["resume", id]).await.map(drop) })
    }

    fn update<'a>(
        &'a self,
        id: &'a str,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<(), LxcError>> {
        Box::pin(async move {
            let memory = limits.memory_bytes.to_string();
            let quota = limits.cpu_quota_us.to_string();
            let period = limits.cpu_period_us.to_string();
            let shares = limits.cpu_shares.to_string();
            self.run(&[
                "update",
                "--memory",
                &memory,
                "--memory-swap",
                &memory,
                "--cpu-quota",
                &quota,
                "--cpu-period",
                &period,
                "--cpu-share",
                &shares,
                id,
            ])
            .await
            .map(drop)
        })
    }

    fn exec<'a>(
        &'a self,
        id: &'a str,
        command: &'a ExecCommand,
    ) -> BoxFuture<'a, Result<ExecOutput, LxcError>> {
        Box::pin(async move {
            if command.args.is_empty() {
                return Err(LxcError::BadRequest("no command to run".into()));
            }
            let mut c = self.command();
            c.arg("exec");
            if let Some(p) = &command.pid_file {
                c.arg("--pid-file").arg(p);
            }
            for e in &command.env {
                c.arg("--env").arg(e);
            }
            c.arg(id)
                .args(&command.args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = c.spawn().map_err(|e| self.not_started(&e))?;
            let stdin = child.stdin.take();
            let input = command.stdin.clone();
            let feed = async move {
                if let Some(mut s) = stdin {
                    // A command that does not read its input is not an error.
                    let _ = s.write_all(&input).await;
                }
            };
            let (out, err) = (child.stdout.take(), child.stderr.take());
            let run = async {
                let ((), stdout, stderr) = tokio::join!(feed, read_bounded(out), read_bounded(err));
                let status = child.wait().await;
                (stdout, stderr, status)
            };
            match tokio::time::timeout(command.timeout, run).await {
                Ok((stdout, stderr, status)) => {
                    let status = status.map_err(|e| self.failure(e.to_string()))?;
                    Ok(ExecOutput {
                        code: status.code().unwrap_or(-1),
                        stdout,
                        stderr,
                        timed_out: false,
                    })
                }
                Err(_) => Ok(ExecOutput {
                    code: -1,
                    timed_out: true,
                    ..ExecOutput::default()
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_runtime_is_named_as_such() {
        let rt = OciCli::new("nubo-no-such-runtime", PathBuf::from("/nonexistent"));
        let e = rt.state("one-1").await.expect_err("no runtime");
        assert!(e.to_string().contains("not installed"), "{e}");
        let e = rt.start("one-1").await.expect_err("no runtime");
        assert!(e.to_string().contains("not installed"), "{e}");
    }

    #[test]
    fn runtime_messages_lose_the_log_prefix() {
        let err = b"time=\"2026-12-07T04:00:00Z\" level=error msg=\"container \\\"one-3\\\" does not exist\"\n";
        assert_eq!(
            runtime_message(err, "exit 1"),
            "container \"one-3\" does not exist"
        );
        assert_eq!(
            runtime_message(b"plain failure\n\n", "exit 1"),
            "plain failure"
        );
        assert_eq!(runtime_message(b"", "exit status: 1"), "exit status: 1");
    }
}
