//! App instances: each a container of the IaaS running one process of the app's current
//! release (its slug at `/app` over the stack, the config vars in its environment, `PORT`
//! for `web`), owned by the app's owner and tagged in its template with the app, process
//! type, release and index (`NUBO_APP`, `NUBO_PROCESS`, `NUBO_RELEASE`, `NUBO_INDEX`).
//!
//! The PaaS keeps no record of instances: what runs is read from the core's VMs by those
//! tags, so a nubod killed at any moment finds its instances again. [`Paas::reconcile`]
//! brings what runs to what the formation and the current release want: it starts missing
//! instances at the pace of the deployment under way ([`crate::rollout`]), checks that a
//! new instance passes its health check within its timeout, retires instances of older
//! releases once their successor is up, stops those scaled away, restarts crashed ones and
//! replaces lost ones ([`crate::liveness`]), and ends the deployment
//! ([`crate::deployments`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use nubo_core::model::Vm;
use nubo_types::Oid;
use nubo_types::states::{HostState, LcmState, VmState};

use crate::Paas;
use crate::error::Result;
use crate::model::{App, HealthCheck, Release};
use crate::rollout::{Member, Pace};

/// The port `web` processes listen on (each instance has its own address).
pub const WEB_PORT: u16 = 5000;
/// How long a new instance is up before its predecessor is retired (longer than the
/// router keeps a route).
const HANDOVER: Duration = Duration::from_secs(1);
/// How long a retired instance is out of the routes before it is stopped: the router's
/// route (a quarter of a second) and the requests it was answering end meanwhile.
const DRAIN: Duration = Duration::from_secs(1);
/// How many of an instance's last output lines a failure's reason quotes, and how much of
/// each.
const OUTPUT_LINES: usize = 3;
const OUTPUT_LINE_MAX: usize = 300;
/// How many instances of a release and type may fail to boot before its release fails.
const BOOT_TRIES: u32 = 3;
/// How often the reconciler looks while instances are starting.
const STARTING_POLL: Duration = Duration::from_millis(100);

/// What one instance is doing, as the APIs show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The VM.
    pub vm: Oid,
    /// Its name, e.g. `shop-web-1`.
    pub name: String,
    /// Its process type.
    pub process_type: String,
    /// Its index within the type (1, 2, …).
    pub index: u32,
    /// The release it runs.
    pub release: u32,
    /// `starting`, `up`, `unhealthy` (failing its check: out of the routes), `crashed`,
    /// `stopping`, `failed`, `unknown` (its host is unreachable).
    pub state: String,
    /// Its address on the PaaS's network.
    pub ip: Option<IpAddr>,
    /// Why it failed.
    pub reason: Option<String>,
}

/// What the PaaS remembers of instances between rounds (lost on restart, found again).
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// When each instance was first seen RUNNING, and whether it has been up since.
    pub(crate) seen: BTreeMap<Oid, (Instant, bool)>,
    /// Releases whose instances of a type failed to boot: (app, release, type) → reason.
    failed: BTreeMap<(i64, u32, String), String>,
    /// Each instance's crashes and restarts.
    pub(crate) crashes: BTreeMap<Oid, crate::liveness::Crashes>,
    /// The liveness checks of instances that are up.
    pub(crate) live: BTreeMap<Oid, crate::liveness::Live>,
    /// Instances up that failed their last check: out of the routes.
    pub(crate) unhealthy: std::collections::BTreeSet<Oid>,
    /// Boot failures per (app, release, type).
    boot_failures: BTreeMap<(i64, u32, String), u32>,
    /// Hosts the instance at (app, type, index) was replaced on lately, and when.
    pub(crate) avoid: BTreeMap<(i64, String, u32), (std::collections::BTreeSet<Oid>, Instant)>,
    /// Instances being replaced (out of the routes, a successor at their index).
    pub(crate) replacing: BTreeMap<Oid, crate::liveness::Replacing>,
    /// When each instance was found up.
    up_at: BTreeMap<Oid, Instant>,
    /// Instances taken out of the routes to be stopped, and since when.
    draining: BTreeMap<Oid, Instant>,
    /// Instances that have been up at least once (kept across their restarts).
    ever_up: std::collections::BTreeSet<Oid>,
    /// Hosts of instances seen down (ERROR or OFFLINE), since when.
    pub(crate) hosts_down: BTreeMap<Oid, Instant>,
    /// Each instance's `command` health check run under way, or its result.
    pub(crate) command_runs: BTreeMap<Oid, crate::check_command::Runs>,
}

impl Watch {
    /// Forgets what it knew of instances that are gone.
    fn forget_gone(&mut self, alive: &std::collections::BTreeSet<Oid>) {
        self.seen.retain(|vm, _| alive.contains(vm));
        self.up_at.retain(|vm, _| alive.contains(vm));
        self.draining.retain(|vm, _| alive.contains(vm));
        self.crashes.retain(|vm, _| alive.contains(vm));
        self.live.retain(|vm, _| alive.contains(vm));
        self.unhealthy.retain(|vm| alive.contains(vm));
        self.replacing.retain(|vm, _| alive.contains(vm));
        self.command_runs.retain(|vm, _| alive.contains(vm));
        self.ever_up.retain(|vm| alive.contains(vm));
    }
}

/// One instance as its VM's tags say.
#[derive(Debug, Clone)]
pub(crate) struct Tagged {
    pub vm: Oid,
    pub name: String,
    pub process_type: String,
    pub index: u32,
    pub release: u32,
    /// The restart generation of its process type it was started in.
    pub generation: u32,
    pub state: VmState,
    pub lcm: LcmState,
    pub ip: Option<IpAddr>,
    /// The host it was placed on.
    pub host: Option<Oid>,
    /// Whether that host stopped answering (ERROR) or was taken offline.
    pub host_down: bool,
}

/// The lines of what a process printed, as one-line texts can quote them: control
/// characters made spaces, each line trimmed, blank ones and those starting with `noise`
/// (the platform's own) left out.
pub(crate) fn printed_lines(text: &str, noise: &str) -> Vec<String> {
    let printable: String = text
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    printable
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(noise))
        .map(str::to_owned)
        .collect()
}

impl Paas {
    /// The instances of app `app` (by id), from the core's VMs.
    /// Only the app owner's VMs count: a tag anyone may write must not let another user's
    /// VM take the app's traffic or write into its log.
    fn tagged_instances(&self, app: &App) -> Result<Vec<Tagged>> {
        let tag = app.id.to_string();
        Ok(self.core().read(|s| {
            Ok(s.vms
                .values()
                .filter(|vm| vm.state != VmState::Done && vm.meta.uid == app.uid)
                .filter(|vm| vm.user_template.get("NUBO_APP") == Some(tag.as_str()))
                .filter_map(|vm| {
                    let mut t = tagged(vm)?;
                    t.host_down = t
                        .host
                        .and_then(|h| s.get::<nubo_core::model::Host>(h).ok())
                        .is_some_and(|h| matches!(h.state, HostState::Error | HostState::Offline));
                    Some(t)
                })
                .collect())
        })?)
    }

    /// The instances of an app as the APIs show them (USE).
    pub fn instances(&self, caller: &nubo_core::Caller, name: &str) -> Result<Vec<Instance>> {
        let app = self.app_get(caller, name)?;
        let watch = self.inner.watch.lock().map_err(|_| poisoned())?;
        let mut out: Vec<Instance> = self
            .tagged_instances(&app)?
            .into_iter()
            .map(|t| {
                let up = watch.seen.get(&t.vm).is_some_and(|(_, up)| *up);
                let failed = watch
                    .failed
                    .get(&(app.id, t.release, t.process_type.clone()))
                    .cloned();
                let state = match (t.state, t.lcm) {
                    _ if t.host_down => "lost",
                    _ if watch.replacing.contains_key(&t.vm) => "stopping",
                    // Out of the routes, to be stopped once its requests are answered.
                    (VmState::Active, LcmState::Running) if watch.draining.contains_key(&t.vm) => {
                        "stopping"
                    }
                    (VmState::Active, LcmState::Running) if watch.unhealthy.contains(&t.vm) => {
                        "unhealthy"
                    }
                    (VmState::Active, LcmState::Running) if up => "up",
                    (VmState::Active, LcmState::Running) if failed.is_some() => "failed",
                    (VmState::Active, LcmState::Shutdown | LcmState::ShutdownPoweroff) => {
                        "stopping"
                    }
                    (VmState::Poweroff, _) => "crashed",
                    // The host stopped answering: nobody can say what the instance does.
                    (VmState::Active, LcmState::Unknown) => "unknown",
                    (VmState::Active, lcm) if lcm.name().ends_with("FAILURE") => "failed",
                    _ => "starting",
                };
                Instance {
                    vm: t.vm,
                    name: t.name,
                    process_type: t.process_type,
                    index: t.index,
                    release: t.release,
                    state: state.to_owned(),
                    ip: t.ip,
                    reason: failed,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.process_type, a.index, a.release).cmp(&(&b.process_type, b.index, b.release))
        });
        Ok(out)
    }

    /// The addresses of the app's `web` instances that are up, for the router.
    pub fn web_backends(&self, app_name: &str) -> Vec<SocketAddr> {
        let Ok(Some(app)) = self.read(|s| Ok(s.app_by_name(app_name).cloned())) else {
            return Vec::new();
        };
        let Ok(tagged) = self.tagged_instances(&app) else {
            return Vec::new();
        };
        let Ok(watch) = self.inner.watch.lock() else {
            return Vec::new();
        };
        let up: Vec<&Tagged> = tagged
            .iter()
            .filter(|t| {
                t.process_type == "web" && t.state == VmState::Active && t.lcm == LcmState::Running
            })
            .filter(|t| watch.seen.get(&t.vm).is_some_and(|(_, up)| *up))
            .filter(|t| !watch.unhealthy.contains(&t.vm))
            .filter(|t| !t.host_down && !watch.replacing.contains_key(&t.vm))
            .collect();
        drop(watch);
        let addr = |t: &&Tagged| t.ip.map(|ip| SocketAddr::new(ip, WEB_PORT));
        let canary = self
            .active_deployment(app.id)
            .filter(|d| d.canary_waiting() && d.release == app.release);
        match canary {
            Some(d) => {
                let generation = app.generations.get("web").copied().unwrap_or(0);
                let (new, old): (Vec<&Tagged>, Vec<&Tagged>) = up
                    .into_iter()
                    .partition(|t| t.release == d.release && t.generation == generation);
                let new: Vec<SocketAddr> = new.iter().filter_map(addr).collect();
                let old: Vec<SocketAddr> = old.iter().filter_map(addr).collect();
                crate::rollout::weighted(&new, &old, d.policy.canary_percent)
            }
            None => up.iter().filter_map(addr).collect(),
        }
    }

    /// Wakes the reconciler now (after a release or a formation change).
    pub(crate) fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Runs [`Paas::reconcile`] every second and whenever woken, until nubod stops.
    pub(crate) fn start_reconciler(&self) {
        let paas = self.clone();
        tokio::spawn(async move {
            let mut sweep_at = Instant::now();
            loop {
                if Instant::now() >= sweep_at {
                    paas.sweep_leftovers();
                    sweep_at = Instant::now() + crate::leftovers::SWEEP_EVERY;
                }
                if let Err(e) = paas.reconcile().await {
                    tracing::warn!(error = %e, "PaaS reconcile round failed");
                }
                // While instances are starting, look again soon: they count as up (and get
                // traffic) as soon as their port accepts connections.
                let pause = if paas
                    .inner
                    .probing
                    .swap(false, std::sync::atomic::Ordering::Relaxed)
                {
                    STARTING_POLL
                } else {
                    Duration::from_secs(1)
                };
                let _ = tokio::time::timeout(pause, paas.inner.wake.notified()).await;
            }
        });
    }

    /// One round over every app.
    pub async fn reconcile(&self) -> Result<()> {
        let apps: Vec<(App, Option<Release>)> = self.read(|s| {
            Ok(s.apps
                .values()
                .map(|a| (a.clone(), s.releases.get(&(a.id, a.release)).cloned()))
                .collect())
        })?;
        let known: std::collections::BTreeSet<i64> = apps.iter().map(|(a, _)| a.id).collect();
        for (app, release) in apps {
            if let Err(e) = self.reconcile_app(&app, release.as_ref()).await {
                tracing::warn!(app = app.name, error = %e, "cannot bring the app's instances in line");
            }
        }
        self.sweep_orphans(&known).await;
        let alive: std::collections::BTreeSet<Oid> = self.core().read(|s| {
            Ok(s.vms
                .values()
                .filter(|vm| vm.state != VmState::Done && tagged(vm).is_some())
                .map(|vm| vm.meta.id)
                .collect())
        })?;
        if let Ok(mut w) = self.inner.watch.lock() {
            w.forget_gone(&alive);
        }
        Ok(())
    }

    /// Stops the containers of apps that are gone (a delete whose clean-up a stopped nubod
    /// did not finish): every VM tagged with an app id the PaaS does not know.
    async fn sweep_orphans(&self, known: &std::collections::BTreeSet<i64>) {
        let orphans: Vec<(Oid, Oid, LcmState)> = self
            .core()
            .read(|s| {
                Ok(s.vms
                    .values()
                    .filter(|vm| vm.state != VmState::Done)
                    .filter(|vm| tagged(vm).is_some())
                    .filter(|vm| {
                        vm.user_template
                            .get("NUBO_APP")
                            .and_then(|a| a.parse::<i64>().ok())
                            .is_some_and(|a| !known.contains(&a))
                    })
                    .map(|vm| (vm.meta.id, vm.meta.uid, vm.lcm_state))
                    .collect())
            })
            .unwrap_or_default();
        for (vm, uid, lcm) in orphans {
            if matches!(
                lcm,
                LcmState::Shutdown | LcmState::CleanupDelete | LcmState::Epilog
            ) {
                continue;
            }
            if let Ok(owner) = self.caller_of_uid(uid) {
                tracing::info!(vm, "stopping a container of an app that is gone");
                let _ = self.core().vm_action(&owner, "terminate-hard", vm).await;
            }
        }
    }

    /// Forgets the app's failed starts (its formation changed: try again).
    pub(crate) fn clear_failed(&self, app: i64) {
        if let Ok(mut w) = self.inner.watch.lock() {
            w.failed.retain(|(a, _, _), _| *a != app);
            w.boot_failures.retain(|(a, _, _), _| *a != app);
        }
    }

    async fn reconcile_app(&self, app: &App, release: Option<&Release>) -> Result<()> {
        let owner = self.caller_of_uid(app.uid)?;
        let mut instances = self.tagged_instances(app)?;
        // Instances whose host stopped answering are replaced; those being replaced only
        // need their replacement finished: the rest of the round does not see them.
        for t in &instances {
            if self.host_lost(t) && !self.replacing(t.vm) {
                let why = format!(
                    "{}.{}'s host {} stopped answering: starting it elsewhere",
                    t.process_type,
                    t.index,
                    t.host.unwrap_or(-1)
                );
                self.replace_instance(app, t, &why).await;
            }
            if self.replacing(t.vm) {
                self.finish_replacement(t).await;
            }
        }
        instances.retain(|t| !self.replacing(t.vm));
        let slug = release.and_then(|r| {
            let build = r.build?;
            self.read(|s| Ok(s.builds.get(&build).and_then(|b| b.slug.clone())))
                .ok()
                .flatten()
        });
        // The instances' health checks: for those starting, and liveness for those up.
        for t in &instances {
            if t.state == VmState::Active && t.lcm == LcmState::Running {
                self.check_up(app, t).await;
            } else if matches!(t.state, VmState::Pending | VmState::Active) {
                // Still being placed or deployed.
                self.inner
                    .probing
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let up = |vm: Oid| -> bool {
            self.inner
                .watch
                .lock()
                .map(|w| w.seen.get(&vm).is_some_and(|(_, up)| *up))
                .unwrap_or(false)
        };
        // A successor takes over once it has been up for HANDOVER: the router has it in its
        // routes by then, so retiring its predecessor loses no request.
        let taken_over = |vm: Oid| -> bool {
            self.inner
                .watch
                .lock()
                .map(|w| w.up_at.get(&vm).is_some_and(|at| at.elapsed() >= HANDOVER))
                .unwrap_or(false)
        };
        let wanted: BTreeMap<String, u32> = match (release, &slug) {
            (Some(r), Some(_)) => app
                .formation
                .iter()
                .filter(|(t, q)| {
                    **q > 0 && r.process_types.contains_key(*t) && !app.stopped.contains(*t)
                })
                .map(|(t, q)| (t.clone(), *q))
                .collect(),
            _ => BTreeMap::new(),
        };
        let current = release.map(|r| r.version).unwrap_or(0);
        // Whether an instance is of the current release and its type's restart generation.
        let is_current = |t: &Tagged| {
            t.release == current
                && t.generation == app.generations.get(&t.process_type).copied().unwrap_or(0)
        };
        let ready = |t: &Tagged| {
            taken_over(t.vm) || (t.process_type != "web" && t.lcm == LcmState::Running)
        };
        let members: Vec<Member> = instances
            .iter()
            .map(|t| Member {
                kind: t.process_type.clone(),
                index: t.index,
                current: is_current(t),
                ready: ready(t),
            })
            .collect();
        let deployment = self.active_deployment(app.id);
        let pace = Pace::of(deployment.as_ref(), app.rollout);
        // Start what is missing, at the deployment's pace.
        if let (Some(release), Some(slug)) = (release, &slug) {
            for (kind, quantity) in &wanted {
                if self.failed(app.id, current, kind).is_some() {
                    continue;
                }
                let missing: Vec<u32> = (1..=*quantity)
                    .filter(|index| {
                        !instances
                            .iter()
                            .any(|t| &t.process_type == kind && t.index == *index && is_current(t))
                    })
                    .collect();
                for index in pace.may_start(kind, &missing, &members) {
                    let template = self.instance_template(app, release, slug.image, kind, index)?;
                    // A new instance: look again soon, to route to it once it is up.
                    self.inner
                        .probing
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    if let Err(e) = self.core().vm_allocate(&owner, &template, false).await {
                        // Not tried again until the formation or the release changes.
                        let reason = format!("cannot start {kind}.{index}: {e}");
                        self.app_event(app.id, &reason).await;
                        self.mark_failed(app.id, current, kind, reason);
                        break;
                    }
                }
            }
        }
        // Retire, stop and restart.
        for t in &instances {
            let still_wanted = wanted.get(&t.process_type).is_some_and(|q| t.index <= *q);
            let successor_up = instances.iter().any(|n| {
                n.process_type == t.process_type && n.index == t.index && is_current(n) && ready(n)
            });
            // An instance of an older release (or restart) serves until its successor is up;
            // one of a release whose instances of this type failed to start is stopped (the
            // older release keeps serving).
            let failed_start = is_current(t)
                && !up(t.vm)
                && self.failed(app.id, current, &t.process_type).is_some();
            let retire =
                !still_wanted || (!is_current(t) && pace.retires_old(successor_up)) || failed_start;
            if retire {
                // Out of the routes first; stopped once what it was answering is done.
                if self.drained(t.vm) {
                    self.stop_instance(&owner, t).await;
                }
                continue;
            }
            if is_current(t) && t.state == VmState::Poweroff {
                // The process ended: start it again (its layer is kept), with a back-off.
                // One that was never up keeps its first start: its boot time runs on (from
                // now if no round saw it running: it may end before a round looks).
                let booting = self.booting_since(t.vm);
                if let Some(first) = booting {
                    self.fail_if_overdue(app, t, first, "its process exited")
                        .await;
                    if self.failed(app.id, t.release, &t.process_type).is_some() {
                        continue;
                    }
                }
                if !self.restart_due(app, t).await {
                    continue;
                }
                if booting.is_none() {
                    self.forget(t.vm);
                }
                tracing::info!(
                    app = app.name,
                    instance = t.name,
                    "restarting a crashed instance"
                );
                let _ = self.core().vm_action(&owner, "resume", t.vm).await;
            }
            if t.release == current
                && t.state == VmState::Active
                && t.lcm.name().ends_with("FAILURE")
            {
                // A host that failed it may be at fault: another try elsewhere, then the
                // release's instances of the type fail.
                let reason = format!("instance {} is {}", t.name, t.lcm.name());
                if self.boot_failure(app.id, current, &t.process_type) < BOOT_TRIES {
                    self.replace_instance(app, t, &format!("{reason}: starting another"))
                        .await;
                } else {
                    self.mark_failed(app.id, current, &t.process_type, reason);
                    self.stop_instance(&owner, t).await;
                }
            }
        }
        if let Some(d) = deployment {
            let wanted: Vec<(String, u32)> = wanted.into_iter().collect();
            self.advance_deployment(app, &d, &wanted, &members).await;
        }
        Ok(())
    }

    /// Whether an instance passes its process type's health check ([`crate::health`]);
    /// marks the release failed when it has not within the check's timeout of running.
    async fn check_up(&self, app: &App, t: &Tagged) {
        let first = {
            let Ok(mut watch) = self.inner.watch.lock() else {
                return;
            };
            if watch.draining.contains_key(&t.vm) {
                return;
            }
            let entry = watch.seen.entry(t.vm).or_insert((Instant::now(), false));
            (entry.0, entry.1)
        };
        let check = HealthCheck::of(app, &t.process_type);
        if first.1 {
            self.check_live(app, t, &check).await;
            return;
        }
        let first = first.0;
        let Some(result) = self.probe_instance(app, t, &check).await else {
            // A check command runs: its result comes in a later round.
            self.inner
                .probing
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let last = self.pending_reason(t.vm);
            self.fail_if_overdue(app, t, first, &last).await;
            return;
        };
        let last = match result {
            Ok(()) => {
                if let Ok(mut watch) = self.inner.watch.lock() {
                    watch.seen.insert(t.vm, (first, true));
                    watch.up_at.insert(t.vm, Instant::now());
                    watch.ever_up.insert(t.vm);
                }
                return;
            }
            Err(last) => last,
        };
        self.inner
            .probing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.fail_if_overdue(app, t, first, &last).await;
    }

    /// Marks the instance's release failed (once, with the reason in the app's log) when it
    /// has not passed its health check within the check's timeout of `first` starting.
    async fn fail_if_overdue(&self, app: &App, t: &Tagged, first: Instant, last: &str) {
        let check = HealthCheck::of(app, &t.process_type);
        if first.elapsed() <= Duration::from_secs(check.timeout.into())
            || self.failed(app.id, t.release, &t.process_type).is_some()
        {
            return;
        }
        let mut reason = format!(
            "{} did not {} within {} s (last: {last})",
            t.name,
            check.expectation(),
            check.timeout
        );
        if let Some(output) = self.output_tail(app, t.vm).await {
            reason.push_str(&format!("; its output ends: {output}"));
        }
        self.app_event(
            app.id,
            &format!("Release v{} failed to start: {reason}", t.release),
        )
        .await;
        self.mark_failed(app.id, t.release, &t.process_type, reason);
    }

    /// The last lines an instance printed, joined with ` | ` (bounded), to say why it did
    /// not come up (`exec: gunicorn: not found`).
    pub(crate) async fn output_tail(&self, app: &App, vm: Oid) -> Option<String> {
        let owner = self.caller_of_uid(app.uid).ok()?;
        let chunk = self
            .core()
            .vm_console(&owner, vm, nubo_driver::CONSOLE_TAIL)
            .await
            .ok()?;
        let lines: Vec<String> = printed_lines(&String::from_utf8_lossy(&chunk.data), "nubo-init:")
            .into_iter()
            .map(|l| l.chars().take(OUTPUT_LINE_MAX).collect())
            .collect();
        let tail = &lines[lines.len().saturating_sub(OUTPUT_LINES)..];
        (!tail.is_empty()).then(|| tail.join(" | "))
    }

    pub(crate) fn failed(&self, app: i64, release: u32, kind: &str) -> Option<String> {
        self.inner
            .watch
            .lock()
            .ok()
            .and_then(|w| w.failed.get(&(app, release, kind.to_owned())).cloned())
    }

    fn mark_failed(&self, app: i64, release: u32, kind: &str, reason: String) {
        tracing::warn!(
            app,
            release,
            process_type = kind,
            reason,
            "instances failed to start"
        );
        if let Ok(mut w) = self.inner.watch.lock() {
            w.failed.insert((app, release, kind.to_owned()), reason);
        }
    }

    /// Counts a boot failure of the app's release's instances of `kind`; how many before.
    fn boot_failure(&self, app: i64, release: u32, kind: &str) -> u32 {
        let Ok(mut w) = self.inner.watch.lock() else {
            return BOOT_TRIES;
        };
        let count = w
            .boot_failures
            .entry((app, release, kind.to_owned()))
            .or_insert(0);
        *count += 1;
        *count - 1
    }

    /// Whether an instance to retire has been out of the routes for [`DRAIN`] (the first
    /// call takes it out).
    fn drained(&self, vm: Oid) -> bool {
        let Ok(mut w) = self.inner.watch.lock() else {
            return true;
        };
        let since = *w.draining.entry(vm).or_insert_with(Instant::now);
        w.seen.remove(&vm);
        w.up_at.remove(&vm);
        if since.elapsed() >= DRAIN {
            w.draining.remove(&vm);
            true
        } else {
            self.inner
                .probing
                .store(true, std::sync::atomic::Ordering::Relaxed);
            false
        }
    }

    /// When an instance not up now was first seen running since its last restart; for one
    /// never up, since it was first seen at all (now, if no round saw it run: it may end
    /// before a round looks). `None` for one that is, or was until it ended, up.
    fn booting_since(&self, vm: Oid) -> Option<Instant> {
        let mut w = self.inner.watch.lock().ok()?;
        if !w.ever_up.contains(&vm) {
            w.seen.entry(vm).or_insert((Instant::now(), false));
        }
        w.seen
            .get(&vm)
            .and_then(|(first, up)| (!*up).then_some(*first))
    }

    fn forget(&self, vm: Oid) {
        if let Ok(mut w) = self.inner.watch.lock() {
            w.up_at.remove(&vm);
            w.seen.remove(&vm);
            w.live.remove(&vm);
            w.unhealthy.remove(&vm);
            w.command_runs.remove(&vm);
        }
    }

    /// Removes what a deleted app leaves: its instances (stopped at once), then its slugs.
    pub(crate) async fn clean_up_app(&self, app: &App, slugs: &[Oid]) {
        let Ok(owner) = self.caller_of_uid(app.uid) else {
            return;
        };
        let instances = self.tagged_instances(app).unwrap_or_default();
        for t in &instances {
            self.forget(t.vm);
            let _ = self.core().vm_action(&owner, "terminate-hard", t.vm).await;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline
            && !self.tagged_instances(app).unwrap_or_default().is_empty()
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for image in slugs {
            if let Err(e) = self.core().image_delete(&owner, *image, false).await {
                tracing::warn!(app = app.name, image, error = %e, "cannot delete a slug");
            }
        }
        // Its builds' and runs' containers and images.
        self.sweep_leftovers();
    }

    /// Stops an instance: SIGTERM, then SIGKILL after the driver's grace period; its VM is
    /// terminated (nothing of it is kept).
    pub(crate) async fn stop_instance(&self, owner: &nubo_core::Caller, t: &Tagged) {
        self.forget(t.vm);
        let action = if t.state == VmState::Active && t.lcm == LcmState::Running {
            "terminate"
        } else if matches!(t.lcm, LcmState::Shutdown | LcmState::ShutdownPoweroff) {
            return;
        } else {
            "terminate-hard"
        };
        if let Err(e) = self.core().vm_action(owner, action, t.vm).await {
            tracing::debug!(instance = t.name, error = %e, "cannot stop an instance yet");
        }
    }
}

/// An instance's facts from its VM, if the VM is one.
fn tagged(vm: &Vm) -> Option<Tagged> {
    let t = &vm.user_template;
    let ip = vm
        .template
        .vectors("NIC")
        .next()
        .and_then(|pairs| {
            pairs
                .iter()
                .find(|(k, _)| k == "IP")
                .map(|(_, v)| v.clone())
        })
        .and_then(|ip| ip.parse().ok());
    Some(Tagged {
        vm: vm.meta.id,
        name: vm.meta.name.clone(),
        process_type: t.get("NUBO_PROCESS")?.to_owned(),
        index: t.get("NUBO_INDEX")?.parse().ok()?,
        release: t.get("NUBO_RELEASE")?.parse().ok()?,
        generation: t
            .get("NUBO_GENERATION")
            .and_then(|g| g.parse().ok())
            .unwrap_or(0),
        state: vm.state,
        lcm: vm.lcm_state,
        ip,
        host: vm.host_id(),
        host_down: false,
    })
}

fn poisoned() -> crate::error::PaasError {
    crate::error::PaasError::Core(nubo_types::Error::internal(
        "the PaaS watch lock is poisoned",
    ))
}
