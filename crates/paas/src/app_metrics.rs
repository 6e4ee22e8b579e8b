//! Monitoring of apps: what an app's instances use and how its requests go, now and over
//! the last 24 hours at one-minute resolution.
//!
//! - CPU (percent of one core) and memory (bytes) of each instance are the core's VM
//!   monitoring's last sample of its VM (what `nubo_vm_cpu_cores` shows in `/metrics`);
//!   restarts are [`Paas::instance_restarts`]; instances desired and up are the formation
//!   and the instances in state `up`.
//! - The router tells [`Paas::observe_request`] of each request it answered for an app
//!   (status, time to the response's head): per minute, a count, the 5xx among them and a
//!   small latency histogram ([`crate::latency`]) for p50 and p99.
//! - Every [`SAMPLE_EVERY`], each app's instances are sampled into their process type's
//!   minute. The series ([`crate::metrics_history`]) are rings of 1440 minutes, fixed in
//!   size per app, kept in memory only (a restarted nubod starts them again) and dropped
//!   within a sample of the app's deletion.
//!
//! Reading an app's figures takes USE on the app, as its instances and logs do.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nubo_core::Caller;
use nubo_types::Oid;
use serde::Serialize;

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::metrics_history::{HISTORY_MINUTES, Traffic, Usage};
use crate::model::App;

/// How often every app's instances are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// The coarsest resolution of the history, in minutes.
pub const RESOLUTION_MAX: u32 = 60;
/// How many minutes of history are kept.
pub const HISTORY_MAX: u32 = HISTORY_MINUTES as u32;

/// How an app's requests went through the router over some seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requests {
    /// Requests answered.
    pub requests: u64,
    /// Of them, answered with a 5xx status (the app's own, or the router's 502, 503, 504).
    pub errors_5xx: u64,
    /// The seconds they were counted over.
    pub seconds: u32,
    /// Requests per second.
    pub requests_per_second: f64,
    /// 5xx answers per second.
    pub errors_per_second: f64,
    /// The share of requests answered with a 5xx status (0 to 1; 0 without requests).
    pub error_share: f64,
    /// The median time to the response's head (ms), without requests none.
    pub latency_p50_ms: Option<f64>,
    /// The 99th percentile of the time to the response's head (ms).
    pub latency_p99_ms: Option<f64>,
}

impl Requests {
    fn of(t: &Traffic, seconds: u32) -> Requests {
        let per_second = |n: u32| {
            if seconds == 0 {
                0.0
            } else {
                round3(f64::from(n) / f64::from(seconds))
            }
        };
        Requests {
            requests: u64::from(t.requests),
            errors_5xx: u64::from(t.errors),
            seconds,
            requests_per_second: per_second(t.requests),
            errors_per_second: per_second(t.errors),
            error_share: if t.requests == 0 {
                0.0
            } else {
                round3(f64::from(t.errors) / f64::from(t.requests))
            },
            latency_p50_ms: t.latency.quantile(0.5).map(round3),
            latency_p99_ms: t.latency.quantile(0.99).map(round3),
        }
    }
}

/// One instance now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceMetrics {
    /// Its VM.
    pub vm: Oid,
    /// Its name (`shop-web-1`).
    pub name: String,
    /// Its process type.
    pub process_type: String,
    /// Its index within the type.
    pub index: u32,
    /// The release it runs.
    pub release: u32,
    /// What it does (`up`, `starting`, `crashed`, …, as `GET …/instances` says).
    pub state: String,
    /// CPU it used at its VM's last monitoring sample (percent of one core); none before
    /// a first sample.
    pub cpu_percent: Option<f64>,
    /// Memory it used at that sample (bytes).
    pub memory_bytes: Option<u64>,
    /// When that sample was taken (seconds since the epoch).
    pub sampled_at: Option<i64>,
    /// How many times it was started again after its process ended (since nubod started).
    pub restarts: u32,
}

/// One process type now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessTypeMetrics {
    /// The type (`web`, `worker`).
    pub process_type: String,
    /// Instances the formation wants (0 when the type is stopped).
    pub desired: u32,
    /// Instances up (passing their checks).
    pub up: u32,
    /// CPU its instances use, summed (percent of one core).
    pub cpu_percent: f64,
    /// Memory its instances use, summed (bytes).
    pub memory_bytes: u64,
    /// Restarts after a crash of its instances.
    pub restarts: u32,
    /// The router's requests (`web` only: the router sends requests to `web` instances).
    pub requests: Option<Requests>,
}

/// An app now: totals, per process type, per instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppMetrics {
    /// The app.
    pub app: String,
    /// When these figures were read (seconds since the epoch).
    pub at: i64,
    /// Instances wanted, all types.
    pub desired: u32,
    /// Instances up, all types.
    pub up: u32,
    /// CPU of all its instances (percent of one core).
    pub cpu_percent: f64,
    /// Memory of all its instances (bytes).
    pub memory_bytes: u64,
    /// Restarts after a crash of its instances.
    pub restarts: u32,
    /// The router's requests over the minute under way and the one before it.
    pub requests: Requests,
    /// Per process type, by name.
    pub process_types: Vec<ProcessTypeMetrics>,
    /// Per instance, by type and index.
    pub instances: Vec<InstanceMetrics>,
}

/// Which history to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// The last so many minutes (default 60, at most [`HISTORY_MAX`]).
    pub minutes: Option<u32>,
    /// Only from this time on (seconds since the epoch).
    pub since: Option<i64>,
    /// Minutes per point (1 to [`RESOLUTION_MAX`], default 1).
    pub resolution: Option<u32>,
}

/// A process type over one point's minutes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypePoint {
    /// The type.
    pub process_type: String,
    /// The mean CPU its instances used (percent of one core, summed over instances).
    pub cpu_percent: f64,
    /// The mean memory its instances used (bytes, summed over instances).
    pub memory_bytes: u64,
    /// Instances up at the point's last sample.
    pub up: u32,
    /// Instances wanted at the point's last sample.
    pub desired: u32,
    /// Restarts of its instances at the point's last sample.
    pub restarts: u32,
}

/// An app over `minutes` minutes from `at`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsPoint {
    /// The point's first minute (seconds since the epoch, a multiple of 60).
    pub at: i64,
    /// How many minutes it covers.
    pub minutes: u32,
    /// The router's requests in them (rates over the seconds that have passed of them).
    pub requests: Requests,
    /// CPU of all its instances (mean, percent of one core).
    pub cpu_percent: f64,
    /// Memory of all its instances (mean, bytes).
    pub memory_bytes: u64,
    /// Instances up at the last sample.
    pub up: u32,
    /// Instances wanted at the last sample.
    pub desired: u32,
    /// Per process type.
    pub process_types: Vec<TypePoint>,
}

impl Paas {
    /// Counts one request the router answered for app `app` (by name): its status and
    /// how long the response's head took. Requests for an app that does not exist are
    /// not counted.
    pub fn observe_request(&self, app: &str, status: u16, took: Duration) {
        let Ok(Some(id)) = self.read(|s| Ok(s.app_by_name(app).map(|a| a.id))) else {
            return;
        };
        let minute = nubo_core::now().div_euclid(60);
        if let Ok(mut m) = self.inner.monitor.lock() {
            m.request(id, minute, status, took.as_secs_f64() * 1000.0);
        }
    }

    /// The app's figures now (USE).
    pub fn app_metrics(&self, caller: &Caller, name: &str) -> Result<AppMetrics> {
        let app = self.app_get(caller, name)?;
        let instances = self.instance_metrics(caller, &app)?;
        let now = nubo_core::now();
        let minute = now.div_euclid(60);
        let traffic = self
            .inner
            .monitor
            .lock()
            .ok()
            .and_then(|m| {
                m.apps.get(&app.id).map(|s| {
                    let mut t = Traffic::default();
                    for (_, minute) in s.traffic.range(minute - 1, minute) {
                        t.merge(minute);
                    }
                    t
                })
            })
            .unwrap_or_default();
        let requests = Requests::of(&traffic, 60 + now.rem_euclid(60) as u32);
        let mut process_types: Vec<ProcessTypeMetrics> = types_of(&app, &instances)
            .into_iter()
            .map(|kind| {
                let mine: Vec<&InstanceMetrics> = instances
                    .iter()
                    .filter(|i| i.process_type == kind)
                    .collect();
                let usage = usage_of(&app, &kind, &mine);
                ProcessTypeMetrics {
                    requests: (kind == "web").then(|| requests.clone()),
                    process_type: kind,
                    desired: usage.desired,
                    up: usage.up,
                    cpu_percent: round3(usage.cpu_sum),
                    memory_bytes: usage.memory_sum as u64,
                    restarts: usage.restarts,
                }
            })
            .collect();
        process_types.sort_by(|a, b| a.process_type.cmp(&b.process_type));
        Ok(AppMetrics {
            app: app.name.clone(),
            at: now,
            desired: process_types.iter().map(|t| t.desired).sum(),
            up: process_types.iter().map(|t| t.up).sum(),
            cpu_percent: round3(process_types.iter().map(|t| t.cpu_percent).sum()),
            memory_bytes: process_types.iter().map(|t| t.memory_bytes).sum(),
            restarts: process_types.iter().map(|t| t.restarts).sum(),
            requests,
            process_types,
            instances,
        })
    }

    /// The app's figures over time, oldest first (USE): a point per `resolution` minutes
    /// that have any figure (minutes nubod did not run, or before it started, have none).
    pub fn app_metrics_history(
        &self,
        caller: &Caller,
        name: &str,
        query: &HistoryQuery,
    ) -> Result<Vec<MetricsPoint>> {
        let minutes = query.minutes.unwrap_or(60);
        if minutes == 0 || minutes > HISTORY_MAX {
            return Err(PaasError::Invalid(format!("minutes is 1 to {HISTORY_MAX}")));
        }
        let resolution = query.resolution.unwrap_or(1);
        if resolution == 0 || resolution > RESOLUTION_MAX {
            return Err(PaasError::Invalid(format!(
                "resolution is 1 to {RESOLUTION_MAX} minutes"
            )));
        }
        let app = self.app_get(caller, name)?;
        let now = nubo_core::now();
        let to = now.div_euclid(60);
        let mut from = to - i64::from(minutes) + 1;
        if let Some(since) = query.since {
            from = from.max(since.div_euclid(60));
        }
        let Ok(monitor) = self.inner.monitor.lock() else {
            return Ok(Vec::new());
        };
        let Some(series) = monitor.apps.get(&app.id) else {
            return Ok(Vec::new());
        };
        let step = i64::from(resolution);
        let points = series.points(from, to, step);
        drop(monitor);
        Ok(points
            .into_iter()
            .map(|(first, (traffic, types))| {
                // The point under way counts the seconds passed of it.
                let start = first * 60;
                let seconds = (now - start + 1).clamp(1, step * 60) as u32;
                let process_types: Vec<TypePoint> = types
                    .into_iter()
                    .map(|(kind, u)| TypePoint {
                        process_type: kind,
                        cpu_percent: round3(u.cpu()),
                        memory_bytes: u.memory(),
                        up: u.up,
                        desired: u.desired,
                        restarts: u.restarts,
                    })
                    .collect();
                MetricsPoint {
                    at: start,
                    minutes: resolution,
                    requests: Requests::of(&traffic, seconds),
                    cpu_percent: round3(process_types.iter().map(|t| t.cpu_percent).sum()),
                    memory_bytes: process_types.iter().map(|t| t.memory_bytes).sum(),
                    up: process_types.iter().map(|t| t.up).sum(),
                    desired: process_types.iter().map(|t| t.desired).sum(),
                    process_types,
                }
            })
            .collect())
    }

    /// The app's instances with what they use, as `caller` sees them.
    fn instance_metrics(&self, caller: &Caller, app: &App) -> Result<Vec<InstanceMetrics>> {
        Ok(self
            .instances(caller, &app.name)?
            .into_iter()
            .map(|i| {
                let sample = self.core().vm_latest_sample(i.vm);
                InstanceMetrics {
                    restarts: self.instance_restarts(i.vm),
                    cpu_percent: sample.as_ref().map(|s| round3(s.cpu)),
                    memory_bytes: sample.as_ref().map(|s| s.memory_kb.saturating_mul(1024)),
                    sampled_at: sample.as_ref().map(|s| s.timestamp),
                    vm: i.vm,
                    name: i.name,
                    process_type: i.process_type,
                    index: i.index,
                    release: i.release,
                    state: i.state,
                }
            })
            .collect())
    }

    /// Samples every app's instances into the current minute every [`SAMPLE_EVERY`], and
    /// drops the series of apps that are gone.
    pub(crate) fn start_app_monitor(&self) {
        let paas = self.clone();
        tokio::spawn(async move {
            loop {
                paas.sample_apps();
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
        });
    }

    /// One sample of every app.
    pub(crate) fn sample_apps(&self) {
        let Ok(apps) = self.read(|s| Ok(s.apps.values().cloned().collect::<Vec<App>>())) else {
            return;
        };
        let minute = nubo_core::now().div_euclid(60);
        // Only apps some VM is tagged with are asked for their instances (each ask reads
        // every VM); the others have none.
        let tagged: BTreeSet<String> = self
            .core()
            .read(|s| {
                Ok(s.vms
                    .values()
                    .filter(|vm| vm.state != nubo_types::states::VmState::Done)
                    .filter_map(|vm| vm.user_template.get("NUBO_APP").map(str::to_owned))
                    .collect())
            })
            .unwrap_or_default();
        let mut alive: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let mut samples: Vec<(i64, String, Usage)> = Vec::new();
        for app in &apps {
            let instances = if tagged.contains(&app.id.to_string()) {
                let Ok(owner) = self.caller_of_uid(app.uid) else {
                    continue;
                };
                let Ok(instances) = self.instance_metrics(&owner, app) else {
                    continue;
                };
                instances
            } else {
                Vec::new()
            };
            let kinds = types_of(app, &instances);
            for kind in &kinds {
                let mine: Vec<&InstanceMetrics> = instances
                    .iter()
                    .filter(|i| &i.process_type == kind)
                    .collect();
                samples.push((app.id, kind.clone(), usage_of(app, kind, &mine)));
            }
            alive.insert(app.id, kinds);
        }
        if let Ok(mut m) = self.inner.monitor.lock() {
            m.retain(&alive);
            for (app, kind, usage) in samples {
                m.usage(app, &kind, minute, usage);
            }
        }
    }
}

/// The process types to show: those the formation names and those instances run.
fn types_of(app: &App, instances: &[InstanceMetrics]) -> Vec<String> {
    let kinds: BTreeSet<String> = app
        .formation
        .iter()
        .filter(|(_, q)| **q > 0)
        .map(|(k, _)| k.clone())
        .chain(instances.iter().map(|i| i.process_type.clone()))
        .collect();
    kinds.into_iter().collect()
}

/// One sample of a process type's instances (sums over them).
fn usage_of(app: &App, kind: &str, instances: &[&InstanceMetrics]) -> Usage {
    let desired = if app.stopped.contains(kind) {
        0
    } else {
        app.formation.get(kind).copied().unwrap_or(0)
    };
    Usage {
        cpu_sum: instances.iter().filter_map(|i| i.cpu_percent).sum(),
        memory_sum: instances
            .iter()
            .filter_map(|i| i.memory_bytes)
            .map(|b| b as f64)
            .sum(),
        samples: 1,
        up: instances.iter().filter(|i| i.state == "up").count() as u32,
        desired,
        restarts: instances.iter().map(|i| i.restarts).sum(),
    }
}

/// `x` to three decimals (what the APIs show).
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_figures_are_rates_and_shares() {
        let mut t = Traffic::default();
        for i in 0..120 {
            t.requests += 1;
            if i % 4 == 0 {
                t.errors += 1;
            }
            t.latency.record(if i < 100 { 4.0 } else { 250.0 });
        }
        let r = Requests::of(&t, 60);
        assert_eq!((r.requests, r.errors_5xx), (120, 30));
        assert_eq!(r.requests_per_second, 2.0);
        assert_eq!(r.errors_per_second, 0.5);
        assert_eq!(r.error_share, 0.25);
        let (p50, p99) = (
            r.latency_p50_ms.unwrap_or(0.0),
            r.latency_p99_ms.unwrap_or(0.0),
        );
        assert!((3.0..=5.0).contains(&p50) && (200.0..=300.0).contains(&p99));
        let none = Requests::of(&Traffic::default(), 0);
        assert_eq!((none.requests_per_second, none.error_share), (0.0, 0.0));
        assert_eq!(none.latency_p50_ms, None);
    }
}
