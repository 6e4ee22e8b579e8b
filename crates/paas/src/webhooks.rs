//! Auto-deploy: an app's webhook (PaaS record `webhook`, one per app) names a git repository
//! and the branch to follow; a push delivered to it, signed with its secret, builds the
//! pushed commit, and the build's release is rolled out as any other.
//!
//! Deliveries are authenticated by their signature alone (the senders know no Nubo user):
//! GitHub's, Gitea's, GitLab's or Nubo's own, checked in constant time
//! ([`crate::webhook_delivery`]). An unknown app, an app without a webhook and a bad signature are refused
//! alike. The payload's repository URL is never used: the configured one is built.
//!
//! One build per app at a time: a push while one of the app's builds is queued or running
//! is kept as the app's pending push (a later one replaces it), built when that build ends
//! ([`crate::branch_poll`]).

use nubo_core::Caller;
use nubo_types::{AuthOp, Oid};
use serde::{Deserialize, Serialize};

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::{Build, BuildSource};
use crate::source;
use crate::state::Op;
use crate::webhook_delivery::{Asked, read_delivery};
pub use crate::webhook_delivery::{Flavour, HookHeaders, sign, verify};

/// The bytes of randomness in a secret (shown as 64 hex digits).
pub const SECRET_BYTES: usize = 32;
/// The shortest and longest poll interval, in seconds.
pub const POLL_MIN: u32 = 10;
/// The longest poll interval, in seconds (a day).
pub const POLL_MAX: u32 = 86_400;
/// The trigger of builds the poller starts.
pub(crate) const POLL: &str = "poll";
/// The largest delivery read (pushes are a few KiB; GitHub caps payloads at 25 MB).
pub const BODY_MAX: usize = 1024 * 1024;

/// A webhook's secret: never shown by `Debug`, so never in a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// A fresh secret: [`SECRET_BYTES`] random bytes in hex.
    pub fn generate() -> Result<Secret> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| {
            PaasError::Core(nubo_types::Error::internal(format!(
                "no randomness for a webhook secret: {e}"
            )))
        })?;
        Ok(Secret(hex::encode(bytes)))
    }

    /// The secret itself, for its owner once and for checking signatures.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A push kept while a build of the app runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The commit pushed (the branch's head when the delivery named none).
    pub commit: Option<String>,
    /// What delivered it, for the app's log (`GitHub push`, `poll`, …).
    pub trigger: String,
}

/// An app's webhook (PaaS record `webhook`, whose id is the app's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// The app (also the record's id).
    pub app: i64,
    /// Who configured it last: builds are asked for as them (and need their MANAGE).
    pub uid: Oid,
    /// The repository built.
    pub url: String,
    /// The branch followed: pushes to other refs are ignored.
    pub branch: String,
    /// The secret deliveries are signed with.
    pub secret: Secret,
    /// Seconds between looks at the branch's head; none: no polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<u32>,
    /// When it was made and last changed (epoch seconds).
    pub created: i64,
    /// When it last changed.
    pub updated: i64,
    /// The commit last built from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_commit: Option<String>,
    /// The build it last started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_build: Option<i64>,
    /// A push waiting for the app's running build to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// What a webhook is set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The repository's URL.
    pub url: String,
    /// The branch to follow.
    pub branch: String,
    /// Seconds between polls ([`POLL_MIN`]–[`POLL_MAX`]); none: no polling.
    pub poll_interval: Option<u32>,
}

/// Why a delivery is refused.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// No signature, a wrong one, or no such app or webhook (alike, on purpose).
    #[error("the delivery is not signed with the webhook's secret (or there is no such webhook)")]
    Unauthorized,
    /// The body is not a push this platform reads.
    #[error("{0}")]
    Malformed(String),
    /// The build could not be asked for.
    #[error(transparent)]
    Paas(#[from] PaasError),
}

/// What became of a signed delivery.
#[derive(Debug, Clone)]
pub enum Delivered {
    /// A `ping` event: nothing to build.
    Pong,
    /// Not a push of the branch followed (the reason says what it was).
    Ignored(String),
    /// A build was queued.
    Queued(Box<Build>),
    /// A build of the app is under way: this push is built when it ends.
    Pending(Option<String>),
}

fn check_settings(settings: &WebhookSettings) -> Result<()> {
    source::check_git_url(&settings.url)?;
    source::check_reference(&settings.branch)?;
    if let Some(p) = settings.poll_interval
        && !(POLL_MIN..=POLL_MAX).contains(&p)
    {
        return Err(PaasError::Invalid(format!(
            "the poll interval is {POLL_MIN} to {POLL_MAX} seconds"
        )));
    }
    Ok(())
}

/// The commit of the app's newest successful build of the branch `settings` names, if any:
/// what a new webhook starts from (so that polling does not build it again).
fn last_built(
    state: &crate::state::PaasState,
    app: i64,
    settings: &WebhookSettings,
) -> Option<String> {
    state
        .builds_of(app)
        .rev()
        .filter(|b| b.status == crate::model::BuildStatus::Succeeded)
        .find(|b| {
            matches!(&b.source, BuildSource::Git { url, reference }
                if *url == settings.url && reference.as_deref() == Some(settings.branch.as_str()))
        })
        .and_then(|b| b.commit.clone())
}

/// Serialises starting builds from webhooks (the check for a running build and the build).
static TRIGGER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Paas {
    /// The app's webhook (MANAGE).
    pub fn webhook_get(&self, caller: &Caller, name: &str) -> Result<Webhook> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Manage)?;
            state
                .webhooks
                .get(&app.id)
                .cloned()
                .ok_or_else(|| PaasError::NotFound {
                    what: format!("the webhook of app {name}"),
                })
        })
    }

    /// Sets the app's webhook (MANAGE); a new one gets a secret, returned this once.
    pub async fn webhook_put(
        &self,
        caller: &Caller,
        name: &str,
        settings: WebhookSettings,
    ) -> Result<(Webhook, Option<Secret>)> {
        check_settings(&settings)?;
        let fresh = Secret::generate()?;
        let now = nubo_core::now();
        self.write(|staged| {
            let app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
            let old = staged.state.webhooks.get(&app.id);
            let same_source =
                old.is_some_and(|o| o.url == settings.url && o.branch == settings.branch);
            let hook = Webhook {
                app: app.id,
                uid: caller.uid,
                secret: old.map_or_else(|| fresh.clone(), |o| o.secret.clone()),
                created: old.map_or(now, |o| o.created),
                updated: now,
                // What was built from the same repository and branch stays built.
                last_commit: if same_source {
                    old.and_then(|o| o.last_commit.clone())
                } else {
                    last_built(staged.state, app.id, &settings)
                },
                last_build: old.and_then(|o| o.last_build),
                pending: None,
                url: settings.url,
                branch: settings.branch,
                poll_interval: settings.poll_interval,
            };
            staged.push(Op::PutWebhook(hook.clone()));
            Ok((hook, old.is_none().then_some(fresh)))
        })
        .await
    }

    /// Gives the app's webhook a new secret (MANAGE), returned this once.
    pub async fn webhook_rotate(&self, caller: &Caller, name: &str) -> Result<(Webhook, Secret)> {
        let fresh = Secret::generate()?;
        self.write(|staged| {
            let app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
            let mut hook =
                staged
                    .state
                    .webhooks
                    .get(&app.id)
                    .cloned()
                    .ok_or_else(|| PaasError::NotFound {
                        what: format!("the webhook of app {name}"),
                    })?;
            hook.secret = fresh.clone();
            hook.updated = nubo_core::now();
            staged.push(Op::PutWebhook(hook.clone()));
            Ok((hook, fresh))
        })
        .await
    }

    /// Removes the app's webhook (MANAGE): deliveries are refused from now on.
    pub async fn webhook_delete(&self, caller: &Caller, name: &str) -> Result<()> {
        self.write(|staged| {
            let app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
            if !staged.state.webhooks.contains_key(&app.id) {
                return Err(PaasError::NotFound {
                    what: format!("the webhook of app {name}"),
                });
            }
            staged.push(Op::DeleteWebhook(app.id));
            Ok(())
        })
        .await
    }

    /// Takes a delivery to app `name`'s webhook: checks its signature, reads it, and builds
    /// the push of the branch followed (or keeps it while a build runs).
    pub async fn webhook_deliver(
        &self,
        name: &str,
        headers: &HookHeaders,
        body: &[u8],
    ) -> std::result::Result<Delivered, HookError> {
        let hook = self.read(|state| {
            Ok(state
                .app_by_name(name)
                .and_then(|app| state.webhooks.get(&app.id))
                .cloned())
        })?;
        let Some(hook) = hook else {
            // The same work as for a webhook that exists, then the same refusal.
            let _ = verify(&[0; SECRET_BYTES * 2], headers, body);
            return Err(HookError::Unauthorized);
        };
        let flavour = verify(hook.secret.expose().as_bytes(), headers, body)
            .ok_or(HookError::Unauthorized)?;
        match read_delivery(flavour, headers, body, &hook.branch).map_err(HookError::Malformed)? {
            Asked::Pong => Ok(Delivered::Pong),
            Asked::Ignore(why) => Ok(Delivered::Ignored(why)),
            Asked::Build(commit) => {
                let trigger = format!("{} push", flavour.name());
                Ok(self.webhook_build(hook.app, commit, &trigger).await?)
            }
        }
    }

    /// Builds `commit` (the branch's head when `None`) of app `app`'s webhook, or keeps it
    /// as the pending push while one of the app's builds is under way.
    pub(crate) async fn webhook_build(
        &self,
        app: i64,
        commit: Option<String>,
        trigger: &str,
    ) -> Result<Delivered> {
        let _one = TRIGGER.lock().await;
        let (hook, app_name, busy) = self.read(|state| {
            let hook = state
                .webhooks
                .get(&app)
                .cloned()
                .ok_or_else(|| PaasError::not_found("webhook of app", app))?;
            let app_name = state
                .apps
                .get(&app)
                .map(|a| a.name.clone())
                .ok_or_else(|| PaasError::not_found("app", app))?;
            let busy = state.builds_of(app).any(|b| !b.status.is_final());
            Ok((hook, app_name, busy))
        })?;
        if busy {
            let pending = Pending {
                commit: commit.clone(),
                trigger: trigger.to_owned(),
            };
            self.update_webhook(app, |h| h.pending = Some(pending))
                .await?;
            return Ok(Delivered::Pending(commit));
        }
        let caller = self.caller_of_uid(hook.uid)?;
        let reference = commit.clone().unwrap_or_else(|| hook.branch.clone());
        let outcome = self
            .build_create(
                &caller,
                &app_name,
                BuildSource::Git {
                    url: hook.url.clone(),
                    reference: Some(reference.clone()),
                },
            )
            .await;
        let build = match outcome {
            Ok(build) => build,
            Err(e) => {
                let _ = self.update_webhook(app, |h| h.pending = None).await;
                if trigger == POLL {
                    // The poller reports its failures once, not at every poll.
                    return Err(e);
                }
                self.app_event(app, &format!("{trigger} of {} not built: {e}", hook.branch))
                    .await;
                return Err(e);
            }
        };
        self.update_webhook(app, |h| {
            h.pending = None;
            h.last_build = Some(build.id);
            if commit.is_some() {
                h.last_commit = commit.clone();
            }
        })
        .await?;
        let short: String = reference.chars().take(12).collect();
        self.app_event(
            app,
            &format!(
                "Build {} started by a {trigger} of {} ({short})",
                build.id, hook.branch
            ),
        )
        .await;
        Ok(Delivered::Queued(Box::new(build)))
    }

    /// Changes app `app`'s webhook, if it still has one.
    pub(crate) async fn update_webhook(
        &self,
        app: i64,
        f: impl FnOnce(&mut Webhook),
    ) -> Result<()> {
        self.write(|staged| {
            if let Some(mut hook) = staged.state.webhooks.get(&app).cloned() {
                f(&mut hook);
                staged.push(Op::PutWebhook(hook));
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_never_debugged() {
        let a = Secret::generate().expect("secret");
        let b = Secret::generate().expect("secret");
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), SECRET_BYTES * 2);
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
