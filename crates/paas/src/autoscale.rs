//! Autoscaling as a policy per process type: between `min` and `max` instances, as many as
//! keep the type's load per instance at `target` — CPU (percent of a core per instance) or
//! requests per second per instance (`web`, from the router). Every [`EVERY`] the PaaS
//! reads each app's figures ([`crate::app_metrics`]) and scales: up at once, down only
//! once fewer instances would have done for [`SCALE_DOWN_AFTER`] (so a short lull does not
//! take instances away). Each change is a formation change, with an event in the app's log.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nubo_core::Caller;
use nubo_types::AuthOp;
use serde::{Deserialize, Serialize};

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::App;
use crate::names;

/// How often the autoscaler looks.
pub const EVERY: Duration = Duration::from_secs(15);
/// How long fewer instances must have done before the autoscaler takes some away.
pub const SCALE_DOWN_AFTER: Duration = Duration::from_secs(120);
/// The most instances a policy may ask for (as a formation).
pub const MAX_INSTANCES: u32 = 100;
/// The highest target.
pub const TARGET_MAX: u32 = 1_000_000;

/// What an autoscaling policy measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoscaleMetric {
    /// CPU, percent of a core per instance.
    Cpu,
    /// Requests per second per instance (`web` only).
    Requests,
}

/// An autoscaling policy of a process type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoscalePolicy {
    /// The fewest instances.
    pub min: u32,
    /// The most instances.
    pub max: u32,
    /// What is measured.
    pub metric: AutoscaleMetric,
    /// The load per instance to keep (percent of a core, or requests per second).
    pub target: u32,
}

impl AutoscalePolicy {
    /// Refuses a policy out of bounds for `process_type`.
    pub fn validate(&self, process_type: &str) -> Result<()> {
        names::check_process_type(process_type)?;
        if self.min > self.max || self.max == 0 || self.max > MAX_INSTANCES {
            return Err(PaasError::Invalid(format!(
                "an autoscaling policy needs 0 <= min <= max, 1 <= max <= {MAX_INSTANCES} \
                 (not min {} max {})",
                self.min, self.max
            )));
        }
        if !(1..=TARGET_MAX).contains(&self.target) {
            return Err(PaasError::Invalid(format!(
                "an autoscaling target is 1 to {TARGET_MAX}, not {}",
                self.target
            )));
        }
        if self.metric == AutoscaleMetric::Requests && process_type != "web" {
            return Err(PaasError::Invalid(format!(
                "only web gets requests: {process_type} can scale on cpu only"
            )));
        }
        Ok(())
    }

    /// How many instances carry `load` (the type's total: CPU percent or requests per
    /// second) at the target, within min and max.
    pub fn wanted(&self, load: f64) -> u32 {
        let needed = (load.max(0.0) / f64::from(self.target)).ceil();
        let needed = if needed.is_finite() {
            needed.min(f64::from(MAX_INSTANCES)) as u32
        } else {
            self.max
        };
        needed.clamp(self.min, self.max)
    }
}

/// Autoscaling policy changes by process type: a policy sets it, `None` removes it.
pub type AutoscaleEdit = BTreeMap<String, Option<AutoscalePolicy>>;

/// What the autoscaler remembers between rounds: since when each (app, type) could have
/// done with fewer instances.
#[derive(Debug, Default)]
pub(crate) struct Lulls {
    since: BTreeMap<(i64, String), Instant>,
}

/// The quantity to set, if any: `wanted` at once when above `current`; below it only
/// once the lull has lasted [`SCALE_DOWN_AFTER`].
pub(crate) fn decide(current: u32, wanted: u32, lull_since: Option<Instant>) -> Option<u32> {
    match wanted.cmp(&current) {
        std::cmp::Ordering::Greater => Some(wanted),
        std::cmp::Ordering::Less
            if lull_since.is_some_and(|at| at.elapsed() >= SCALE_DOWN_AFTER) =>
        {
            Some(wanted)
        }
        _ => None,
    }
}

impl Paas {
    /// The app's autoscaling policies (USE).
    pub fn autoscaling_get(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<BTreeMap<String, AutoscalePolicy>> {
        Ok(self.app_get(caller, name)?.autoscaling)
    }

    /// Sets and removes autoscaling policies (MANAGE); the autoscaler applies them within
    /// [`EVERY`].
    pub async fn autoscaling_update(
        &self,
        caller: &Caller,
        name: &str,
        edit: AutoscaleEdit,
    ) -> Result<App> {
        for (kind, policy) in &edit {
            names::check_process_type(kind)?;
            if let Some(p) = policy {
                p.validate(kind)?;
            }
        }
        let now = nubo_core::now();
        let app = self
            .write(|staged| {
                let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                for (kind, policy) in edit.clone() {
                    match policy {
                        Some(p) => app.autoscaling.insert(kind, p),
                        None => app.autoscaling.remove(&kind),
                    };
                }
                if app.autoscaling.len() > crate::health::COUNT_MAX {
                    return Err(PaasError::Invalid(format!(
                        "an app sets at most {} autoscaling policies",
                        crate::health::COUNT_MAX
                    )));
                }
                staged.put_changed_app(&mut app, now);
                Ok(app)
            })
            .await?;
        for (kind, policy) in &edit {
            let text = match policy {
                Some(p) => format!(
                    "Autoscaling of {kind} set by {}: {} to {} instances, {} per instance",
                    caller.uname,
                    p.min,
                    p.max,
                    target_words(p)
                ),
                None => format!("Autoscaling of {kind} removed by {}", caller.uname),
            };
            self.app_event(app.id, &text).await;
        }
        Ok(app)
    }

    /// Runs the autoscaler every [`EVERY`] until nubod stops.
    pub(crate) fn start_autoscaler(&self) {
        let paas = self.clone();
        tokio::spawn(async move {
            let mut lulls = Lulls::default();
            loop {
                tokio::time::sleep(EVERY).await;
                paas.autoscale_round(&mut lulls).await;
            }
        });
    }

    /// One round over the apps that have policies.
    async fn autoscale_round(&self, lulls: &mut Lulls) {
        let apps: Vec<App> = self
            .read(|s| {
                Ok(s.apps
                    .values()
                    .filter(|a| !a.autoscaling.is_empty())
                    .cloned()
                    .collect())
            })
            .unwrap_or_default();
        let known: std::collections::BTreeSet<i64> = apps.iter().map(|a| a.id).collect();
        lulls.since.retain(|(app, _), _| known.contains(app));
        for app in apps {
            if let Err(e) = self.autoscale_app(&app, lulls).await {
                tracing::warn!(app = app.name, error = %e, "cannot autoscale the app");
            }
        }
    }

    async fn autoscale_app(&self, app: &App, lulls: &mut Lulls) -> Result<()> {
        let owner = self.caller_of_uid(app.uid)?;
        let figures = self.app_metrics(&owner, &app.name)?;
        let mut changes = BTreeMap::new();
        let mut reasons = Vec::new();
        for (kind, policy) in &app.autoscaling {
            if app.stopped.contains(kind) {
                continue;
            }
            let of_type = figures
                .process_types
                .iter()
                .find(|t| &t.process_type == kind);
            let load = match policy.metric {
                AutoscaleMetric::Cpu => of_type.map_or(0.0, |t| t.cpu_percent),
                AutoscaleMetric::Requests => figures.requests.requests_per_second,
            };
            let current = app.formation.get(kind).copied().unwrap_or(0);
            let wanted = policy.wanted(load);
            let key = (app.id, kind.clone());
            if wanted < current {
                lulls.since.entry(key.clone()).or_insert_with(Instant::now);
            } else {
                lulls.since.remove(&key);
            }
            if let Some(quantity) = decide(current, wanted, lulls.since.get(&key).copied()) {
                lulls.since.remove(&key);
                changes.insert(kind.clone(), quantity);
                let measured = match policy.metric {
                    AutoscaleMetric::Cpu => format!("{load:.1}% CPU"),
                    AutoscaleMetric::Requests => format!("{load:.2} requests/s"),
                };
                reasons.push(format!(
                    "{kind} from {current} to {quantity} ({measured} for {} per instance)",
                    target_words(policy)
                ));
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let now = nubo_core::now();
        let changed = self
            .write(|staged| {
                let Some(mut fresh) = staged.state.apps.get(&app.id).cloned() else {
                    return Ok(None);
                };
                // Only what the owner did not change meanwhile.
                if fresh.formation != app.formation {
                    return Ok(None);
                }
                fresh.formation.extend(changes.clone());
                staged.put_changed_app(&mut fresh, now);
                Ok(Some(fresh))
            })
            .await?;
        if changed.is_some() {
            self.wake();
            self.app_event(app.id, &format!("Autoscaled {}", reasons.join(", ")))
                .await;
        }
        Ok(())
    }
}

/// `50% CPU` or `10 requests/s`.
fn target_words(p: &AutoscalePolicy) -> String {
    match p.metric {
        AutoscaleMetric::Cpu => format!("{}% CPU", p.target),
        AutoscaleMetric::Requests => format!("{} requests/s", p.target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(metric: AutoscaleMetric, min: u32, max: u32, target: u32) -> AutoscalePolicy {
        AutoscalePolicy {
            min,
            max,
            metric,
            target,
        }
    }

    #[test]
    fn wanted_instances_carry_the_load_within_bounds() {
        let p = policy(AutoscaleMetric::Requests, 1, 5, 10);
        assert_eq!(p.wanted(0.0), 1);
        assert_eq!(p.wanted(10.0), 1);
        assert_eq!(p.wanted(10.1), 2);
        assert_eq!(p.wanted(45.0), 5);
        assert_eq!(p.wanted(1e9), 5);
        assert_eq!(p.wanted(f64::NAN), 1);
        assert_eq!(p.wanted(-3.0), 1);
        let cpu = policy(AutoscaleMetric::Cpu, 0, 3, 50);
        assert_eq!(cpu.wanted(0.0), 0);
        assert_eq!(cpu.wanted(120.0), 3);
    }

    #[test]
    fn up_at_once_down_after_a_lasting_lull() {
        assert_eq!(decide(2, 4, None), Some(4));
        assert_eq!(decide(4, 4, None), None);
        assert_eq!(decide(4, 2, None), None);
        assert_eq!(decide(4, 2, Some(Instant::now())), None);
        let long_ago = Instant::now().checked_sub(SCALE_DOWN_AFTER + Duration::from_secs(1));
        if let Some(at) = long_ago {
            assert_eq!(decide(4, 2, Some(at)), Some(2));
        }
    }

    proptest::proptest! {
        /// Any policy an owner sends is refused, or keeps every load within its bounds.
        #[test]
        fn any_policy_is_refused_or_keeps_within_bounds(
            min in 0u32..200, max in 0u32..200, target in 0u32..2_000_000,
            cpu in proptest::bool::ANY, load in proptest::num::f64::ANY,
        ) {
            let metric = if cpu { AutoscaleMetric::Cpu } else { AutoscaleMetric::Requests };
            let p = policy(metric, min, max, target);
            if p.validate("web").is_ok() {
                let wanted = p.wanted(load);
                proptest::prop_assert!(min <= wanted && wanted <= max && max <= MAX_INSTANCES);
            }
        }
    }

    #[test]
    fn policies_out_of_bounds_are_refused() {
        let ok = policy(AutoscaleMetric::Requests, 1, 3, 5);
        assert!(ok.validate("web").is_ok());
        assert!(ok.validate("worker").is_err(), "requests on a worker");
        assert!(
            policy(AutoscaleMetric::Cpu, 1, 3, 50)
                .validate("worker")
                .is_ok()
        );
        for bad in [
            policy(AutoscaleMetric::Cpu, 4, 3, 50),
            policy(AutoscaleMetric::Cpu, 0, 0, 50),
            policy(AutoscaleMetric::Cpu, 0, MAX_INSTANCES + 1, 50),
            policy(AutoscaleMetric::Cpu, 0, 3, 0),
            policy(AutoscaleMetric::Cpu, 0, 3, TARGET_MAX + 1),
        ] {
            assert!(bad.validate("web").is_err(), "{bad:?}");
        }
        assert!(ok.validate("Web!").is_err());
    }
}
