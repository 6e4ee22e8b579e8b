//! Stack patching, as Cloud Foundry's and Heroku's: a stack gets a new version (an OS
//! update: a new image) and every app on it whose current release has a slug gets a new
//! release with the same slug, process types and config vars on the new image, without a
//! build. Each release makes a deployment, so the apps roll out as for any release (and one
//! whose new instances fail their checks goes back to the release and image that served).
//! Releases record the stack image they were made on; the old image stays for them.

use nubo_core::Caller;
use nubo_core::model::Image;
use nubo_types::states::ImageState;
use nubo_types::{AuthOp, Oid};

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::{App, Stack, StackVersion};
use crate::state::{Op, PaasState, Staged};

/// How many earlier versions a stack remembers.
pub const VERSIONS_KEPT: usize = 20;

/// A new version of a stack.
#[derive(Debug, Clone)]
pub struct NewStackVersion {
    /// The version, e.g. `2026.12.2`.
    pub version: String,
    /// The image holding its root filesystem.
    pub image: Oid,
}

/// A release a stack patch made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    /// The app.
    pub app: i64,
    /// Its name.
    pub name: String,
    /// The new release.
    pub release: u32,
}

/// An app on a stack and the stack version its current release runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackApp {
    /// Its name.
    pub name: String,
    /// Its current release.
    pub release: u32,
    /// The image the current release runs on (`None`: no slug yet).
    pub stack_image: Option<Oid>,
    /// That image's version of the stack, if the stack still remembers it.
    pub stack_version: Option<String>,
}

impl Paas {
    /// Gives stack `name` a new version and image (oneadmin group only) and rolls every app
    /// on it out on that image: the stack as it is now, and the releases made.
    pub async fn stack_patch(
        &self,
        caller: &Caller,
        name: &str,
        new: NewStackVersion,
    ) -> Result<(Stack, Vec<Patched>)> {
        crate::stacks::require_admin(caller, "STACK", "patch a stack")?;
        crate::stacks::check_version(&new.version)?;
        let stack = self.stack_get(caller, name)?;
        if !is_new(&stack, &new)? {
            return Ok((stack, Vec::new()));
        }
        let image = self.core().info::<Image>(caller, new.image)?;
        if !matches!(image.state, ImageState::Ready | ImageState::Used) {
            return Err(PaasError::Conflict(format!(
                "image {} is {}: a stack's image must be READY",
                new.image,
                image.state.name()
            )));
        }
        // Every app's owner must be able to run containers of the image.
        let owners: Vec<(Oid, String)> = self.read(|s| {
            Ok(s.apps
                .values()
                .filter(|a| a.stack == name)
                .map(|a| (a.uid, a.name.clone()))
                .collect())
        })?;
        let mut checked = std::collections::BTreeSet::new();
        for (uid, app) in owners {
            if !checked.insert(uid) {
                continue;
            }
            // An owner who is gone runs nothing: no check.
            let Ok(owner) = self.caller_of_uid(uid) else {
                continue;
            };
            if self.core().info::<Image>(&owner, new.image).is_err() {
                return Err(PaasError::Conflict(format!(
                    "user {uid} (owner of app {app}) may not use image {}: open it to the \
                     apps' owners first (e.g. permissions 604, as the stack's image)",
                    new.image
                )));
            }
        }
        let now = nubo_core::now();
        let (stack, patched) = self
            .write(|staged| stage_stack_patch(staged, name, &new, caller.uid, now))
            .await?;
        if !patched.is_empty() {
            self.wake();
        }
        for p in &patched {
            self.app_event(
                p.app,
                &format!(
                    "Release v{} created by {}: stack {name} patched to {} (image {})",
                    p.release, caller.uname, stack.version, stack.image
                ),
            )
            .await;
        }
        if !patched.is_empty() {
            self.retain_releases();
        }
        Ok((stack, patched))
    }

    /// The apps on stack `name` the caller may see, by name, with the stack version each
    /// runs on.
    pub fn stack_apps(&self, caller: &Caller, name: &str) -> Result<Vec<StackApp>> {
        self.read(|state| {
            let stack = state
                .stack_by_name(name)
                .ok_or_else(|| PaasError::not_found("stack", name))?;
            let mut apps: Vec<StackApp> = state
                .apps
                .values()
                .filter(|a| a.stack == name)
                .filter(|a| self.authorize_app(caller, a, AuthOp::Use).is_ok())
                .map(|a| stack_app(state, stack, a))
                .collect();
            apps.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(apps)
        })
    }
}

/// `app` on `stack` as [`Paas::stack_apps`] shows it.
fn stack_app(state: &PaasState, stack: &Stack, app: &App) -> StackApp {
    let image = state
        .releases
        .get(&(app.id, app.release))
        .filter(|r| r.build.is_some())
        .map(|r| r.stack_image.unwrap_or(stack.image));
    StackApp {
        name: app.name.clone(),
        release: app.release,
        stack_image: image,
        stack_version: image.and_then(|i| version_of(stack, i)),
    }
}

/// The version of `stack` whose image is `image`, newest first.
pub fn version_of(stack: &Stack, image: Oid) -> Option<String> {
    if stack.image == image {
        return Some(stack.version.clone());
    }
    stack
        .previous
        .iter()
        .rev()
        .find(|v| v.image == image)
        .map(|v| v.version.clone())
}

/// Whether `new` changes `stack`: false for its current version and image; refused for a
/// version it had, or its current image under another version.
fn is_new(stack: &Stack, new: &NewStackVersion) -> Result<bool> {
    if stack.version == new.version && stack.image == new.image {
        return Ok(false);
    }
    if stack.version == new.version || stack.previous.iter().any(|v| v.version == new.version) {
        return Err(PaasError::Conflict(format!(
            "stack {} already had version {}: a new image needs a new version",
            stack.name, new.version
        )));
    }
    if stack.image == new.image {
        return Err(PaasError::Conflict(format!(
            "image {} is already stack {}'s (version {})",
            new.image, stack.name, stack.version
        )));
    }
    Ok(true)
}

/// Stages the patch of stack `name` to `new` and a release of every app on it whose current
/// release has a slug (not yet on the new image). The same version and image again changes
/// nothing; a version the stack had, or its current image under another version, is refused.
pub(crate) fn stage_stack_patch(
    staged: &mut Staged<'_>,
    name: &str,
    new: &NewStackVersion,
    uid: Oid,
    now: i64,
) -> Result<(Stack, Vec<Patched>)> {
    let mut stack = staged
        .state
        .stack_by_name(name)
        .cloned()
        .ok_or_else(|| PaasError::not_found("stack", name))?;
    if !is_new(&stack, new)? {
        return Ok((stack, Vec::new()));
    }
    let old_image = stack.image;
    stack.previous.push(StackVersion {
        version: std::mem::replace(&mut stack.version, new.version.clone()),
        image: std::mem::replace(&mut stack.image, new.image),
        replaced: now,
    });
    let excess = stack.previous.len().saturating_sub(VERSIONS_KEPT);
    stack.previous.drain(..excess);
    staged.push(Op::PutStack(stack.clone()));

    let mut apps: Vec<App> = staged
        .state
        .apps
        .values()
        .filter(|a| a.stack == name)
        .cloned()
        .collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    let description = format!("Stack {name} patched to {}", new.version);
    let mut patched = Vec::new();
    for mut app in apps {
        // Releases from before stacks were versioned ran on the old image: say so, so that
        // they keep it (a failed deployment goes back to one of them).
        let unversioned: Vec<_> = staged
            .state
            .releases_of(app.id)
            .filter(|r| r.build.is_some() && r.stack_image.is_none())
            .cloned()
            .collect();
        for mut release in unversioned {
            release.stack_image = Some(old_image);
            staged.push(Op::PutRelease(release));
        }
        let Some(current) = staged.state.releases.get(&(app.id, app.release)).cloned() else {
            continue;
        };
        let Some(build) = current.build else {
            continue;
        };
        let has_slug = staged
            .state
            .builds
            .get(&build)
            .is_some_and(|b| b.slug.is_some() && !b.pruned);
        if !has_slug || current.stack_image == Some(new.image) {
            continue;
        }
        let config = app.config.clone();
        let release = crate::apps::stage_release(
            staged,
            &mut app,
            uid,
            now,
            description.clone(),
            config,
            Some((build, current.process_types.clone())),
        )?;
        patched.push(Patched {
            app: app.id,
            name: app.name.clone(),
            release,
        });
    }
    Ok((stack, patched))
}

#[cfg(test)]
#[path = "stack_patch_tests.rs"]
mod tests;
