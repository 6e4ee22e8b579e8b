//! `nubo vm wait ID STATE`: polls the VM until it is in STATE; fails when the time is up, or
//! when the VM lands in a failure state (or ends) instead.

use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use nubo_client::nouns::Vm;

use super::state::{Codes, Wanted};
use crate::context::Ctx;

/// The shortest pause between two looks, so a zero --interval does not flood the server.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// What to wait for.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// The state: running, poweroff, pending, hold, stopped, suspended, undeployed, done,
    /// failure (any failure state), another STATE or LCM_STATE name (boot_failure,
    /// shutdown), or a short STAT such as runn.
    #[arg(value_name = "STATE")]
    state: Wanted,
    /// Give up after this many seconds (0: never).
    #[arg(long, default_value = "600", value_parser = seconds, value_name = "SECS")]
    timeout: Duration,
    /// Seconds between two looks at the VM.
    #[arg(long, default_value = "1", value_parser = seconds, value_name = "SECS")]
    interval: Duration,
}

/// A number of seconds, possibly fractional.
fn seconds(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("invalid duration {text:?}: expected a number of seconds"))
}

impl WaitArgs {
    /// Polls until the VM is in the wanted state.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let vms = ctx.client.resource::<Vm>();
        let id = vms.id_of(&self.id)?;
        let started = Instant::now();
        let wanted = self.state.name();
        loop {
            let codes = Codes::of(&vms.info_tree(id)?);
            if self.state.matches(codes) {
                return Ok(());
            }
            let now = codes.readable();
            if codes.is_failure() {
                bail!(
                    "VM {id} is in {now}, a failure state, not {wanted}: see `nubo vm show {id}`, then `nubo vm recover`"
                );
            }
            if codes.is_done() {
                bail!("VM {id} is DONE and will never be {wanted}");
            }
            let waited = started.elapsed();
            if !self.timeout.is_zero() && waited >= self.timeout {
                bail!(
                    "timed out after {}s waiting for VM {id} to be {wanted}: it is {now}",
                    self.timeout.as_secs_f64()
                );
            }
            let pause = self.interval.max(MIN_INTERVAL);
            let left = if self.timeout.is_zero() {
                pause
            } else {
                pause.min(self.timeout.saturating_sub(waited))
            };
            std::thread::sleep(left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(seconds("2"), Ok(Duration::from_secs(2)));
        assert_eq!(seconds("0.25"), Ok(Duration::from_millis(250)));
        assert!(seconds("-1").is_err());
        assert!(seconds("soon").is_err());
    }
}
