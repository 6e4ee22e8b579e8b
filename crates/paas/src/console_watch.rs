//! Following a PaaS container (a build, a one-off run) to its end: its console copied into
//! a log as it runs, until it powers off (its init ended), fails, or its time is up. The
//! VM's state (in nubod's memory) is looked at every [`LOOK`], so that the end is seen
//! soon after the host reports it; the console (a request to the host) is read every
//! [`READ_CONSOLE_EVERY`], and once more at the end.

use std::path::Path;

use nubo_core::Caller;
use nubo_core::model::Vm;
use nubo_types::Oid;
use nubo_types::states::{LcmState, VmState};
use tokio::time::Instant;

use crate::Paas;
use crate::build_runner::Failure;
use crate::error::Result;
use crate::logs;

/// How often the container's state is looked at.
const LOOK: std::time::Duration = std::time::Duration::from_millis(50);
/// How often its console is read while it runs.
const READ_CONSOLE_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// What to follow and how long.
#[derive(Debug)]
pub(crate) struct Follow<'a> {
    /// The log the console goes into.
    pub log: &'a Path,
    /// Where the console was read up to.
    pub offset: u64,
    /// When to give up.
    pub deadline: Instant,
    /// What the container is for (`build`, `run`), for messages.
    pub what: &'static str,
}

/// How a followed container ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// Its init ended: the container powered off.
    PoweredOff,
    /// The time was up (it is still running).
    TimedOut,
}

impl Paas {
    /// Copies VM `vm`'s console into the log from the offset on until the VM powers off or
    /// the deadline passes; `save` is given each new offset, to keep it with its record. A
    /// VM that fails (a FAILURE state, DONE, …) is a [`Failure`] naming what it was for.
    pub(crate) async fn follow_console<F, Fut>(
        &self,
        owner: &Caller,
        vm: Oid,
        follow: Follow<'_>,
        mut save: F,
    ) -> Result<Ended, Failure>
    where
        F: FnMut(u64) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let Follow {
            log,
            mut offset,
            deadline,
            what,
        } = follow;
        let mut console_read: Option<Instant> = None;
        loop {
            let info = self.core().info::<Vm>(owner, vm)?;
            let read_due = console_read.is_none_or(|at| at.elapsed() >= READ_CONSOLE_EVERY);
            if read_due && !info.history.is_empty() {
                console_read = Some(Instant::now());
                if let Ok(chunk) = self.core().vm_console(owner, vm, offset).await
                    && !chunk.data.is_empty()
                {
                    logs::append(log, &chunk.data).await?;
                    offset = chunk.next;
                    save(offset).await?;
                }
            }
            match (info.state, info.lcm_state) {
                (VmState::Poweroff, _) => {
                    // What it printed last, before it ended.
                    while let Ok(chunk) = self.core().vm_console(owner, vm, offset).await
                        && !chunk.data.is_empty()
                    {
                        logs::append(log, &chunk.data).await?;
                        offset = chunk.next;
                    }
                    save(offset).await?;
                    return Ok(Ended::PoweredOff);
                }
                (VmState::Pending | VmState::Hold | VmState::Init, _) => {}
                (VmState::Active, lcm) if !is_failure(lcm) => {}
                (state, lcm) => {
                    let error = info.user_template.get("ERROR").unwrap_or_default();
                    let error = if error.is_empty() {
                        String::new()
                    } else {
                        format!(": {error}")
                    };
                    return Err(Failure(format!(
                        "the {what} container is {} {}{error}",
                        state.name(),
                        lcm.name()
                    )));
                }
            }
            if Instant::now() >= deadline {
                return Ok(Ended::TimedOut);
            }
            tokio::time::sleep(LOOK).await;
        }
    }
}

fn is_failure(lcm: LcmState) -> bool {
    lcm.name().ends_with("_FAILURE") || lcm == LcmState::Unknown
}
