//! The PaaS's objects in memory, loaded from the store at start and kept in step with it:
//! a write stages [`Op`]s against the current state, commits them to the store in one
//! transaction, and only then applies them here, so every acknowledged change is durable.

use std::collections::{BTreeMap, HashMap};

use nubo_store::{PaasChange, PaasRecord, PaasSnapshot};

use crate::deployments::Deployment;
use crate::error::{PaasError, Result};
use crate::model::{App, Build, Release, Run, Stack};
use crate::plans::Plan;
use crate::webhooks::Webhook;

/// Record kinds, as the store keeps them.
pub(crate) const STACK: &str = "stack";
pub(crate) const APP: &str = "app";
pub(crate) const RELEASE: &str = "release";
pub(crate) const BUILD: &str = "build";
pub(crate) const RUN: &str = "run";
pub(crate) const PLAN: &str = "plan";
pub(crate) const WEBHOOK: &str = "webhook";
pub(crate) const DEPLOYMENT: &str = "deployment";

/// Every PaaS object, indexed as the operations look them up.
#[derive(Debug, Default)]
pub struct PaasState {
    /// Stacks by id.
    pub stacks: BTreeMap<i64, Stack>,
    /// Apps by id.
    pub apps: BTreeMap<i64, App>,
    /// App ids by name.
    app_names: HashMap<String, i64>,
    /// App ids by custom domain.
    app_domains: HashMap<String, i64>,
    /// Releases by (app id, version).
    pub releases: BTreeMap<(i64, u32), Release>,
    /// Builds by id.
    pub builds: BTreeMap<i64, Build>,
    /// One-off runs by id.
    pub runs: BTreeMap<i64, Run>,
    /// Registered CAMP plans by id.
    pub plans: BTreeMap<i64, Plan>,
    /// Webhooks by app id.
    pub webhooks: BTreeMap<i64, Webhook>,
    /// Deployments by id.
    pub deployments: BTreeMap<i64, Deployment>,
    /// The last id handed out per record kind.
    last_ids: BTreeMap<String, i64>,
}

/// One staged change.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    PutStack(Stack),
    PutApp(App),
    PutRelease(Release),
    PutBuild(Build),
    PutRun(Run),
    PutPlan(Plan),
    PutDeployment(Deployment),
    DeleteDeployment(i64),
    DeleteApp(i64),
    DeletePlan(i64),
    PutWebhook(Webhook),
    DeleteWebhook(i64),
    LastId(&'static str, i64),
}

impl PaasState {
    /// The state the store's records describe; records that cannot be read are reported
    /// and skipped (the rest of the cloud keeps working).
    pub(crate) fn load(snapshot: PaasSnapshot) -> PaasState {
        let mut state = PaasState {
            last_ids: snapshot.last_ids,
            ..PaasState::default()
        };
        for record in snapshot.records {
            let op = match record.kind.as_str() {
                STACK => serde_json::from_str(&record.body).map(Op::PutStack),
                APP => serde_json::from_str(&record.body).map(Op::PutApp),
                RELEASE => serde_json::from_str(&record.body).map(Op::PutRelease),
                BUILD => serde_json::from_str(&record.body).map(Op::PutBuild),
                RUN => serde_json::from_str(&record.body).map(Op::PutRun),
                PLAN => serde_json::from_str(&record.body).map(Op::PutPlan),
                WEBHOOK => serde_json::from_str(&record.body).map(Op::PutWebhook),
                DEPLOYMENT => serde_json::from_str(&record.body).map(Op::PutDeployment),
                other => {
                    tracing::warn!(kind = other, id = record.id, "unknown PaaS record skipped");
                    continue;
                }
            };
            match op {
                Ok(op) => state.apply(op),
                Err(error) => tracing::error!(
                    kind = record.kind,
                    id = record.id,
                    %error,
                    "unreadable PaaS record skipped"
                ),
            }
        }
        // Releases of apps that are gone (a delete cut short) are not shown.
        let apps = &state.apps;
        state.releases.retain(|(app, _), _| apps.contains_key(app));
        state.builds.retain(|_, b| apps.contains_key(&b.app));
        state.runs.retain(|_, r| apps.contains_key(&r.app));
        state.webhooks.retain(|app, _| apps.contains_key(app));
        state.deployments.retain(|_, d| apps.contains_key(&d.app));
        state
    }

    /// The app named `name`.
    pub fn app_by_name(&self, name: &str) -> Option<&App> {
        self.app_names.get(name).and_then(|id| self.apps.get(id))
    }

    /// The app a custom domain belongs to.
    pub fn app_by_domain(&self, domain: &str) -> Option<&App> {
        self.app_domains
            .get(domain)
            .and_then(|id| self.apps.get(id))
    }

    /// The stack named `name`.
    pub fn stack_by_name(&self, name: &str) -> Option<&Stack> {
        self.stacks.values().find(|s| s.name == name)
    }

    /// The releases of app `app`, oldest first.
    pub fn releases_of(&self, app: i64) -> impl DoubleEndedIterator<Item = &Release> {
        self.releases
            .range((app, 0)..=(app, u32::MAX))
            .map(|(_, r)| r)
    }

    /// The builds of app `app`, oldest first.
    pub fn builds_of(&self, app: i64) -> impl DoubleEndedIterator<Item = &Build> {
        self.builds.values().filter(move |b| b.app == app)
    }

    /// The deployments of app `app`, oldest first.
    pub fn deployments_of(&self, app: i64) -> impl DoubleEndedIterator<Item = &Deployment> {
        self.deployments.values().filter(move |d| d.app == app)
    }

    /// The next id of `kind` (not yet recorded: stage [`Op::LastId`] with it).
    pub(crate) fn next_id(&self, kind: &str) -> i64 {
        self.last_ids.get(kind).copied().unwrap_or(0) + 1
    }

    pub(crate) fn apply(&mut self, op: Op) {
        match op {
            Op::PutStack(stack) => {
                self.stacks.insert(stack.id, stack);
            }
            Op::PutApp(app) => {
                if let Some(old) = self.apps.get(&app.id) {
                    if old.name != app.name {
                        self.app_names.remove(&old.name);
                    }
                    for domain in &old.domains {
                        self.app_domains.remove(domain);
                    }
                }
                self.app_names.insert(app.name.clone(), app.id);
                for domain in &app.domains {
                    self.app_domains.insert(domain.clone(), app.id);
                }
                self.apps.insert(app.id, app);
            }
            Op::PutRelease(release) => {
                self.releases
                    .insert((release.app, release.version), release);
            }
            Op::PutBuild(build) => {
                self.builds.insert(build.id, build);
            }
            Op::PutRun(run) => {
                self.runs.insert(run.id, run);
            }
            Op::PutPlan(plan) => {
                self.plans.insert(plan.id, plan);
            }
            Op::DeletePlan(id) => {
                self.plans.remove(&id);
            }
            Op::PutWebhook(hook) => {
                self.webhooks.insert(hook.app, hook);
            }
            Op::DeleteWebhook(app) => {
                self.webhooks.remove(&app);
            }
            Op::PutDeployment(deployment) => {
                self.deployments.insert(deployment.id, deployment);
            }
            Op::DeleteDeployment(id) => {
                self.deployments.remove(&id);
            }
            Op::DeleteApp(id) => {
                if let Some(app) = self.apps.remove(&id) {
                    self.app_names.remove(&app.name);
                    for domain in &app.domains {
                        self.app_domains.remove(domain);
                    }
                }
                let versions: Vec<_> = self.releases_of(id).map(|r| r.version).collect();
                for version in versions {
                    self.releases.remove(&(id, version));
                }
                self.builds.retain(|_, b| b.app != id);
                self.runs.retain(|_, r| r.app != id);
                self.webhooks.remove(&id);
                self.deployments.retain(|_, d| d.app != id);
            }
            Op::LastId(kind, id) => {
                self.last_ids.insert(kind.to_owned(), id);
            }
        }
    }
}

impl Op {
    /// The store change that keeps this op.
    pub(crate) fn change(&self) -> Result<PaasChange> {
        fn put<T: serde::Serialize>(
            kind: &'static str,
            id: i64,
            app: i64,
            v: &T,
        ) -> Result<PaasChange> {
            let body = serde_json::to_string(v).map_err(|source| PaasError::Record {
                kind,
                id,
                source,
            })?;
            Ok(PaasChange::Put(PaasRecord {
                kind: kind.to_owned(),
                id,
                app,
                body,
            }))
        }
        match self {
            Op::PutStack(s) => put(STACK, s.id, 0, s),
            Op::PutApp(a) => put(APP, a.id, a.id, a),
            Op::PutRelease(r) => put(RELEASE, r.id, r.app, r),
            Op::PutBuild(b) => put(BUILD, b.id, b.app, b),
            Op::PutRun(r) => put(RUN, r.id, r.app, r),
            Op::PutPlan(p) => put(PLAN, p.id, 0, p),
            Op::PutWebhook(h) => put(WEBHOOK, h.app, h.app, h),
            Op::DeleteWebhook(app) => Ok(PaasChange::Delete {
                kind: WEBHOOK.to_owned(),
                id: *app,
            }),
            Op::DeletePlan(id) => Ok(PaasChange::Delete {
                kind: PLAN.to_owned(),
                id: *id,
            }),
            Op::PutDeployment(d) => put(DEPLOYMENT, d.id, d.app, d),
            Op::DeleteDeployment(id) => Ok(PaasChange::Delete {
                kind: DEPLOYMENT.to_owned(),
                id: *id,
            }),
            Op::DeleteApp(id) => Ok(PaasChange::DeleteApp { app: *id }),
            Op::LastId(kind, last) => Ok(PaasChange::LastId {
                kind: (*kind).to_owned(),
                last: *last,
            }),
        }
    }
}

/// What one write stages: ops, and the ids it handed out.
#[derive(Debug)]
pub(crate) struct Staged<'a> {
    pub(crate) state: &'a PaasState,
    pub(crate) ops: Vec<Op>,
    handed: BTreeMap<&'static str, i64>,
}

impl<'a> Staged<'a> {
    pub(crate) fn new(state: &'a PaasState) -> Self {
        Staged {
            state,
            ops: Vec::new(),
            handed: BTreeMap::new(),
        }
    }

    /// A fresh id of `kind`, recorded with the write.
    pub(crate) fn new_id(&mut self, kind: &'static str) -> i64 {
        let id = match self.handed.get(kind) {
            Some(last) => last + 1,
            None => self.state.next_id(kind),
        };
        self.handed.insert(kind, id);
        id
    }

    pub(crate) fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    /// The stack named `name` as this write leaves it so far (a staged change first).
    pub(crate) fn stack_by_name(&self, name: &str) -> Option<&Stack> {
        self.ops
            .iter()
            .rev()
            .find_map(|op| match op {
                Op::PutStack(s) if s.name == name => Some(s),
                _ => None,
            })
            .or_else(|| self.state.stack_by_name(name))
    }

    /// Stages a change of `app`: its revision (its ETag) and time move on.
    pub(crate) fn put_changed_app(&mut self, app: &mut App, now: i64) {
        app.revision += 1;
        app.updated = now;
        self.ops.push(Op::PutApp(app.clone()));
    }

    /// Every op, the handed-out ids last.
    pub(crate) fn finish(self) -> Vec<Op> {
        let mut ops = self.ops;
        ops.extend(self.handed.into_iter().map(|(k, id)| Op::LastId(k, id)));
        ops
    }
}
