//! What happens to an instance after it came up: its health check goes on every
//! `interval` (liveness) — the first failure takes it out of the routes, `failures` in a
//! row replace it — and a process that ends is started again with Cloud Foundry's back-off:
//! three times at once, then after 30 s, doubling up to 16 minutes; a run of at least
//! [`CRASH_RESET`] forgets earlier crashes. Each of these is an event in the app's log,
//! with the instance's last output lines.

use std::time::{Duration, Instant};

use nubo_types::Oid;

use crate::Paas;
use crate::instances::Tagged;
use crate::model::{App, HealthCheck, HealthCheckType};

/// Crashes restarted at once before the back-off begins.
const IMMEDIATE_RESTARTS: u32 = 3;
/// The first wait of the back-off.
const FIRST_WAIT: Duration = Duration::from_secs(30);
/// The longest wait.
const LONGEST_WAIT: Duration = Duration::from_secs(960);
/// How long an instance runs before its earlier crashes are forgotten.
pub(crate) const CRASH_RESET: Duration = Duration::from_secs(300);

/// The liveness of an instance that is up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Live {
    /// When it is checked next.
    next: Instant,
    /// Checks failed in a row.
    failures: u32,
}

/// The crashes of an instance.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Crashes {
    /// Crashes in a row.
    count: u32,
    /// Restarts after a crash since nubod started.
    total: u32,
    /// When it was last started again.
    restarted: Option<Instant>,
    /// When the crash being waited out may be restarted.
    due: Option<Instant>,
}

/// What to do with an instance whose process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrashStep {
    /// A new crash, the `count`th in a row: start it again after `wait`.
    Noticed { count: u32, wait: Duration },
    /// Waiting out the back-off.
    Waiting,
    /// Start it again now.
    Restart,
}

/// How long the `count`th crash in a row waits before its restart.
pub(crate) fn backoff(count: u32) -> Duration {
    if count <= IMMEDIATE_RESTARTS {
        return Duration::ZERO;
    }
    let doublings = (count - IMMEDIATE_RESTARTS - 1).min(10);
    (FIRST_WAIT * 2u32.pow(doublings)).min(LONGEST_WAIT)
}

impl Paas {
    /// Checks an instance that is up, when its check is due; takes it out of the routes
    /// on a failure, puts it back when it passes again, and replaces it after
    /// `failures` in a row.
    pub(crate) async fn check_live(&self, app: &App, t: &Tagged, check: &HealthCheck) {
        if check.kind == HealthCheckType::Process {
            return;
        }
        let interval = Duration::from_secs(check.interval.into());
        {
            let Ok(mut w) = self.inner.watch.lock() else {
                return;
            };
            let now = Instant::now();
            let live = w.live.entry(t.vm).or_insert(Live {
                next: now + interval,
                failures: 0,
            });
            if now < live.next {
                return;
            }
            live.next = now + interval;
        }
        let result = crate::health::probe(check, t.ip, &self.app_host(app)).await;
        let (failures, healthy_again) = {
            let Ok(mut w) = self.inner.watch.lock() else {
                return;
            };
            let Some(live) = w.live.get_mut(&t.vm) else {
                return;
            };
            let before = live.failures;
            live.failures = if result.is_ok() { 0 } else { before + 1 };
            let failures = live.failures;
            if result.is_ok() {
                w.unhealthy.remove(&t.vm);
            } else {
                w.unhealthy.insert(t.vm);
            }
            (failures, result.is_ok() && before > 0)
        };
        let label = format!("{}.{}", t.process_type, t.index);
        if healthy_again {
            self.app_event(
                app.id,
                &format!("{label} passes its health check again: back in the routes"),
            )
            .await;
            return;
        }
        let Err(last) = result else {
            return;
        };
        self.inner
            .probing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if failures == 1 {
            self.app_event(
                app.id,
                &format!(
                    "{label} failed its health check ({last}): out of the routes until it \
                     passes again"
                ),
            )
            .await;
        }
        if failures >= check.failures {
            let mut text = format!(
                "{label} failed its health check {failures} times in a row (last: {last}): \
                 replacing it"
            );
            if let Some(output) = self.output_tail(app, t.vm).await {
                text.push_str(&format!("; its output ends: {output}"));
            }
            self.app_event(app.id, &text).await;
            if let Ok(owner) = self.caller_of_uid(app.uid) {
                self.stop_instance(&owner, t).await;
            }
        }
    }

    /// How many times instance `vm` was started again after its process ended (since
    /// this nubod started).
    pub fn instance_restarts(&self, vm: Oid) -> u32 {
        self.inner
            .watch
            .lock()
            .ok()
            .and_then(|w| w.crashes.get(&vm).map(|c| c.total))
            .unwrap_or(0)
    }

    /// The host name an `http` check asks for: the app's under the apps domain.
    pub(crate) fn app_host(&self, app: &App) -> String {
        match &self.config().apps_domain {
            Some(domain) => format!("{}.{domain}", app.name),
            None => app.name.clone(),
        }
    }

    /// Whether an instance whose process ended is to be started again now; tells the
    /// app's log of each new crash, with what the instance printed last.
    pub(crate) async fn restart_due(&self, app: &App, t: &Tagged) -> bool {
        match self.crash_step(t.vm) {
            CrashStep::Restart => true,
            CrashStep::Waiting => false,
            CrashStep::Noticed { count, wait } => {
                let when = if wait.is_zero() {
                    "now".to_owned()
                } else {
                    format!("in {} s", wait.as_secs())
                };
                let mut text = format!(
                    "{}.{} exited (crash {count} in a row): starting it again {when}",
                    t.process_type, t.index
                );
                if let Some(output) = self.output_tail(app, t.vm).await {
                    text.push_str(&format!("; its output ends: {output}"));
                }
                self.app_event(app.id, &text).await;
                wait.is_zero() && self.crash_step(t.vm) == CrashStep::Restart
            }
        }
    }

    /// What to do with an instance whose process ended (see [`CrashStep`]).
    pub(crate) fn crash_step(&self, vm: Oid) -> CrashStep {
        let Ok(mut w) = self.inner.watch.lock() else {
            return CrashStep::Waiting;
        };
        let now = Instant::now();
        let crashes = w.crashes.entry(vm).or_default();
        match crashes.due {
            None => {
                if crashes
                    .restarted
                    .is_some_and(|at| now.duration_since(at) >= CRASH_RESET)
                {
                    crashes.count = 0;
                }
                crashes.count += 1;
                let wait = backoff(crashes.count);
                crashes.due = Some(now + wait);
                CrashStep::Noticed {
                    count: crashes.count,
                    wait,
                }
            }
            Some(due) if now >= due => {
                crashes.due = None;
                crashes.restarted = Some(now);
                crashes.total += 1;
                CrashStep::Restart
            }
            Some(_) => CrashStep::Waiting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_restarts_at_once_then_waits_doubling_from_30_s_up_to_16_min() {
        let waits: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(
            waits,
            vec![0, 0, 0, 30, 60, 120, 240, 480, 960, 960, 960, 960]
        );
        assert_eq!(backoff(u32::MAX), LONGEST_WAIT);
    }
}
