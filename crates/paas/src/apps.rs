//! Operations on apps: create, list, show, delete; config vars and formation, each change
//! making a new release as Heroku does. Apps are authorized as DOCUMENT objects.

use std::collections::BTreeMap;

use nubo_core::Caller;
use nubo_core::auth::{Target, authorize_create, authorize_kind};
use nubo_types::{AuthOp, ObjectKind, Permissions};

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::{App, Release, StackState};
use crate::names;
use crate::state::{APP, Op, PaasState, RELEASE, Staged};

/// What a new app is made of.
#[derive(Debug, Clone, Default)]
pub struct NewApp {
    /// Its name (a DNS label, unique in the cloud).
    pub name: String,
    /// The stack (by name); by default the newest ACTIVE one.
    pub stack: Option<String>,
}

/// Which apps a listing shows: ordered by name, after a name, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct AppFilter {
    /// Only names after this one (the page token of the previous page).
    pub after: Option<String>,
    /// The most apps on one page.
    pub limit: usize,
}

/// Config var changes: a value sets the var, `None` unsets it.
pub type ConfigEdit = BTreeMap<String, Option<String>>;

impl Paas {
    /// Checks that `caller` may do `op` on `app` (the core's rules for documents).
    pub(crate) fn authorize_app(&self, caller: &Caller, app: &App, op: AuthOp) -> Result<()> {
        Ok(self.core().read(|state| {
            authorize_kind(
                state,
                caller,
                &Target {
                    kind: ObjectKind::Document,
                    oid: None,
                    gid: app.gid,
                    clusters: Vec::new(),
                },
                app.uid,
                app.perms,
                op,
            )
        })?)
    }

    /// The app named `name`, if the caller may do `op` on it.
    pub(crate) fn app_for(
        &self,
        state: &PaasState,
        caller: &Caller,
        name: &str,
        op: AuthOp,
    ) -> Result<App> {
        let app = state
            .app_by_name(name)
            .ok_or_else(|| PaasError::not_found("app", name))?;
        self.authorize_app(caller, app, op)?;
        Ok(app.clone())
    }

    /// Creates an app with its first release (no slug yet), owned by the caller.
    pub async fn app_create(&self, caller: &Caller, new: NewApp) -> Result<App> {
        names::check_app_name(&new.name)?;
        self.core()
            .read(|state| authorize_create(state, caller, ObjectKind::Document))?;
        let now = nubo_core::now();
        self.write(|staged| stage_app(staged, caller, &new, now))
            .await
    }

    /// The apps the caller may see, by name, one page; and the token of the next page.
    pub fn app_list(
        &self,
        caller: &Caller,
        filter: &AppFilter,
    ) -> Result<(Vec<App>, Option<String>)> {
        self.app_list_on(caller, filter, None)
    }

    /// As [`Paas::app_list`], only the apps on stack `stack` when given.
    pub fn app_list_on(
        &self,
        caller: &Caller,
        filter: &AppFilter,
        stack: Option<&str>,
    ) -> Result<(Vec<App>, Option<String>)> {
        self.read(|state| {
            let mut visible: Vec<&App> = state
                .apps
                .values()
                .filter(|a| stack.is_none_or(|s| a.stack == s))
                .filter(|a| {
                    filter
                        .after
                        .as_deref()
                        .is_none_or(|after| a.name.as_str() > after)
                })
                .filter(|a| self.authorize_app(caller, a, AuthOp::Use).is_ok())
                .collect();
            visible.sort_by(|a, b| a.name.cmp(&b.name));
            let limit = filter.limit.max(1);
            let next = (visible.len() > limit).then(|| visible[limit - 1].name.clone());
            Ok((visible.into_iter().take(limit).cloned().collect(), next))
        })
    }

    /// The app named `name` (USE).
    pub fn app_get(&self, caller: &Caller, name: &str) -> Result<App> {
        self.read(|state| self.app_for(state, caller, name, AuthOp::Use))
    }

    /// Deletes the app and everything of it (MANAGE). With `if_match`, only at that revision.
    pub async fn app_delete(
        &self,
        caller: &Caller,
        name: &str,
        if_match: Option<u64>,
    ) -> Result<()> {
        let (app, slugs) = self
            .write(|staged| {
                let app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                check_revision(&app, if_match)?;
                let slugs: Vec<_> = staged
                    .state
                    .builds_of(app.id)
                    .filter_map(|b| b.slug.as_ref().map(|s| s.image))
                    .collect();
                staged.push(Op::DeleteApp(app.id));
                Ok((app, slugs))
            })
            .await?;
        let paas = self.clone();
        tokio::spawn(async move { paas.clean_up_app(&app, &slugs).await });
        Ok(())
    }

    /// The app's config vars (MANAGE: they hold its secrets).
    pub fn config_get(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(App, BTreeMap<String, String>)> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Manage)?;
            let config = app.config.clone();
            Ok((app, config))
        })
    }

    /// Sets and unsets config vars (MANAGE), making a new release when anything changes.
    pub async fn config_update(
        &self,
        caller: &Caller,
        name: &str,
        edit: ConfigEdit,
        if_match: Option<u64>,
    ) -> Result<App> {
        for (key, value) in &edit {
            names::check_config_var(key, value.as_deref().unwrap_or_default())?;
        }
        let now = nubo_core::now();
        let before = self.app_get(caller, name).map(|a| a.release).unwrap_or(0);
        let app = self
            .write(|staged| {
                let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                check_revision(&app, if_match)?;
                let mut config = app.config.clone();
                let (mut set, mut unset) = (Vec::new(), Vec::new());
                for (key, value) in edit {
                    match value {
                        Some(v) => {
                            if config.get(&key) != Some(&v) {
                                set.push(key.clone());
                                config.insert(key, v);
                            }
                        }
                        None => {
                            if config.remove(&key).is_some() {
                                unset.push(key);
                            }
                        }
                    }
                }
                if set.is_empty() && unset.is_empty() {
                    return Ok(app);
                }
                names::check_config_size(&config)?;
                let mut description = Vec::new();
                if !set.is_empty() {
                    description.push(format!("Set {} config vars", set.join(", ")));
                }
                if !unset.is_empty() {
                    description.push(format!("Remove {} config vars", unset.join(", ")));
                }
                stage_release(
                    staged,
                    &mut app,
                    caller.uid,
                    now,
                    description.join("; "),
                    config,
                    None,
                )?;
                Ok(app)
            })
            .await?;
        if app.release != before {
            self.wake();
            self.app_event(
                app.id,
                &format!(
                    "Release v{} created by {}: config vars changed",
                    app.release, caller.uname
                ),
            )
            .await;
        }
        Ok(app)
    }

    /// Sets how many instances of each process type the app wants (MANAGE). Only process
    /// types the current release declares may be scaled above zero.
    pub async fn formation_update(
        &self,
        caller: &Caller,
        name: &str,
        quantities: BTreeMap<String, u32>,
        if_match: Option<u64>,
    ) -> Result<App> {
        for (kind, quantity) in &quantities {
            names::check_process_type(kind)?;
            names::check_quantity(kind, *quantity)?;
        }
        let now = nubo_core::now();
        let app = self
            .write(|staged| {
                let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                check_revision(&app, if_match)?;
                let release = staged
                    .state
                    .releases
                    .get(&(app.id, app.release))
                    .ok_or_else(|| PaasError::not_found("release", format!("v{}", app.release)))?;
                for (kind, quantity) in quantities {
                    if quantity > 0 && !release.process_types.contains_key(&kind) {
                        return Err(PaasError::Invalid(format!(
                            "app {} has no process type {kind} in release v{}{}",
                            app.name,
                            release.version,
                            declared(release)
                        )));
                    }
                    app.formation.insert(kind, quantity);
                }
                staged.put_changed_app(&mut app, now);
                Ok(app)
            })
            .await?;
        self.clear_failed(app.id);
        self.wake();
        let scale: Vec<String> = app
            .formation
            .iter()
            .map(|(t, q)| format!("{t}={q}"))
            .collect();
        self.app_event(
            app.id,
            &format!("Scaled to {} by {}", scale.join(" "), caller.uname),
        )
        .await;
        Ok(app)
    }

    /// The app's releases, newest first (USE).
    pub fn releases(&self, caller: &Caller, name: &str) -> Result<Vec<Release>> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Use)?;
            Ok(state.releases_of(app.id).rev().cloned().collect())
        })
    }

    /// Release `version` of the app (USE).
    pub fn release(&self, caller: &Caller, name: &str, version: u32) -> Result<Release> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Use)?;
            state
                .releases
                .get(&(app.id, version))
                .cloned()
                .ok_or_else(|| PaasError::NotFound {
                    what: format!("release v{version} of app {name}"),
                })
        })
    }
}

/// Stages a new app named `new.name` owned by the caller, with its first release.
pub(crate) fn stage_app(
    staged: &mut Staged<'_>,
    caller: &Caller,
    new: &NewApp,
    now: i64,
) -> Result<App> {
    if staged.state.app_by_name(&new.name).is_some() {
        return Err(PaasError::Conflict(format!(
            "app name {} is already taken",
            new.name
        )));
    }
    let stack = choose_stack(staged.state, new.stack.as_deref())?;
    let id = staged.new_id(APP);
    let app = App {
        domains: Vec::new(),
        generations: BTreeMap::new(),
        stopped: Default::default(),
        health_checks: BTreeMap::new(),
        rollout: Default::default(),
        autoscaling: BTreeMap::new(),
        id,
        name: new.name.clone(),
        uid: caller.uid,
        gid: caller.gid,
        perms: Permissions::from_umask(nubo_core::ops::owner::DEFAULT_UMASK),
        stack,
        created: now,
        updated: now,
        revision: 1,
        config: BTreeMap::new(),
        formation: BTreeMap::new(),
        release: 1,
        plan: None,
        description: String::new(),
        tags: Vec::new(),
    };
    let release = Release {
        id: staged.new_id(RELEASE),
        app: id,
        version: 1,
        description: "Initial release".into(),
        uid: caller.uid,
        created: now,
        config: BTreeMap::new(),
        build: None,
        process_types: BTreeMap::new(),
        stack_image: None,
    };
    staged.push(Op::PutApp(app.clone()));
    staged.push(Op::PutRelease(release));
    Ok(app)
}

/// Stages release `app.release + 1` with `config`, and the app pointing at it. The
/// release runs `build` (with its process types) when given, else the current release's,
/// on the stack's current image.
pub(crate) fn stage_release(
    staged: &mut Staged<'_>,
    app: &mut App,
    uid: nubo_types::Oid,
    now: i64,
    description: String,
    config: BTreeMap<String, String>,
    build: Option<(i64, BTreeMap<String, String>)>,
) -> Result<u32> {
    let current = staged.state.releases.get(&(app.id, app.release)).cloned();
    // After a rollback the newest release is not the current one: numbers go on from it.
    let version = staged
        .state
        .releases_of(app.id)
        .next_back()
        .map_or(app.release, |r| r.version.max(app.release))
        + 1;
    let from = current
        .as_ref()
        .filter(|r| r.build.is_some())
        .map_or(0, |r| r.version);
    let (build, process_types) = match build {
        Some((id, types)) => (Some(id), types),
        None => (
            current.as_ref().and_then(|r| r.build),
            current.map(|r| r.process_types).unwrap_or_default(),
        ),
    };
    // The image its instances run on: the stack's as this write leaves it (a stack patch
    // stages the stack's new image before its releases).
    let stack_image = build.and(staged.stack_by_name(&app.stack).map(|s| s.image));
    let release = Release {
        id: staged.new_id(RELEASE),
        app: app.id,
        version,
        description: description.clone(),
        uid,
        created: now,
        config: config.clone(),
        build,
        process_types,
        stack_image,
    };
    app.config = config;
    app.release = version;
    app.revision += 1;
    app.updated = now;
    staged.push(Op::PutRelease(release));
    staged.push(Op::PutApp(app.clone()));
    if build.is_some() {
        crate::deployments::stage_deployment(
            staged,
            app,
            uid,
            format!("Release v{version}: {description}"),
            from,
            now,
        );
    }
    Ok(version)
}

/// The stack a new app gets: the one named (which must be ACTIVE), else the newest ACTIVE.
fn choose_stack(state: &PaasState, wanted: Option<&str>) -> Result<String> {
    match wanted {
        Some(name) => {
            let stack = state
                .stack_by_name(name)
                .ok_or_else(|| PaasError::not_found("stack", name))?;
            if stack.state != StackState::Active {
                return Err(PaasError::Conflict(format!(
                    "stack {name} is {}: new apps cannot use it",
                    stack.state.as_str()
                )));
            }
            Ok(stack.name.clone())
        }
        None => state
            .stacks
            .values()
            .rev()
            .find(|s| s.state == StackState::Active)
            .map(|s| s.name.clone())
            .ok_or_else(|| {
                PaasError::Conflict("no stack is ACTIVE: an administrator must register one".into())
            }),
    }
}

/// Refuses when the caller expected another revision.
pub(crate) fn check_revision(app: &App, if_match: Option<u64>) -> Result<()> {
    match if_match {
        Some(expected) if expected != app.revision => Err(PaasError::Stale {
            what: format!("app {}", app.name),
            expected: expected.to_string(),
        }),
        _ => Ok(()),
    }
}

/// ` (it declares a, b)` or ` (it declares none yet: deploy a build first)`.
fn declared(release: &Release) -> String {
    if release.process_types.is_empty() {
        " (it declares none yet: deploy a build first)".into()
    } else {
        let names: Vec<_> = release.process_types.keys().map(String::as_str).collect();
        format!(" (it declares {})", names.join(", "))
    }
}
