//! Auto-deploy: an app's webhook (PaaS record `webhook`, one per app) names a git repository
//! and the branch to follow; a push delivered to it, signed with its secret, builds the
//! pushed commit, and the build's release is rolled out as any other.
//!
//! Deliveries are authenticated by their signature alone (the senders know no Nubo user):
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`;
//! - Gitea: `X-Gitea-Signature: <hex HMAC-SHA256 of the body>`;
//! - GitLab: `X-Gitlab-Token: <the secret>`;
//! - anything else: `X-Nubo-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
//!
//! Comparisons are constant-time (`hmac`'s `verify_slice`; GitLab's token is compared as the
//! HMACs of both). An unknown app, an app without a webhook and a bad signature are refused
//! alike. The payload's repository URL is never used: the configured one is built.
//!
//! One build per app at a time: a push while one of the app's builds is queued or running
//! is kept as the app's pending push (a later one replaces it), built when that build ends
//! ([`crate::branch_poll`]).

use hmac::{Hmac, Mac};
use nubo_core::Caller;
use nubo_types::{AuthOp, Oid};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::{Build, BuildSource};
use crate::source;
use crate::state::Op;

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

type HmacSha256 = Hmac<Sha256>;

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

/// The headers of a delivery that matter, as they came (any bytes).
#[derive(Debug, Clone, Default)]
pub struct HookHeaders {
    /// `X-Nubo-Signature-256`.
    pub nubo_signature: Option<Vec<u8>>,
    /// `X-Hub-Signature-256` (GitHub, also sent by Gitea).
    pub hub_signature: Option<Vec<u8>>,
    /// `X-Gitea-Signature`.
    pub gitea_signature: Option<Vec<u8>>,
    /// `X-Gitlab-Token`.
    pub gitlab_token: Option<Vec<u8>>,
    /// `X-GitHub-Event`.
    pub github_event: Option<Vec<u8>>,
    /// `X-Gitea-Event`.
    pub gitea_event: Option<Vec<u8>>,
    /// `X-Gitlab-Event`.
    pub gitlab_event: Option<Vec<u8>>,
}

/// Who signed a delivery, as its signature shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `X-Hub-Signature-256`.
    GitHub,
    /// `X-Gitea-Signature`.
    Gitea,
    /// `X-Gitlab-Token`.
    GitLab,
    /// `X-Nubo-Signature-256`.
    Plain,
}

impl Flavour {
    fn name(self) -> &'static str {
        match self {
            Flavour::GitHub => "GitHub",
            Flavour::Gitea => "Gitea",
            Flavour::GitLab => "GitLab",
            Flavour::Plain => "webhook",
        }
    }
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

/// The flavour whose signature header `headers` carries and the secret verifies; `None` for
/// no signature or a wrong one. The first header present of Nubo's, GitHub's, Gitea's and
/// GitLab's is the one checked.
pub fn verify(secret: &[u8], headers: &HookHeaders, body: &[u8]) -> Option<Flavour> {
    if let Some(sig) = &headers.nubo_signature {
        return hmac_ok(secret, body, sig.strip_prefix(b"sha256=")?).then_some(Flavour::Plain);
    }
    if let Some(sig) = &headers.hub_signature {
        return hmac_ok(secret, body, sig.strip_prefix(b"sha256=")?).then_some(Flavour::GitHub);
    }
    if let Some(sig) = &headers.gitea_signature {
        return hmac_ok(secret, body, sig).then_some(Flavour::Gitea);
    }
    if let Some(token) = &headers.gitlab_token {
        // The HMACs of both, compared in constant time, say whether they are equal.
        let mac = |data: &[u8]| {
            HmacSha256::new_from_slice(secret).map(|mut m| {
                m.update(data);
                m
            })
        };
        let (Ok(expected), Ok(given)) = (mac(secret), mac(token)) else {
            return None;
        };
        return given
            .verify_slice(&expected.finalize().into_bytes())
            .is_ok()
            .then_some(Flavour::GitLab);
    }
    None
}

/// Whether `hex_sig` is the hex HMAC-SHA256 of `body` under `secret`.
fn hmac_ok(secret: &[u8], body: &[u8], hex_sig: &[u8]) -> bool {
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The hex HMAC-SHA256 of `body` under `secret` (what a sender puts after `sha256=`).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    match HmacSha256::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// The push a body describes.
#[derive(Debug, Default, Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    reference: Option<String>,
    after: Option<String>,
    checkout_sha: Option<String>,
    commit: Option<String>,
    #[serde(default)]
    deleted: bool,
}

/// What a signed delivery asks for: to build `commit` (the branch's head when `None`), or
/// nothing (why).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    Pong,
    Ignore(String),
    Build(Option<String>),
}

/// Reads a signed delivery: its event, and the ref and commit of a push.
pub(crate) fn read_delivery(
    flavour: Flavour,
    headers: &HookHeaders,
    body: &[u8],
    branch: &str,
) -> std::result::Result<Asked, HookError> {
    let event = [
        &headers.github_event,
        &headers.gitea_event,
        &headers.gitlab_event,
    ]
    .into_iter()
    .flatten()
    .next()
    .map(|e| String::from_utf8_lossy(e).trim().to_owned());
    match event.as_deref() {
        None | Some("push" | "Push Hook") => {}
        Some("ping") => return Ok(Asked::Pong),
        Some(other) => {
            return Ok(Asked::Ignore(format!(
                "event {:?} is not a push",
                other.chars().take(40).collect::<String>()
            )));
        }
    }
    let push: Push = if body.iter().all(u8::is_ascii_whitespace) && flavour == Flavour::Plain {
        Push::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| HookError::Malformed(format!("the body is not a push: {e}")))?
    };
    if let Some(reference) = &push.reference {
        let name = reference.strip_prefix("refs/heads/").unwrap_or(
            // Only a plain delivery may name the branch without `refs/heads/`.
            if flavour == Flavour::Plain && !reference.starts_with("refs/") {
                reference
            } else {
                ""
            },
        );
        if name != branch {
            return Ok(Asked::Ignore(format!(
                "{:?} is not the branch followed ({branch})",
                reference.chars().take(100).collect::<String>()
            )));
        }
    } else if flavour != Flavour::Plain {
        return Err(HookError::Malformed("the push names no ref".into()));
    }
    let commit = match flavour {
        Flavour::GitLab => push.checkout_sha.or(push.after),
        Flavour::Plain => push.commit.or(push.after),
        Flavour::GitHub | Flavour::Gitea => push.after,
    };
    match commit {
        Some(c) if c.bytes().all(|b| b == b'0') && !c.is_empty() => {
            Ok(Asked::Ignore("the branch was deleted".into()))
        }
        _ if push.deleted => Ok(Asked::Ignore("the branch was deleted".into())),
        Some(c) if is_commit(&c) => Ok(Asked::Build(Some(c.to_ascii_lowercase()))),
        Some(_) => Err(HookError::Malformed(
            "the commit is not 40 or 64 hex digits".into(),
        )),
        None => Ok(Asked::Build(None)),
    }
}

/// Whether `s` is a full commit id (SHA-1 or SHA-256).
pub(crate) fn is_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
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
        match read_delivery(flavour, headers, body, &hook.branch)? {
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
    use proptest::prelude::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const BODY: &[u8] =
        br#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}"#;

    fn github(sig: &str) -> HookHeaders {
        HookHeaders {
            hub_signature: Some(sig.as_bytes().to_vec()),
            github_event: Some(b"push".to_vec()),
            ..HookHeaders::default()
        }
    }

    #[test]
    fn github_signatures() {
        let good = format!("sha256={}", sign(SECRET, BODY));
        assert_eq!(verify(SECRET, &github(&good), BODY), Some(Flavour::GitHub));
        let upper = format!("sha256={}", sign(SECRET, BODY).to_uppercase());
        assert_eq!(verify(SECRET, &github(&upper), BODY), Some(Flavour::GitHub));
        let other = format!("sha256={}", sign(b"another secret", BODY));
        assert_eq!(verify(SECRET, &github(&other), BODY), None);
        assert_eq!(verify(SECRET, &github(&good), b"{}"), None, "another body");
        assert_eq!(
            verify(SECRET, &github(&sign(SECRET, BODY)), BODY),
            None,
            "no prefix"
        );
        let sha1 = format!("sha1={}", sign(SECRET, BODY));
        assert_eq!(verify(SECRET, &github(&sha1), BODY), None, "wrong prefix");
        assert_eq!(
            verify(SECRET, &github(&good[..good.len() - 1]), BODY),
            None,
            "odd"
        );
        assert_eq!(
            verify(SECRET, &github(&good[..good.len() - 2]), BODY),
            None,
            "short"
        );
        assert_eq!(verify(SECRET, &github("sha256="), BODY), None, "empty");
        assert_eq!(
            verify(SECRET, &HookHeaders::default(), BODY),
            None,
            "missing"
        );
    }

    #[test]
    fn gitea_signatures() {
        let headers = |sig: String| HookHeaders {
            gitea_signature: Some(sig.into_bytes()),
            gitea_event: Some(b"push".to_vec()),
            ..HookHeaders::default()
        };
        let good = sign(SECRET, BODY);
        assert_eq!(
            verify(SECRET, &headers(good.clone()), BODY),
            Some(Flavour::Gitea)
        );
        assert_eq!(
            verify(SECRET, &headers(format!("sha256={good}")), BODY),
            None
        );
        assert_eq!(verify(SECRET, &headers(good[..63].to_owned()), BODY), None);
        assert_eq!(verify(SECRET, &headers(sign(b"x", BODY)), BODY), None);
        assert_eq!(verify(SECRET, &headers(String::new()), BODY), None);
    }

    #[test]
    fn gitlab_tokens() {
        let headers = |token: &[u8]| HookHeaders {
            gitlab_token: Some(token.to_vec()),
            gitlab_event: Some(b"Push Hook".to_vec()),
            ..HookHeaders::default()
        };
        assert_eq!(
            verify(SECRET, &headers(SECRET), BODY),
            Some(Flavour::GitLab)
        );
        assert_eq!(verify(SECRET, &headers(&SECRET[..63]), BODY), None);
        assert_eq!(verify(SECRET, &headers(b""), BODY), None);
        let mut wrong = SECRET.to_vec();
        wrong[0] = b'1';
        assert_eq!(verify(SECRET, &headers(&wrong), BODY), None);
    }

    #[test]
    fn plain_signatures() {
        let headers = |sig: String| HookHeaders {
            nubo_signature: Some(sig.into_bytes()),
            ..HookHeaders::default()
        };
        let good = format!("sha256={}", sign(SECRET, b""));
        assert_eq!(
            verify(SECRET, &headers(good.clone()), b""),
            Some(Flavour::Plain)
        );
        assert_eq!(verify(SECRET, &headers(good.clone()), b"x"), None);
        assert_eq!(
            verify(SECRET, &headers(sign(SECRET, b"")), b""),
            None,
            "no prefix"
        );
        assert_eq!(verify(SECRET, &headers(good[..20].to_owned()), b""), None);
        // The first header present is the one checked: a good GitLab token beside a bad
        // Nubo signature is refused.
        let both = HookHeaders {
            nubo_signature: Some(b"sha256=00".to_vec()),
            gitlab_token: Some(SECRET.to_vec()),
            ..HookHeaders::default()
        };
        assert_eq!(verify(SECRET, &both, b""), None);
    }

    #[test]
    fn deliveries_are_read() {
        let gh = github("");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            read_delivery(Flavour::GitHub, &gh, BODY, "main").ok(),
            Some(Asked::Build(Some(commit.into())))
        );
        assert!(matches!(
            read_delivery(Flavour::GitHub, &gh, BODY, "prod"),
            Ok(Asked::Ignore(_))
        ));
        let tag = br#"{"ref":"refs/tags/main","after":"0123456789abcdef0123456789abcdef01234567"}"#;
        assert!(matches!(
            read_delivery(Flavour::GitHub, &gh, tag, "main"),
            Ok(Asked::Ignore(_))
        ));
        let deleted =
            br#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#;
        assert!(matches!(
            read_delivery(Flavour::GitHub, &gh, deleted, "main"),
            Ok(Asked::Ignore(_))
        ));
        let ping = HookHeaders {
            github_event: Some(b"ping".to_vec()),
            ..HookHeaders::default()
        };
        assert_eq!(
            read_delivery(Flavour::GitHub, &ping, b"{}", "main").ok(),
            Some(Asked::Pong)
        );
        assert!(matches!(
            read_delivery(Flavour::GitHub, &gh, b"{nope", "main"),
            Err(HookError::Malformed(_))
        ));
        assert!(matches!(
            read_delivery(Flavour::GitHub, &gh, b"{}", "main"),
            Err(HookError::Malformed(_))
        ));
        let bad_commit = br#"{"ref":"refs/heads/main","after":"$(reboot)"}"#;
        assert!(matches!(
            read_delivery(Flavour::GitHub, &gh, bad_commit, "main"),
            Err(HookError::Malformed(_))
        ));
        let gl = HookHeaders {
            gitlab_event: Some(b"Push Hook".to_vec()),
            ..HookHeaders::default()
        };
        let gitlab = br#"{"ref":"refs/heads/main","after":"1111111111111111111111111111111111111111","checkout_sha":"2222222222222222222222222222222222222222"}"#;
        assert_eq!(
            read_delivery(Flavour::GitLab, &gl, gitlab, "main").ok(),
            Some(Asked::Build(Some("2".repeat(40))))
        );
        let plain = HookHeaders::default();
        assert_eq!(
            read_delivery(Flavour::Plain, &plain, b"", "main").ok(),
            Some(Asked::Build(None))
        );
        assert_eq!(
            read_delivery(Flavour::Plain, &plain, br#"{"ref":"main"}"#, "main").ok(),
            Some(Asked::Build(None))
        );
        assert!(matches!(
            read_delivery(Flavour::Plain, &plain, br#"{"ref":"dev"}"#, "main"),
            Ok(Asked::Ignore(_))
        ));
    }

    #[test]
    fn secrets_are_random_and_never_debugged() {
        let a = Secret::generate().expect("secret");
        let b = Secret::generate().expect("secret");
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), SECRET_BYTES * 2);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    fn bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80))
    }

    proptest! {
        #![proptest_config(nubo_testkit::cases(256))]

        #[test]
        fn arbitrary_deliveries_never_panic_and_are_refused_unless_signed(
            nubo in bytes(), hub in bytes(), gitea in bytes(), gitlab in bytes(),
            event in bytes(), body in proptest::collection::vec(any::<u8>(), 0..300),
            signed in any::<bool>(),
        ) {
            let mut headers = HookHeaders {
                nubo_signature: nubo,
                hub_signature: hub,
                gitea_signature: gitea,
                gitlab_token: gitlab,
                github_event: event,
                ..HookHeaders::default()
            };
            if signed {
                headers.nubo_signature = Some(format!("sha256={}", sign(SECRET, &body)).into_bytes());
            }
            let verdict = verify(SECRET, &headers, &body);
            if signed {
                prop_assert_eq!(verdict, Some(Flavour::Plain));
            } else {
                // Random bytes are a correct signature only by a 2^-256 chance; only the
                // secret itself passes as a GitLab token.
                let gitlab_ok = headers.nubo_signature.is_none()
                    && headers.hub_signature.is_none()
                    && headers.gitea_signature.is_none()
                    && headers.gitlab_token.as_deref() == Some(SECRET);
                prop_assert_eq!(verdict.is_some(), gitlab_ok);
            }
            if let Some(flavour) = verdict {
                let _ = read_delivery(flavour, &headers, &body, "main");
            }
        }
    }
}
