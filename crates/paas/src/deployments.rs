//! Deployments: how an app moves from one release (or restart) to the next while it serves,
//! as Cloud Foundry's deployments. Every release with a slug, every restart and every
//! redeploy makes one; it records the release it leaves and the one it brings, the
//! strategy (`rolling`, `recreate`, `canary`), how many instances may be in flight, and
//! where it is: DEPLOYING, then DEPLOYED, FAILED (rolled back), CANCELING → CANCELED, or
//! SUPERSEDED by a newer one. The reconciler drives it ([`crate::rollout`]); this module
//! keeps the records and answers the API's calls on them.

use nubo_core::Caller;
use nubo_types::{AuthOp, Oid};
use serde::{Deserialize, Serialize};

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::App;
use crate::state::{DEPLOYMENT, Op, Staged};

/// How many deployments are kept per app (older ones are forgotten).
pub const KEPT_PER_APP: usize = 20;
/// The most instances of a type one step of a rolling deployment may start.
pub const MAX_IN_FLIGHT: u32 = 100;

/// How a deployment replaces instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// `max_in_flight` new instances at a time, each old one stopped once its successor
    /// passes its health check (the default).
    #[default]
    Rolling,
    /// Every old instance stopped first, then the new ones started (a gap in service).
    Recreate,
    /// One new `web` instance takes `canary_percent` of the traffic until the deployment is
    /// promoted (then it goes on as `rolling`) or cancelled.
    Canary,
}

impl Strategy {
    /// Its name as the APIs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::Recreate => "recreate",
            Strategy::Canary => "canary",
        }
    }
}

/// Where a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeploymentState {
    /// New instances are being started and old ones retired.
    Deploying,
    /// Every wanted instance runs the new release and passes its check.
    Deployed,
    /// Cancelled by a user: the old release is getting its instances back.
    Canceling,
    /// Cancelled, and the old release serves again.
    Canceled,
    /// The new release's instances did not pass their checks in time: rolled back.
    Failed,
    /// A newer deployment took over before this one ended.
    Superseded,
}

impl DeploymentState {
    /// Its name as the APIs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Deploying => "DEPLOYING",
            DeploymentState::Deployed => "DEPLOYED",
            DeploymentState::Canceling => "CANCELING",
            DeploymentState::Canceled => "CANCELED",
            DeploymentState::Failed => "FAILED",
            DeploymentState::Superseded => "SUPERSEDED",
        }
    }

    /// Whether the deployment still moves instances.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            DeploymentState::Deploying | DeploymentState::Canceling
        )
    }
}

/// How an app's deployments go unless one says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutPolicy {
    /// The strategy.
    pub strategy: Strategy,
    /// New instances of a type started at once (rolling and canary after promotion).
    pub max_in_flight: u32,
    /// The share of requests (1–99 %) a canary takes.
    pub canary_percent: u8,
}

impl Default for RolloutPolicy {
    fn default() -> Self {
        RolloutPolicy {
            strategy: Strategy::Rolling,
            max_in_flight: 1,
            canary_percent: 10,
        }
    }
}

impl RolloutPolicy {
    /// Refuses a policy out of bounds.
    pub fn check(&self) -> Result<()> {
        if !(1..=MAX_IN_FLIGHT).contains(&self.max_in_flight) {
            return Err(PaasError::Invalid(format!(
                "max_in_flight must be 1 to {MAX_IN_FLIGHT}, not {}",
                self.max_in_flight
            )));
        }
        if !(1..=99).contains(&self.canary_percent) {
            return Err(PaasError::Invalid(format!(
                "canary_percent must be 1 to 99, not {}",
                self.canary_percent
            )));
        }
        Ok(())
    }
}

/// Changes to a rollout policy: absent fields keep their value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RolloutEdit {
    /// The strategy.
    pub strategy: Option<Strategy>,
    /// New instances of a type started at once.
    pub max_in_flight: Option<u32>,
    /// The share of requests a canary takes.
    pub canary_percent: Option<u8>,
}

impl RolloutEdit {
    /// `base` with these changes, if in bounds.
    pub fn over(self, base: RolloutPolicy) -> Result<RolloutPolicy> {
        let policy = RolloutPolicy {
            strategy: self.strategy.unwrap_or(base.strategy),
            max_in_flight: self.max_in_flight.unwrap_or(base.max_in_flight),
            canary_percent: self.canary_percent.unwrap_or(base.canary_percent),
        };
        policy.check()?;
        Ok(policy)
    }
}

/// One move of an app from a release (or restart generation) to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Record id (also its number in URLs).
    pub id: i64,
    /// The app.
    pub app: i64,
    /// Who or what made it.
    pub uid: Oid,
    /// Why: `Release v3`, `Restart of web`, `Redeploy`.
    pub cause: String,
    /// The release that served before (0: none).
    pub from_release: u32,
    /// The release it brings.
    pub release: u32,
    /// How it goes.
    pub policy: RolloutPolicy,
    /// Whether a canary was promoted (then it goes on as rolling).
    #[serde(default)]
    pub promoted: bool,
    /// Where it is.
    pub state: DeploymentState,
    /// Why it failed, was cancelled or superseded.
    pub reason: Option<String>,
    /// When it was made (epoch seconds).
    pub created: i64,
    /// When its state last changed.
    pub updated: i64,
}

impl Deployment {
    /// Whether its canary waits for a promotion.
    pub fn canary_waiting(&self) -> bool {
        self.state == DeploymentState::Deploying
            && self.policy.strategy == Strategy::Canary
            && !self.promoted
    }
}

/// Stages a deployment of `app`'s release `release` (already staged on `app`), from
/// `from_release`, superseding the app's deployment still under way.
pub(crate) fn stage_deployment(
    staged: &mut Staged<'_>,
    app: &App,
    uid: Oid,
    cause: String,
    from_release: u32,
    now: i64,
) -> Deployment {
    let mut from_release = from_release;
    let mut earlier: Vec<Deployment> = staged.state.deployments_of(app.id).cloned().collect();
    if let Some(active) = earlier.last().filter(|d| d.state.is_active()) {
        // What served before the one under way is what serves if this one fails too; when
        // nothing did (a first deploy), the release it was bringing.
        from_release = superseded_from(active);
        let mut superseded = active.clone();
        superseded.state = DeploymentState::Superseded;
        superseded.reason = Some(format!("{cause} came before it ended"));
        superseded.updated = now;
        staged.push(Op::PutDeployment(superseded));
    }
    let deployment = Deployment {
        id: staged.new_id(DEPLOYMENT),
        app: app.id,
        uid,
        cause,
        from_release,
        release: app.release,
        policy: app.rollout,
        promoted: false,
        state: DeploymentState::Deploying,
        reason: None,
        created: now,
        updated: now,
    };
    staged.push(Op::PutDeployment(deployment.clone()));
    earlier.sort_by_key(|d| d.id);
    let excess = (earlier.len() + 1).saturating_sub(KEPT_PER_APP);
    for old in earlier.iter().take(excess) {
        staged.push(Op::DeleteDeployment(old.id));
    }
    deployment
}

impl Paas {
    /// The app's deployments, newest first (USE).
    pub fn deployments(&self, caller: &Caller, name: &str) -> Result<Vec<Deployment>> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Use)?;
            Ok(state.deployments_of(app.id).rev().cloned().collect())
        })
    }

    /// Deployment `id` of the app (USE).
    pub fn deployment(&self, caller: &Caller, name: &str, id: i64) -> Result<Deployment> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Use)?;
            state
                .deployments
                .get(&id)
                .filter(|d| d.app == app.id)
                .cloned()
                .ok_or_else(|| PaasError::NotFound {
                    what: format!("deployment {id} of app {name}"),
                })
        })
    }

    /// Changes how the app's next deployments go (MANAGE).
    pub async fn rollout_update(
        &self,
        caller: &Caller,
        name: &str,
        edit: RolloutEdit,
    ) -> Result<App> {
        let now = nubo_core::now();
        self.write(|staged| {
            let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
            app.rollout = edit.over(app.rollout)?;
            staged.put_changed_app(&mut app, now);
            Ok(app)
        })
        .await
    }

    /// Redeploys the app's current release: every instance replaced as the app's rollout
    /// policy with `edit` says, the old serving meanwhile (MANAGE).
    pub async fn redeploy(
        &self,
        caller: &Caller,
        name: &str,
        edit: RolloutEdit,
    ) -> Result<Deployment> {
        let now = nubo_core::now();
        let deployment = self
            .write(|staged| {
                let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                let release = staged.state.releases.get(&(app.id, app.release));
                if release.and_then(|r| r.build).is_none() {
                    return Err(PaasError::Conflict(format!(
                        "app {} has no build yet: nothing to redeploy",
                        app.name
                    )));
                }
                let kinds: Vec<String> = release
                    .map(|r| r.process_types.keys().cloned().collect())
                    .unwrap_or_default();
                for kind in kinds {
                    *app.generations.entry(kind).or_insert(0) += 1;
                }
                let saved = app.rollout;
                app.rollout = edit.over(saved)?;
                let deployment = stage_deployment(
                    staged,
                    &app,
                    caller.uid,
                    "Redeploy".into(),
                    app.release,
                    now,
                );
                app.rollout = saved;
                staged.put_changed_app(&mut app, now);
                Ok(deployment)
            })
            .await?;
        self.clear_failed(deployment.app);
        self.wake();
        self.app_event(
            deployment.app,
            &format!(
                "Deployment {} ({}) of v{} started by {}",
                deployment.id,
                deployment.policy.strategy.as_str(),
                deployment.release,
                caller.uname
            ),
        )
        .await;
        Ok(deployment)
    }

    /// Cancels the app's deployment `id` (MANAGE): the release it left gets every instance
    /// back. Only a deployment under way from another release can be cancelled.
    pub async fn deployment_cancel(
        &self,
        caller: &Caller,
        name: &str,
        id: i64,
    ) -> Result<Deployment> {
        let now = nubo_core::now();
        let deployment = self
            .write(|staged| {
                let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                let mut d = deployment_of(staged, &app, id, name)?;
                if d.state != DeploymentState::Deploying {
                    return Err(PaasError::Conflict(format!(
                        "deployment {id} is {}: only a DEPLOYING one can be cancelled",
                        d.state.as_str()
                    )));
                }
                let Some(from) = previous_release(staged, &d) else {
                    return Err(PaasError::Conflict(format!(
                        "deployment {id} has no earlier release to go back to \
                         (scale to 0 or stop the app instead)"
                    )));
                };
                d.state = DeploymentState::Canceling;
                d.reason = Some(format!("cancelled by {}", caller.uname));
                d.updated = now;
                app.release = from.version;
                app.config = from.config;
                staged.put_changed_app(&mut app, now);
                staged.push(Op::PutDeployment(d.clone()));
                Ok(d)
            })
            .await?;
        self.wake();
        self.app_event(
            deployment.app,
            &format!(
                "Deployment {id} of v{} cancelled by {}: v{} gets its instances back",
                deployment.release, caller.uname, deployment.from_release
            ),
        )
        .await;
        Ok(deployment)
    }

    /// Promotes the app's canary deployment `id` (MANAGE): it goes on as a rolling one.
    pub async fn deployment_promote(
        &self,
        caller: &Caller,
        name: &str,
        id: i64,
    ) -> Result<Deployment> {
        let now = nubo_core::now();
        let deployment = self
            .write(|staged| {
                let app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                let mut d = deployment_of(staged, &app, id, name)?;
                if !d.canary_waiting() {
                    return Err(PaasError::Conflict(format!(
                        "deployment {id} is not a canary waiting for promotion ({}, {})",
                        d.policy.strategy.as_str(),
                        d.state.as_str()
                    )));
                }
                d.promoted = true;
                d.updated = now;
                staged.push(Op::PutDeployment(d.clone()));
                Ok(d)
            })
            .await?;
        self.wake();
        self.app_event(
            deployment.app,
            &format!(
                "Canary of v{} promoted by {}: rolling on",
                deployment.release, caller.uname
            ),
        )
        .await;
        Ok(deployment)
    }

    /// The app's deployment under way, if any.
    pub(crate) fn active_deployment(&self, app: i64) -> Option<Deployment> {
        self.read(|s| {
            Ok(s.deployments_of(app)
                .next_back()
                .filter(|d| d.state.is_active())
                .cloned())
        })
        .ok()
        .flatten()
    }

    /// Ends the app's deployment under way when what runs says it has: FAILED (and rolled
    /// back) when its release's instances of a type failed their checks, DEPLOYED or
    /// CANCELED once every wanted instance is of the release it brings (or went back to)
    /// and passes its check.
    pub(crate) async fn advance_deployment(
        &self,
        app: &App,
        d: &Deployment,
        wanted: &[(String, u32)],
        members: &[crate::rollout::Member],
    ) {
        let failure = (d.state == DeploymentState::Deploying && app.release == d.release)
            .then(|| {
                wanted
                    .iter()
                    .find_map(|(kind, _)| self.failed(app.id, d.release, kind))
            })
            .flatten();
        let (state, reason, event) = if let Some(reason) = failure {
            let back = if d.from_release != 0 && d.from_release != d.release {
                format!("; v{} serves on", d.from_release)
            } else {
                String::new()
            };
            let event = format!(
                "Deployment {} of v{} failed{back}: {reason}",
                d.id, d.release
            );
            (DeploymentState::Failed, Some(reason), event)
        } else if !crate::rollout::settled(wanted, members) || d.canary_waiting() {
            return;
        } else if d.state == DeploymentState::Deploying && app.release == d.release {
            let event = format!("Deployment {} of v{} done", d.id, d.release);
            (DeploymentState::Deployed, None, event)
        } else if d.state == DeploymentState::Canceling && app.release == d.from_release {
            let event = format!(
                "Deployment {} cancelled: v{} serves again",
                d.id, d.from_release
            );
            (DeploymentState::Canceled, d.reason.clone(), event)
        } else {
            return;
        };
        match self.deployment_end(d.id, state, reason).await {
            Ok(Some(_)) => {
                self.app_event(app.id, &event).await;
                self.wake();
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(app = app.name, error = %e, "cannot end a deployment"),
        }
    }

    /// Ends deployment `id` in `state` with `reason`, if it is still under way; a failed
    /// one gives the app back the release it left.
    pub(crate) async fn deployment_end(
        &self,
        id: i64,
        state: DeploymentState,
        reason: Option<String>,
    ) -> Result<Option<Deployment>> {
        let now = nubo_core::now();
        self.write(|staged| {
            let Some(mut d) = staged
                .state
                .deployments
                .get(&id)
                .filter(|d| d.state.is_active())
                .cloned()
            else {
                return Ok(None);
            };
            if state == DeploymentState::Failed
                && let Some(mut app) = staged.state.apps.get(&d.app).cloned()
                && app.release == d.release
                && let Some(from) = previous_release(staged, &d)
            {
                app.release = from.version;
                app.config = from.config;
                staged.put_changed_app(&mut app, now);
            }
            d.state = state;
            d.reason = reason;
            d.updated = now;
            staged.push(Op::PutDeployment(d.clone()));
            Ok(Some(d))
        })
        .await
    }
}

/// The release a deployment that supersedes `active` goes back to if it fails.
fn superseded_from(active: &Deployment) -> u32 {
    if active.from_release == 0 {
        active.release
    } else {
        active.from_release
    }
}

/// The app's deployment `id`.
fn deployment_of(staged: &Staged<'_>, app: &App, id: i64, name: &str) -> Result<Deployment> {
    staged
        .state
        .deployments
        .get(&id)
        .filter(|d| d.app == app.id)
        .cloned()
        .ok_or_else(|| PaasError::NotFound {
            what: format!("deployment {id} of app {name}"),
        })
}

/// The release a deployment left, if it is another one that has a slug to run.
fn previous_release(staged: &Staged<'_>, d: &Deployment) -> Option<crate::model::Release> {
    (d.from_release != 0 && d.from_release != d.release)
        .then(|| staged.state.releases.get(&(d.app, d.from_release)))
        .flatten()
        .filter(|r| r.build.is_some())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(from_release: u32, release: u32) -> Deployment {
        Deployment {
            id: 1,
            app: 1,
            uid: 0,
            cause: "Release".into(),
            from_release,
            release,
            policy: RolloutPolicy::default(),
            promoted: false,
            state: DeploymentState::Deploying,
            reason: None,
            created: 0,
            updated: 0,
        }
    }

    #[test]
    fn a_superseded_deployment_hands_on_what_served_before_it() {
        // v2 was replacing v1: v1 is what serves if the next fails too.
        assert_eq!(superseded_from(&deployment(1, 2)), 1);
        // A first deploy (nothing before it): the release it was bringing.
        assert_eq!(superseded_from(&deployment(0, 2)), 2);
    }

    proptest::proptest! {
        /// Any rollout change is refused, or gives a policy within bounds.
        #[test]
        fn any_rollout_edit_is_refused_or_in_bounds(
            max_in_flight in proptest::option::of(proptest::num::u32::ANY),
            canary_percent in proptest::option::of(proptest::num::u8::ANY),
        ) {
            let edit = RolloutEdit { strategy: None, max_in_flight, canary_percent };
            if let Ok(p) = edit.over(RolloutPolicy::default()) {
                proptest::prop_assert!((1..=MAX_IN_FLIGHT).contains(&p.max_in_flight));
                proptest::prop_assert!((1..=99).contains(&p.canary_percent));
            }
        }
    }

    #[test]
    fn policies_out_of_bounds_are_refused() {
        let edit = |max_in_flight, canary_percent| RolloutEdit {
            strategy: None,
            max_in_flight: Some(max_in_flight),
            canary_percent: Some(canary_percent),
        };
        let base = RolloutPolicy::default();
        assert!(edit(1, 10).over(base).is_ok());
        assert!(edit(MAX_IN_FLIGHT, 99).over(base).is_ok());
        for (m, c) in [(0, 10), (MAX_IN_FLIGHT + 1, 10), (1, 0), (1, 100)] {
            assert!(edit(m, c).over(base).is_err(), "{m} {c}");
        }
        let canary = RolloutEdit {
            strategy: Some(Strategy::Canary),
            ..RolloutEdit::default()
        };
        assert_eq!(
            canary.over(base).map(|p| p.strategy).ok(),
            Some(Strategy::Canary)
        );
    }
}
