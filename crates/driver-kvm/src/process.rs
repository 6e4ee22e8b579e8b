//! QEMU processes: whether the one recorded in a VM's pid file still runs (and is that
//! VM's QEMU, not a recycled pid), its CPU time and memory, and killing it.

use std::path::Path;

use rustix::process::{Pid, Signal, kill_process};

/// A running QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    /// Its pid.
    pub pid: i32,
}

/// The QEMU of the VM whose files are in `dir` (pid file `pid_file`), if it runs.
pub fn find(pid_file: &Path, dir: &Path) -> Option<Running> {
    let text = std::fs::read_to_string(pid_file).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses.
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let needle = dir.to_string_lossy();
    let ours = cmdline
        .split(|b| *b == 0)
        .any(|arg| String::from_utf8_lossy(arg).contains(needle.as_ref()));
    ours.then_some(Running { pid })
}

/// Sends SIGKILL.
pub fn kill(running: Running) {
    if let Some(pid) = Pid::from_raw(running.pid) {
        let _ = kill_process(pid, Signal::KILL);
    }
}

/// CPU time used so far (clock ticks: user + system) and resident memory (KB).
pub fn usage(running: Running) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", running.pid)).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command name: state is field 0, utime 11, stime 12, rss (pages) 21.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    Some((utime + stime, rss_pages * 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_pid_file_means_not_running() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(find(&dir.path().join("qemu.pid"), dir.path()).is_none());
    }

    #[test]
    fn a_pid_of_another_program_is_not_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("qemu.pid");
        std::fs::write(&pid_file, std::process::id().to_string()).expect("write");
        assert!(find(&pid_file, dir.path()).is_none());
        let me = Running {
            pid: i32::try_from(std::process::id()).expect("pid"),
        };
        assert!(usage(me).is_some_and(|(_, rss)| rss > 0));
    }
}
