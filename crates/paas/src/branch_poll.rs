//! The auto-deploy loop: one task for every app's webhook, every second. It builds the
//! pending push of an app whose build has ended ([`crate::webhooks`]), and, for a webhook
//! with a poll interval, looks at its branch's head (`git ls-remote`, one repository at a
//! time, 30 s at most, git's configuration and prompts kept out as for fetching a build's
//! source) and builds it when it is not the commit last built.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::source;
use crate::webhook_delivery::is_commit;
use crate::webhooks::POLL;

/// How often the loop looks.
const TICK: Duration = Duration::from_secs(1);
/// How long one `git ls-remote` may take.
const LS_REMOTE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the loop remembers between ticks: when each app's branch was last looked at, and
/// the last failure reported (reported again only when it changes).
#[derive(Debug, Default)]
struct Polls {
    last: HashMap<i64, Instant>,
    failure: HashMap<i64, String>,
}

impl Paas {
    /// Starts the auto-deploy loop.
    pub(crate) fn start_auto_deploy(&self) {
        let paas = self.clone();
        tokio::spawn(async move {
            let mut polls = Polls::default();
            loop {
                tokio::time::sleep(TICK).await;
                paas.auto_deploy_tick(&mut polls).await;
            }
        });
    }

    async fn auto_deploy_tick(&self, polls: &mut Polls) {
        let Ok((pending, due, polling)) = self.read(|state| {
            let idle = |app: i64| !state.builds_of(app).any(|b| !b.status.is_final());
            let pending: Vec<_> = state
                .webhooks
                .values()
                .filter(|h| h.pending.is_some() && idle(h.app))
                .map(|h| (h.app, h.pending.clone()))
                .collect();
            let due: Vec<_> = state
                .webhooks
                .values()
                .filter_map(|h| {
                    let every = Duration::from_secs(u64::from(h.poll_interval?));
                    let looked = polls.last.get(&h.app);
                    looked
                        .is_none_or(|t| t.elapsed() >= every)
                        .then(|| h.clone())
                })
                .collect();
            let polling: Vec<i64> = state
                .webhooks
                .values()
                .filter(|h| h.poll_interval.is_some())
                .map(|h| h.app)
                .collect();
            Ok((pending, due, polling))
        }) else {
            return;
        };
        for (app, push) in pending {
            let Some(push) = push else { continue };
            if let Err(error) = self.webhook_build(app, push.commit, &push.trigger).await {
                tracing::warn!(app, %error, "a pending push was not built");
            }
        }
        polls.last.retain(|app, _| polling.contains(app));
        polls.failure.retain(|app, _| polling.contains(app));
        for hook in due {
            polls.last.insert(hook.app, Instant::now());
            let home = self.config().work_dir.join("poll.home");
            let outcome = match branch_head(&home, &hook.url, &hook.branch).await {
                Ok(head) if self.already_built(hook.app, &head) => Ok(()),
                Ok(head) => self
                    .webhook_build(hook.app, Some(head.clone()), POLL)
                    .await
                    .map(drop)
                    .map_err(|e| {
                        format!("the poll of {} ({head:.12}) not built: {e}", hook.branch)
                    }),
                Err(e) => Err(format!(
                    "Polling {} of {} failed: {e}",
                    hook.branch, hook.url
                )),
            };
            match outcome {
                Ok(()) => {
                    polls.failure.remove(&hook.app);
                }
                Err(text) => {
                    if polls.failure.get(&hook.app) != Some(&text) {
                        self.app_event(hook.app, &text).await;
                        polls.failure.insert(hook.app, text);
                    }
                }
            }
        }
    }

    /// Whether `head` is what app `app`'s webhook last built or has pending (or the commit
    /// its last build fetched).
    fn already_built(&self, app: i64, head: &str) -> bool {
        self.read(|state| {
            let Some(hook) = state.webhooks.get(&app) else {
                return Ok(true);
            };
            let fetched = hook
                .last_build
                .and_then(|id| state.builds.get(&id))
                .and_then(|b| b.commit.as_deref());
            let pending = hook.pending.as_ref().and_then(|p| p.commit.as_deref());
            Ok([hook.last_commit.as_deref(), fetched, pending].contains(&Some(head)))
        })
        .unwrap_or(true)
    }
}

/// The commit `refs/heads/<branch>` of the repository at `url` points at.
pub(crate) async fn branch_head(home: &Path, url: &str, branch: &str) -> Result<String> {
    source::check_git_url(url)?;
    source::check_reference(branch)?;
    tokio::fs::create_dir_all(home)
        .await
        .map_err(|e| failed(format!("cannot make a home for git: {e}")))?;
    let wanted = format!("refs/heads/{branch}");
    let out = tokio::time::timeout(
        LS_REMOTE_TIMEOUT,
        source::git(home, None, &["ls-remote", "--quiet", "--", url, &wanted]).output(),
    )
    .await
    .map_err(|_| {
        failed(format!(
            "git ls-remote took more than {} s",
            LS_REMOTE_TIMEOUT.as_secs()
        ))
    })?
    .map_err(|e| failed(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let fatal = stderr
            .lines()
            .find(|l| l.starts_with("fatal:"))
            .unwrap_or("git ls-remote failed");
        return Err(failed(fatal.chars().take(300).collect()));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(commit, name)| *name == wanted && is_commit(commit))
        .map(|(commit, _)| commit.to_ascii_lowercase())
        .ok_or_else(|| failed(format!("the repository has no branch {branch}")))
}

fn failed(reason: String) -> PaasError {
    PaasError::Invalid(format!("cannot read the branch's head: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn heads_are_read() {
        let tmp = tempfile::tempdir().expect("tmp");
        let repo = tmp.path().join("repo");
        std::fs::create_dir(&repo).expect("mkdir");
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(
                "git init -q -b main . && git -c user.email=a@b -c user.name=a commit -q \
                 --allow-empty -m one && git rev-parse HEAD > ../head",
            )
            .current_dir(&repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .expect("sh");
        assert!(status.success());
        let expected = std::fs::read_to_string(tmp.path().join("head")).expect("head");
        let url = format!("file://{}", repo.display());
        let home = tmp.path().join("home");
        let head = branch_head(&home, &url, "main").await.expect("head");
        assert_eq!(head, expected.trim());
        let err = branch_head(&home, &url, "dev").await.expect_err("no dev");
        assert!(err.to_string().contains("no branch dev"), "{err}");
        let err = branch_head(&home, "file:///no/such/repo", "main")
            .await
            .expect_err("no repo");
        assert!(err.to_string().contains("cannot read"), "{err}");
        assert!(branch_head(&home, "ssh://h/x", "main").await.is_err());
    }
}
