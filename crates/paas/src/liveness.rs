//! What happens to an instance after it came up: its health check goes on every
//! `interval` (liveness) — the first failure takes it out of the routes, `failures` in a
//! row replace it — and a process that ends is started again with Cloud Foundry's back-off:
//! three times at once, then after 30 s, doubling up to 16 minutes; a run of at least
//! [`CRASH_RESET`] forgets earlier crashes. Each of these is an event in the app's log,
//! with the instance's last output lines.
//!
//! An instance is **replaced** when it fails its checks `failures` times or its host has
//! not answered for [`HOST_DOWN_GRACE`] (the core marks the host ERROR; its instances are
//! out of the routes at once): it leaves the routes, a new instance starts at its index at
//! once, and it is stopped — or, when its host is down or it has not gone
//! within [`REPLACE_GRACE`], deleted by the cloud's administrator without asking its host
//! (`recover --delete`).

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
/// How long a replaced instance has to stop (its SIGTERM, then SIGKILL after 30 s) before
/// it is deleted without its host.
const REPLACE_GRACE: Duration = Duration::from_secs(40);
/// Between two deletes of a replaced instance still there.
const DELETE_RETRY: Duration = Duration::from_secs(10);
/// `vm.recover`'s delete operation (its host cleans up).
const RECOVER_DELETE: i32 = 3;
/// `vm.recover`'s delete-db operation (its host is not asked).
const RECOVER_DELETE_DB: i32 = 5;
/// How long an instance's host must have been down (ERROR, OFFLINE) before the instance is
/// replaced: a host whose agent restarts, or that missed one monitoring round, keeps its
/// instances (they are out of the routes meanwhile).
pub(crate) const HOST_DOWN_GRACE: Duration = Duration::from_secs(20);
/// How long the successor of a replaced instance keeps away from the host it was on.
const AVOID_FOR: Duration = Duration::from_secs(600);

/// An instance being replaced.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Replacing {
    /// Since when.
    since: Instant,
    /// When it was last deleted without its host.
    deleted: Option<Instant>,
}

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
        }
        let Some(result) = self.probe_instance(app, t, check).await else {
            // A check command runs: its end wakes the reconciler.
            return;
        };
        if let Ok(mut w) = self.inner.watch.lock()
            && let Some(live) = w.live.get_mut(&t.vm)
        {
            live.next = Instant::now() + interval;
        }
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
            self.replace_instance(app, t, &text).await;
        }
    }

    /// Whether the instance's host has been down for [`HOST_DOWN_GRACE`] (it is replaced
    /// then); notes when a host was first seen down, and forgets it once it is up.
    pub(crate) fn host_lost(&self, t: &Tagged) -> bool {
        let (Some(host), Ok(mut w)) = (t.host, self.inner.watch.lock()) else {
            return false;
        };
        if !t.host_down {
            w.hosts_down.remove(&host);
            return false;
        }
        let since = *w.hosts_down.entry(host).or_insert_with(Instant::now);
        since.elapsed() >= HOST_DOWN_GRACE
    }

    /// Replaces an instance (see the module's doc); `why` goes to the app's log.
    pub(crate) async fn replace_instance(&self, app: &App, t: &Tagged, why: &str) {
        if let Ok(mut w) = self.inner.watch.lock() {
            w.replacing.entry(t.vm).or_insert(Replacing {
                since: Instant::now(),
                deleted: None,
            });
            w.seen.remove(&t.vm);
            if let Some(host) = t.host {
                let avoid = w
                    .avoid
                    .entry((app.id, t.process_type.clone(), t.index))
                    .or_insert_with(|| (Default::default(), Instant::now()));
                avoid.0.insert(host);
                avoid.1 = Instant::now();
            }
        }
        self.app_event(app.id, why).await;
        if !t.host_down
            && let Ok(owner) = self.caller_of_uid(app.uid)
        {
            self.stop_instance(&owner, t).await;
        }
        self.wake();
    }

    /// The hosts the instance at `(app, kind, index)` keeps away from: those it was
    /// replaced on lately, while another container host is up to take it (on a cloud of
    /// one host, the successor goes where its predecessor was).
    pub(crate) fn lost_hosts(&self, app: i64, kind: &str, index: u32) -> Vec<Oid> {
        let avoided: Vec<Oid> = {
            let Ok(mut w) = self.inner.watch.lock() else {
                return Vec::new();
            };
            w.avoid.retain(|_, (_, at)| at.elapsed() < AVOID_FOR);
            match w.avoid.get(&(app, kind.to_owned(), index)) {
                Some((hosts, _)) => hosts.iter().copied().collect(),
                None => return Vec::new(),
            }
        };
        let others = self
            .core()
            .read(|s| {
                Ok(s.hosts
                    .values()
                    .filter(|h| h.state == nubo_types::states::HostState::Monitored)
                    .filter(|h| h.vm_mad == "lxc" && !avoided.contains(&h.id))
                    .count())
            })
            .unwrap_or(0);
        if others == 0 {
            return Vec::new();
        }
        avoided
    }

    /// Whether instance `vm` is being replaced.
    pub(crate) fn replacing(&self, vm: Oid) -> bool {
        self.inner
            .watch
            .lock()
            .is_ok_and(|w| w.replacing.contains_key(&vm))
    }

    /// Goes on with an instance's replacement: deletes it without its host once the host
    /// is down or it has not stopped within [`REPLACE_GRACE`].
    pub(crate) async fn finish_replacement(&self, t: &Tagged) {
        let due = {
            let Ok(mut w) = self.inner.watch.lock() else {
                return;
            };
            let Some(r) = w.replacing.get_mut(&t.vm) else {
                return;
            };
            let due = (t.host_down || r.since.elapsed() >= REPLACE_GRACE)
                && r.deleted.is_none_or(|at| at.elapsed() >= DELETE_RETRY);
            if due {
                r.deleted = Some(Instant::now());
            }
            due
        };
        if !due {
            return;
        }
        tracing::info!(
            instance = t.name,
            host_down = t.host_down,
            "deleting a replaced instance"
        );
        let admin = match self.caller_of_uid(0) {
            Ok(admin) => admin,
            Err(e) => {
                tracing::warn!(error = %e, "cannot act as the cloud's administrator");
                return;
            }
        };
        // A host that does not answer cannot clean up: the VM is only taken off the books.
        let op = if t.host_down {
            RECOVER_DELETE_DB
        } else {
            RECOVER_DELETE
        };
        if let Err(e) = self.core().vm_recover(&admin, t.vm, op).await {
            tracing::warn!(instance = t.name, error = %e, "cannot delete a replaced instance");
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
