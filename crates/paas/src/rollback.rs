//! Rollback on demand and release retention.
//!
//! A rollback (Heroku's `releases:rollback`) makes a new release that runs an earlier
//! release's slug with that release's process types and config vars, without a build:
//! "Rollback to v3" becomes the current release and the app's config vars are v3's again.
//! Only a release with a slug that is still kept can be rolled back to.
//!
//! Retention keeps the slugs of an app's newest [`PaasConfig::releases_kept`] releases
//! (`[paas] releases_kept`, 20 by default). An older release's slug is deleted when no
//! kept release, no instance or one-off run still running, and no build in progress uses
//! it: its build is marked [`Build::pruned`] and its releases stay listed. The current
//! release is always kept. Retention runs after each build's release, after a rollback
//! and every [`RETAIN_EVERY`].
//!
//! [`PaasConfig::releases_kept`]: crate::PaasConfig::releases_kept
//! [`Build::pruned`]: crate::model::Build::pruned

use std::collections::BTreeSet;
use std::time::Duration;

use nubo_core::Caller;
use nubo_types::states::VmState;
use nubo_types::{AuthOp, Oid};

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::{App, BuildStatus, Release};
use crate::state::{Op, PaasState};

/// How many releases keep their slugs unless `[paas] releases_kept` says otherwise.
pub const DEFAULT_RELEASES_KEPT: u32 = 20;

/// How often retention looks at every app.
pub(crate) const RETAIN_EVERY: Duration = Duration::from_secs(30);

impl Paas {
    /// Rolls the app back to release `version` (MANAGE): a new release with that release's
    /// slug, process types and config vars. Without a version, the newest release before
    /// the current one that has a slug. Returns the new release.
    pub async fn rollback(
        &self,
        caller: &Caller,
        name: &str,
        version: Option<u32>,
    ) -> Result<Release> {
        let now = nubo_core::now();
        let (app, target, version) = self
            .write(|staged| {
                let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                let target = rollback_target(staged.state, &app, version)?.clone();
                let build = target.build.ok_or_else(|| no_slug(&app, &target))?;
                let version = crate::apps::stage_release(
                    staged,
                    &mut app,
                    caller.uid,
                    now,
                    format!("Rollback to v{}", target.version),
                    target.config.clone(),
                    Some((build, target.process_types.clone())),
                )?;
                Ok((app, target.version, version))
            })
            .await?;
        self.wake();
        self.app_event(
            app.id,
            &format!(
                "Release v{version} created by {}: rollback to v{target}",
                caller.uname
            ),
        )
        .await;
        self.retain_releases();
        self.read(|s| {
            s.releases
                .get(&(app.id, version))
                .cloned()
                .ok_or_else(|| PaasError::not_found("release", format!("v{version}")))
        })
    }

    /// Runs retention over every app in the background (see the module's doc).
    pub(crate) fn retain_releases(&self) {
        let paas = self.clone();
        tokio::spawn(async move { paas.retain_all().await });
    }

    /// Runs retention every [`RETAIN_EVERY`], until nubod stops.
    pub(crate) fn start_retention(&self) {
        let paas = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RETAIN_EVERY).await;
                paas.retain_all().await;
            }
        });
    }

    async fn retain_all(&self) {
        let apps: Vec<i64> = self
            .read(|s| Ok(s.apps.keys().copied().collect()))
            .unwrap_or_default();
        for app in apps {
            if let Err(e) = self.retain_app(app).await {
                tracing::warn!(app, error = %e, "release retention failed");
            }
        }
    }

    /// Marks the builds whose slugs app `app` no longer keeps as pruned, then deletes
    /// their slug images (again, for a pruned slug whose delete failed before).
    async fn retain_app(&self, app_id: i64) -> Result<()> {
        let kept = self.config().releases_kept.max(1);
        let (app, doomed) = self
            .write(|staged| {
                let Some(app) = staged.state.apps.get(&app_id).cloned() else {
                    return Ok((None, Vec::new()));
                };
                let running = self.running_releases(&app)?;
                let (newly, again) = prune_candidates(staged.state, &app, kept, &running);
                let mut doomed = Vec::new();
                for id in newly {
                    if let Some(mut build) = staged.state.builds.get(&id).cloned() {
                        build.pruned = true;
                        if let Some(slug) = &build.slug {
                            doomed.push((id, slug.image, true));
                        }
                        staged.push(Op::PutBuild(build));
                    }
                }
                doomed.extend(again.into_iter().map(|(id, image)| (id, image, false)));
                Ok((Some(app), doomed))
            })
            .await?;
        let Some(app) = app else { return Ok(()) };
        if doomed.is_empty() {
            return Ok(());
        }
        let owner = self.caller_of_uid(app.uid)?;
        for (build, image, first) in doomed {
            if !self.image_exists(image) || self.image_in_use(image) {
                continue;
            }
            match self.core().image_delete(&owner, image, false).await {
                Ok(_) if first => {
                    self.app_event(
                        app.id,
                        &format!(
                            "Slug of build {build} deleted: older than the newest {kept} \
                             releases ([paas] releases_kept)"
                        ),
                    )
                    .await
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(app = app.name, build, image, error = %e,
                    "cannot delete a pruned slug yet"),
            }
        }
        Ok(())
    }

    /// The releases of `app` that instances or one-off runs not yet ended still run: the
    /// app owner's VMs tagged with the app and a release.
    fn running_releases(&self, app: &App) -> Result<BTreeSet<u32>> {
        let tag = app.id.to_string();
        let mut running: BTreeSet<u32> = self.core().read(|s| {
            Ok(s.vms
                .values()
                .filter(|vm| vm.state != VmState::Done && vm.meta.uid == app.uid)
                .filter(|vm| vm.user_template.get("NUBO_APP") == Some(tag.as_str()))
                .filter_map(|vm| vm.user_template.get("NUBO_RELEASE")?.parse().ok())
                .collect())
        })?;
        self.read(|s| {
            running.extend(
                s.runs
                    .values()
                    .filter(|r| r.app == app.id && !r.status.is_final())
                    .map(|r| r.release),
            );
            Ok(())
        })?;
        Ok(running)
    }

    fn image_exists(&self, image: Oid) -> bool {
        self.core()
            .read(|s| Ok(s.images.contains_key(&image)))
            .unwrap_or(false)
    }

    /// Whether a VM still uses the image (the core refuses to delete it then anyway).
    fn image_in_use(&self, image: Oid) -> bool {
        self.core()
            .read(|s| {
                Ok(s.images
                    .get(&image)
                    .is_some_and(|i| i.running_vms > 0 || !i.vms.is_empty()))
            })
            .unwrap_or(true)
    }
}

/// The release a rollback of `app` goes back to: `version`, or the newest release before
/// the current one that has a slug; refused when it does not exist, is the current one,
/// has no slug or its slug was pruned.
pub(crate) fn rollback_target<'s>(
    state: &'s PaasState,
    app: &App,
    version: Option<u32>,
) -> Result<&'s Release> {
    let target = match version {
        Some(v) => state
            .releases
            .get(&(app.id, v))
            .ok_or_else(|| PaasError::NotFound {
                what: format!("release v{v} of app {}", app.name),
            })?,
        None => state
            .releases_of(app.id)
            .rev()
            .find(|r| r.version < app.release && r.build.is_some())
            .ok_or_else(|| {
                PaasError::Conflict(format!(
                    "app {} has no release before v{} with a slug to roll back to",
                    app.name, app.release
                ))
            })?,
    };
    if target.version == app.release {
        return Err(PaasError::Conflict(format!(
            "v{} is the current release of app {}: nothing to roll back to",
            target.version, app.name
        )));
    }
    let build = target
        .build
        .and_then(|id| state.builds.get(&id))
        .filter(|b| b.slug.is_some())
        .ok_or_else(|| no_slug(app, target))?;
    if build.pruned {
        return Err(PaasError::Conflict(format!(
            "the slug of release v{} of app {} (build {}) was deleted by retention (only the \
             newest releases keep theirs, [paas] releases_kept): it cannot be rolled back to",
            target.version, app.name, build.id
        )));
    }
    Ok(target)
}

fn no_slug(app: &App, release: &Release) -> PaasError {
    PaasError::Conflict(format!(
        "release v{} of app {} has no slug (no build): there is nothing to roll back to",
        release.version, app.name
    ))
}

/// The builds of `app` whose slugs retention deletes now (not yet pruned), and those
/// already pruned whose slug image may still be there (with it): every succeeded build
/// with a slug that none of the newest `kept` releases, the current release, the releases
/// in `running`, those of a deployment under way (the one it brings and the one it may go
/// back to) nor a build in progress uses.
pub(crate) fn prune_candidates(
    state: &PaasState,
    app: &App,
    kept: u32,
    running: &BTreeSet<u32>,
) -> (Vec<i64>, Vec<(i64, Oid)>) {
    let releases: Vec<&Release> = state.releases_of(app.id).collect();
    let newest: BTreeSet<u32> = releases
        .iter()
        .rev()
        .take(kept as usize)
        .map(|r| r.version)
        .collect();
    // A deployment under way may still go back to the release it started from.
    let deploying: BTreeSet<u32> = state
        .deployments_of(app.id)
        .filter(|d| d.state.is_active())
        .flat_map(|d| [d.release, d.from_release])
        .collect();
    let used: BTreeSet<i64> = releases
        .iter()
        .filter(|r| {
            newest.contains(&r.version)
                || r.version == app.release
                || running.contains(&r.version)
                || deploying.contains(&r.version)
        })
        .filter_map(|r| r.build)
        .collect();
    let referenced: BTreeSet<i64> = releases.iter().filter_map(|r| r.build).collect();
    let mut newly = Vec::new();
    let mut again = Vec::new();
    for build in state.builds_of(app.id) {
        if used.contains(&build.id)
            || !referenced.contains(&build.id)
            || build.status != BuildStatus::Succeeded
        {
            continue;
        }
        match (&build.slug, build.pruned) {
            (Some(_), false) => newly.push(build.id),
            (Some(slug), true) => again.push((build.id, slug.image)),
            (None, _) => {}
        }
    }
    (newly, again)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::model::Build;

    fn app(release: u32) -> App {
        serde_json::from_value(serde_json::json!({
            "id": 1, "name": "shop", "uid": 2, "gid": 1,
            "perms": nubo_types::Permissions::default(), "stack": "s",
            "created": 0, "updated": 0, "revision": 1, "config": {}, "formation": {},
            "release": release,
        }))
        .expect("an app")
    }

    fn release(version: u32, build: Option<i64>, greeting: &str) -> Release {
        crate::fixtures::release(version, build, greeting)
    }

    fn build(id: i64, status: BuildStatus, slug: bool) -> Build {
        crate::fixtures::build(id, 1, status, slug)
    }

    /// v1 initial; v2 build 1; v3 config; v4 build 2; v5 build 3; current `current`.
    fn state(current: u32) -> (PaasState, App) {
        let mut s = PaasState::default();
        let app = app(current);
        s.apply(Op::PutApp(app.clone()));
        for r in [
            release(1, None, "zero"),
            release(2, Some(1), "one"),
            release(3, Some(1), "two"),
            release(4, Some(2), "three"),
            release(5, Some(3), "four"),
        ] {
            s.apply(Op::PutRelease(r));
        }
        for b in [
            build(1, BuildStatus::Succeeded, true),
            build(2, BuildStatus::Succeeded, true),
            build(3, BuildStatus::Succeeded, true),
            build(4, BuildStatus::Building, false),
        ] {
            s.apply(Op::PutBuild(b));
        }
        (s, app)
    }

    #[test]
    fn the_default_target_is_the_previous_release_with_a_slug() {
        let (s, app) = state(5);
        assert_eq!(rollback_target(&s, &app, None).expect("v4").version, 4);
        let (s, app) = state(2);
        let e = rollback_target(&s, &app, None).expect_err("v1 has no slug");
        assert!(matches!(e, PaasError::Conflict(_)), "{e}");
    }

    #[test]
    fn targets_that_cannot_be_rolled_back_to_are_refused() {
        let (mut s, app) = state(5);
        assert_eq!(rollback_target(&s, &app, Some(3)).expect("v3").version, 3);
        let e = rollback_target(&s, &app, Some(9)).expect_err("no v9");
        assert!(matches!(e, PaasError::NotFound { .. }), "{e}");
        let e = rollback_target(&s, &app, Some(5)).expect_err("current");
        assert!(e.to_string().contains("current release"), "{e}");
        let e = rollback_target(&s, &app, Some(1)).expect_err("no slug");
        assert!(e.to_string().contains("no slug"), "{e}");
        let mut pruned = build(1, BuildStatus::Succeeded, true);
        pruned.pruned = true;
        s.apply(Op::PutBuild(pruned));
        let e = rollback_target(&s, &app, Some(2)).expect_err("pruned");
        assert!(e.to_string().contains("deleted by retention"), "{e}");
    }

    #[test]
    fn retention_keeps_the_newest_the_current_and_the_running() {
        let (mut s, app) = state(5);
        let none = BTreeSet::new();
        // Newest 2 (v5, v4): build 1 (v2, v3) goes.
        assert_eq!(prune_candidates(&s, &app, 2, &none), (vec![1], vec![]));
        // Newest 3 (v5, v4, v3): v3 runs build 1, which stays.
        assert_eq!(prune_candidates(&s, &app, 3, &none).0, Vec::<i64>::new());
        // An instance of v2 still runs.
        assert!(prune_candidates(&s, &app, 1, &BTreeSet::from([2])).0 == vec![2]);
        assert_eq!(prune_candidates(&s, &app, 1, &none).0, vec![1, 2]);
        // After a rollback to v2 the current release is v6 (build 1).
        s.apply(Op::PutRelease(release(6, Some(1), "one")));
        let mut rolled = app.clone();
        rolled.release = 6;
        assert_eq!(prune_candidates(&s, &rolled, 1, &none).0, vec![2, 3]);
        // The current release is kept even when it is not the newest.
        rolled.release = 4;
        assert_eq!(prune_candidates(&s, &rolled, 1, &none).0, vec![3]);
        // A deployment under way from v2 keeps v2's slug for its way back.
        let deployment = serde_json::json!({
            "id": 1, "app": 1, "uid": 2, "cause": "Release v4", "from_release": 2,
            "release": 4, "policy": crate::deployments::RolloutPolicy::default(),
            "state": "DEPLOYING", "reason": null, "created": 0, "updated": 0,
        });
        let deployment = serde_json::from_value(deployment).expect("a deployment");
        s.apply(Op::PutDeployment(deployment));
        assert_eq!(prune_candidates(&s, &rolled, 1, &none).0, vec![3]);
        rolled.release = 6;
        assert_eq!(prune_candidates(&s, &rolled, 1, &none).0, vec![3]);
        // Pruned builds whose slug is still there are tried again.
        let mut pruned = build(3, BuildStatus::Succeeded, true);
        pruned.pruned = true;
        s.apply(Op::PutBuild(pruned));
        assert_eq!(
            prune_candidates(&s, &rolled, 1, &none),
            (vec![], vec![(3, 103)])
        );
    }
}
