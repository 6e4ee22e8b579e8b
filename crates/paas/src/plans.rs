//! Registered CAMP plans and what CAMP's assemblies need of apps.
//!
//! A plan is a durable PaaS record (kind `plan`): the plan document as JSON (its
//! `camp_version`, `name`, `artifacts`, … as the CAMP front end read them) and, when it was
//! registered from a Platform Deployment Package, that archive, kept as a file under the
//! PaaS's work directory so that deploying the plan later finds the artifacts it carries.
//! Plans are owned by their creator and authorized as apps are (the core's rules for
//! DOCUMENT objects); one still referenced by an app (an assembly deployed from it) cannot
//! be deleted.
//!
//! An assembly is an app: [`Paas::assembly_create`] makes one from a plan (its name made
//! unique with a numeric suffix), and [`Paas::assembly_update`] renames it or changes its
//! description and tags.

use std::path::{Path, PathBuf};

use nubo_core::Caller;
use nubo_core::auth::{Target, authorize_create, authorize_kind};
use nubo_types::{AuthOp, ObjectKind, Oid, Permissions};
use serde::{Deserialize, Serialize};

use crate::Paas;
use crate::apps::{NewApp, check_revision, stage_app};
use crate::error::{PaasError, Result};
use crate::model::App;
use crate::names;
use crate::state::{Op, PLAN, PaasState};

/// The largest plan document kept, in bytes of JSON.
pub const PLAN_DOCUMENT_MAX: usize = 256 * 1024;
/// The most tags on an assembly, and the longest tag and description.
pub const TAGS_MAX: usize = 64;
/// The longest tag.
pub const TAG_MAX: usize = 128;
/// The longest description.
pub const DESCRIPTION_MAX: usize = 4096;

/// A registered CAMP plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Record id (also its number in URLs).
    pub id: i64,
    /// Owner.
    pub uid: Oid,
    /// Owner's group.
    pub gid: Oid,
    /// Who may see and change it.
    pub perms: Permissions,
    /// When it was registered (epoch seconds).
    pub created: i64,
    /// When it last changed (epoch seconds).
    pub updated: i64,
    /// Bumped by every change.
    pub revision: u64,
    /// The plan as JSON: a mapping with `camp_version` and the plan's other attributes.
    pub document: serde_json::Value,
    /// The PDP it was registered from, if any.
    pub package: Option<PlanPackage>,
}

/// A Platform Deployment Package kept with its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPackage {
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, in hex.
    pub sha256: String,
}

/// Changes to an assembly's (an app's) CAMP attributes; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct AssemblyEdit {
    /// A new name (a DNS label, free in the cloud).
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
}

impl Plan {
    /// The plan's `name` attribute, or `plan-<id>`.
    pub fn name(&self) -> String {
        self.document
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("plan-{}", self.id))
    }
}

impl Paas {
    fn authorize_plan(&self, caller: &Caller, plan: &Plan, op: AuthOp) -> Result<()> {
        Ok(self.core().read(|state| {
            authorize_kind(
                state,
                caller,
                &Target {
                    kind: ObjectKind::Document,
                    oid: None,
                    gid: plan.gid,
                    clusters: Vec::new(),
                },
                plan.uid,
                plan.perms,
                op,
            )
        })?)
    }

    fn plan_for(&self, state: &PaasState, caller: &Caller, id: i64, op: AuthOp) -> Result<Plan> {
        let plan = state
            .plans
            .get(&id)
            .ok_or_else(|| PaasError::not_found("plan", id))?;
        self.authorize_plan(caller, plan, op)?;
        Ok(plan.clone())
    }

    /// Where the PDP of plan `id` is kept.
    pub fn plan_package_path(&self, id: i64) -> PathBuf {
        self.config()
            .work_dir
            .join("plans")
            .join(format!("plan-{id}.pdp"))
    }

    /// Registers a plan owned by the caller; `package` is the PDP it came in (the file is
    /// moved into the PaaS's keeping, or removed when the plan is refused).
    pub async fn plan_create(
        &self,
        caller: &Caller,
        document: serde_json::Value,
        package: Option<&Path>,
    ) -> Result<Plan> {
        let outcome = self.plan_create_inner(caller, document, package).await;
        if let (Err(_), Some(file)) = (&outcome, package) {
            let _ = tokio::fs::remove_file(file).await;
        }
        outcome
    }

    async fn plan_create_inner(
        &self,
        caller: &Caller,
        document: serde_json::Value,
        package: Option<&Path>,
    ) -> Result<Plan> {
        check_document(&document)?;
        self.core()
            .read(|state| authorize_create(state, caller, ObjectKind::Document))?;
        let package_info = match package {
            Some(file) => {
                let (size, sha256) = crate::build_runner::digest(file)
                    .await
                    .map_err(|e| PaasError::Invalid(e.0))?;
                Some(PlanPackage { size, sha256 })
            }
            None => None,
        };
        let now = nubo_core::now();
        let plan = self
            .write(|staged| {
                let plan = Plan {
                    id: staged.new_id(PLAN),
                    uid: caller.uid,
                    gid: caller.gid,
                    perms: Permissions::from_umask(nubo_core::ops::owner::DEFAULT_UMASK),
                    created: now,
                    updated: now,
                    revision: 1,
                    document,
                    package: package_info,
                };
                staged.push(Op::PutPlan(plan.clone()));
                Ok(plan)
            })
            .await?;
        if let Some(file) = package {
            let kept = self.plan_package_path(plan.id);
            let moved = async {
                if let Some(dir) = kept.parent() {
                    tokio::fs::create_dir_all(dir).await?;
                }
                tokio::fs::rename(file, &kept).await
            }
            .await;
            if let Err(e) = moved {
                let id = plan.id;
                let _ = self
                    .write(|staged| {
                        staged.push(Op::DeletePlan(id));
                        Ok(())
                    })
                    .await;
                return Err(PaasError::Core(nubo_types::Error::internal(format!(
                    "cannot keep the plan's package: {e}"
                ))));
            }
        }
        Ok(plan)
    }

    /// The plans the caller may see, oldest first.
    pub fn plan_list(&self, caller: &Caller) -> Result<Vec<Plan>> {
        self.read(|state| {
            Ok(state
                .plans
                .values()
                .filter(|p| self.authorize_plan(caller, p, AuthOp::Use).is_ok())
                .cloned()
                .collect())
        })
    }

    /// Plan `id` (USE).
    pub fn plan_get(&self, caller: &Caller, id: i64) -> Result<Plan> {
        self.read(|state| self.plan_for(state, caller, id, AuthOp::Use))
    }

    /// Replaces plan `id`'s document (MANAGE); with `if_match`, only at that revision.
    pub async fn plan_update(
        &self,
        caller: &Caller,
        id: i64,
        document: serde_json::Value,
        if_match: Option<u64>,
    ) -> Result<Plan> {
        check_document(&document)?;
        let now = nubo_core::now();
        self.write(|staged| {
            let mut plan = self.plan_for(staged.state, caller, id, AuthOp::Manage)?;
            if let Some(expected) = if_match
                && expected != plan.revision
            {
                return Err(PaasError::Stale {
                    what: format!("plan {id}"),
                    expected: expected.to_string(),
                });
            }
            plan.document = document;
            plan.revision += 1;
            plan.updated = now;
            staged.push(Op::PutPlan(plan.clone()));
            Ok(plan)
        })
        .await
    }

    /// Deletes plan `id` (MANAGE); refused while an app deployed from it exists.
    pub async fn plan_delete(&self, caller: &Caller, id: i64) -> Result<()> {
        let plan = self
            .write(|staged| {
                let plan = self.plan_for(staged.state, caller, id, AuthOp::Manage)?;
                let users: Vec<&str> = staged
                    .state
                    .apps
                    .values()
                    .filter(|a| a.plan == Some(id))
                    .map(|a| a.name.as_str())
                    .collect();
                if !users.is_empty() {
                    return Err(PaasError::Conflict(format!(
                        "plan {id} is still used by {} assembl{} ({})",
                        users.len(),
                        if users.len() == 1 { "y" } else { "ies" },
                        users.join(", ")
                    )));
                }
                staged.push(Op::DeletePlan(id));
                Ok(plan)
            })
            .await?;
        if plan.package.is_some() {
            let _ = tokio::fs::remove_file(self.plan_package_path(id)).await;
        }
        Ok(())
    }

    /// Creates an app for a CAMP assembly: named `base` (a DNS label), or `base-2`,
    /// `base-3`, … when taken; deployed from `plan` (which the caller must be able to use)
    /// if given.
    pub async fn assembly_create(
        &self,
        caller: &Caller,
        base: &str,
        plan: Option<i64>,
        description: String,
        tags: Vec<String>,
    ) -> Result<App> {
        names::check_app_name(base)?;
        check_meta(&description, &tags)?;
        self.core()
            .read(|state| authorize_create(state, caller, ObjectKind::Document))?;
        let now = nubo_core::now();
        self.write(|staged| {
            if let Some(id) = plan {
                self.plan_for(staged.state, caller, id, AuthOp::Use)?;
            }
            let name = free_name(staged.state, base)?;
            let mut app = stage_app(staged, caller, &NewApp { name, stack: None }, now)?;
            app.plan = plan;
            app.description = description;
            app.tags = tags;
            staged.push(Op::PutApp(app.clone()));
            Ok(app)
        })
        .await
    }

    /// Renames an app or changes its description and tags (MANAGE); with `if_match`, only
    /// at that revision.
    pub async fn assembly_update(
        &self,
        caller: &Caller,
        name: &str,
        edit: AssemblyEdit,
        if_match: Option<u64>,
    ) -> Result<App> {
        if let Some(new) = &edit.name {
            names::check_app_name(new)?;
        }
        check_meta(
            edit.description.as_deref().unwrap_or_default(),
            edit.tags.as_deref().unwrap_or_default(),
        )?;
        let now = nubo_core::now();
        self.write(|staged| {
            let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
            check_revision(&app, if_match)?;
            if let Some(new) = edit.name
                && new != app.name
            {
                if staged.state.app_by_name(&new).is_some() {
                    return Err(PaasError::Conflict(format!(
                        "app name {new} is already taken"
                    )));
                }
                app.name = new;
            }
            if let Some(description) = edit.description {
                app.description = description;
            }
            if let Some(tags) = edit.tags {
                app.tags = tags;
            }
            staged.put_changed_app(&mut app, now);
            Ok(app)
        })
        .await
        .inspect(|_| self.wake())
    }
}

/// `base`, or `base-N` with the smallest N ≥ 2 that no app has.
fn free_name(state: &PaasState, base: &str) -> Result<String> {
    if state.app_by_name(base).is_none() {
        return Ok(base.to_owned());
    }
    for n in 2..10_000u32 {
        let suffix = format!("-{n}");
        let keep = names::APP_NAME_MAX.saturating_sub(suffix.len());
        let stem = base.get(..base.len().min(keep)).unwrap_or(base);
        let name = format!("{}{suffix}", stem.trim_end_matches('-'));
        if state.app_by_name(&name).is_none() {
            return Ok(name);
        }
    }
    Err(PaasError::Conflict(format!("no free app name like {base}")))
}

fn check_document(document: &serde_json::Value) -> Result<()> {
    if !document.is_object() {
        return Err(PaasError::Invalid("a plan is a mapping".into()));
    }
    let size = serde_json::to_vec(document)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > PLAN_DOCUMENT_MAX {
        return Err(PaasError::Invalid(format!(
            "the plan is larger than {PLAN_DOCUMENT_MAX} bytes as JSON"
        )));
    }
    Ok(())
}

fn check_meta(description: &str, tags: &[String]) -> Result<()> {
    if description.len() > DESCRIPTION_MAX {
        return Err(PaasError::Invalid(format!(
            "the description is longer than {DESCRIPTION_MAX} bytes"
        )));
    }
    if tags.len() > TAGS_MAX || tags.iter().any(|t| t.is_empty() || t.len() > TAG_MAX) {
        return Err(PaasError::Invalid(format!(
            "at most {TAGS_MAX} tags of 1 to {TAG_MAX} bytes each"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_names_take_a_numeric_suffix() {
        let state = PaasState::default();
        assert_eq!(free_name(&state, "shop").expect("free"), "shop");
        let long = "a".repeat(names::APP_NAME_MAX);
        assert_eq!(free_name(&state, &long).expect("free"), long);
    }

    #[test]
    fn documents_and_meta_are_bounded() {
        assert!(check_document(&serde_json::json!({"camp_version": "CAMP 1.1"})).is_ok());
        assert!(check_document(&serde_json::json!(["x"])).is_err());
        let big = "x".repeat(PLAN_DOCUMENT_MAX);
        assert!(check_document(&serde_json::json!({ "name": big })).is_err());
        assert!(check_meta("d", &["a".into()]).is_ok());
        assert!(check_meta("d", &[String::new()]).is_err());
        assert!(check_meta(&"d".repeat(DESCRIPTION_MAX + 1), &[]).is_err());
    }
}
