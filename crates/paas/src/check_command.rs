//! `command` health checks: the owner's shell command, run in the instance as `nubo app
//! run` runs one (by the slug's launch script: in /app, with the config vars, the slug's
//! PATH and the process's environment, `$PORT` for web) through the core
//! ([`nubo_core::Core::vm_run_check`]), passes when it exits 0. A run may take up to
//! [`RUN_TIMEOUT`], so the reconciler never waits for one: a round takes the result of the
//! instance's last finished run, or starts the next run and looks again soon.

use std::time::Duration;

use base64::Engine;

use crate::Paas;
use crate::instances::Tagged;
use crate::model::{App, HealthCheck, HealthCheckType, Release};

/// How long one run of a check command may take before it is killed and fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest command an owner may set (bytes).
pub const COMMAND_MAX: usize = 4096;

/// An instance's check command runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs {
    /// The number of the run under way.
    running: Option<u64>,
    /// The result of the run that ended, until a round takes it.
    done: Option<Result<(), String>>,
    /// Why the last run a round took failed (none once one passed).
    last_failure: Option<String>,
}

/// Whether an owner may set `command` as a check command: not blank, bounded, one line of
/// printable characters.
pub(crate) fn check_command(command: &str) -> Result<(), String> {
    if command.trim().is_empty()
        || command.len() > COMMAND_MAX
        || command.chars().any(|c| c.is_control() && c != '\t')
    {
        return Err(format!(
            "a health check's command is one line of at most {COMMAND_MAX} bytes, not blank \
             and without control characters"
        ));
    }
    Ok(())
}

/// The shell line that runs `command` as the launch script runs a one-off command (`nubo
/// app run`): in /app, with the release's config vars, the slug's PATH and HOME.
fn wrapped(command: &str, release: &Release) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(command);
    format!(
        "NUBO_ENV={} NUBO_RUN={encoded} exec /bin/sh {} --run",
        crate::slug_container::env_joined(release),
        crate::buildpack::LAUNCH_SCRIPT_PATH
    )
}

/// The reason a finished run gives when it did not pass.
fn verdict(outcome: &nubo_driver::CheckOutcome) -> Result<(), String> {
    if outcome.code == 0 && !outcome.timed_out {
        return Ok(());
    }
    let printed = crate::instances::printed_lines(&outcome.output, crate::buildpack::RUN_EXIT_LINE)
        .join(" | ");
    let how = if outcome.timed_out {
        format!("the command did not end within {} s", RUN_TIMEOUT.as_secs())
    } else {
        format!("the command exited {}", outcome.code)
    };
    Err(if printed.is_empty() {
        how
    } else {
        format!("{how}: {printed}")
    })
}

impl Paas {
    /// What an instance's check command did last, while its next run is under way.
    pub(crate) fn pending_reason(&self, vm: nubo_types::Oid) -> String {
        self.inner
            .watch
            .lock()
            .ok()
            .and_then(|w| w.command_runs.get(&vm)?.last_failure.clone())
            .unwrap_or_else(|| "its check command is running".to_owned())
    }

    /// Whether the instance passes `check`, when that is known: `None` while a run of its
    /// command is under way (started here when none is).
    pub(crate) async fn probe_instance(
        &self,
        app: &App,
        t: &Tagged,
        check: &HealthCheck,
    ) -> Option<Result<(), String>> {
        let (HealthCheckType::Command, Some(command)) = (check.kind, &check.command) else {
            return Some(crate::health::probe(check, t.ip, &self.app_host(app)).await);
        };
        let release = self.read(|s| Ok(s.releases.get(&(app.id, t.release)).cloned()));
        let (owner, release) = match (self.caller_of_uid(app.uid), release) {
            (Ok(owner), Ok(Some(release))) => (owner, release),
            (Err(e), _) | (_, Err(e)) => return Some(Err(e.to_string())),
            (_, Ok(None)) => return Some(Err(format!("release v{} is gone", t.release))),
        };
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        {
            let mut w = self.inner.watch.lock().ok()?;
            let runs = w.command_runs.entry(t.vm).or_default();
            if let Some(result) = runs.done.take() {
                runs.last_failure = result.as_ref().err().cloned();
                return Some(result);
            }
            if runs.running.is_some() {
                return None;
            }
            runs.running = Some(number);
        }
        let paas = self.clone();
        let vm = t.vm;
        let words = vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            wrapped(command, &release),
        ];
        tokio::spawn(async move {
            let result = match paas
                .core()
                .vm_run_check(&owner, vm, words, RUN_TIMEOUT)
                .await
            {
                Ok(outcome) => verdict(&outcome),
                Err(e) => Err(format!("the command could not run: {e}")),
            };
            if let Ok(mut w) = paas.inner.watch.lock()
                && let Some(runs) = w.command_runs.get_mut(&vm)
                && runs.running == Some(number)
            {
                runs.running = None;
                runs.done = Some(result);
            }
            paas.wake();
        });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_driver::CheckOutcome;

    #[test]
    fn commands_are_one_bounded_printable_line() {
        assert!(check_command("test -f /tmp/ready && curl -fs localhost:$PORT/").is_ok());
        assert!(check_command("pgrep -f\tworker").is_ok());
        for bad in ["", "   ", "a\nb", "a\rb", "a\u{0}b", "\u{1b}[2J"] {
            assert!(check_command(bad).is_err(), "{bad:?}");
        }
        assert!(check_command(&"x".repeat(COMMAND_MAX)).is_ok());
        assert!(check_command(&"x".repeat(COMMAND_MAX + 1)).is_err());
    }

    #[test]
    fn a_command_runs_through_the_launch_script_with_the_config_vars() {
        let release = crate::fixtures::release(3, Some(1), "hi");
        let line = wrapped("test -f /tmp/ready && echo 'ok'", &release);
        let encoded =
            base64::engine::general_purpose::STANDARD.encode("test -f /tmp/ready && echo 'ok'");
        assert_eq!(
            line,
            format!("NUBO_ENV=$NUBO_ENV_0 NUBO_RUN={encoded} exec /bin/sh /app/.nubo/launch --run")
        );
    }

    #[test]
    fn a_run_passes_on_exit_0_only_and_says_why_not() {
        assert_eq!(
            verdict(&CheckOutcome::new(0, false, b"fine\n", b"")),
            Ok(())
        );
        assert_eq!(
            verdict(&CheckOutcome::new(
                3,
                false,
                b"a\nnubo-run: exit 3\n",
                b"not ready\n"
            )),
            Err("the command exited 3: a | not ready".into())
        );
        assert_eq!(
            verdict(&CheckOutcome::new(-1, true, b"", b"")),
            Err("the command did not end within 10 s".into())
        );
        assert_eq!(
            verdict(&CheckOutcome::new(1, false, b"\x1b[31mred\x07", b"")),
            Err("the command exited 1: [31mred".into())
        );
    }

    proptest::proptest! {
        #![proptest_config(nubo_testkit::cases(256))]

        /// Any command is refused or is one printable line within the bound.
        #[test]
        fn any_command_is_refused_or_a_bounded_line(text in nubo_testkit::hostile_text()) {
            if check_command(&text).is_ok() {
                proptest::prop_assert!(text.len() <= COMMAND_MAX && !text.trim().is_empty());
                proptest::prop_assert!(!text.contains('\n') && !text.contains('\0'));
            }
        }
    }
}
