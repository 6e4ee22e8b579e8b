//! Fetching a build's source onto nubod's machine: a git repository at a branch, tag or
//! commit (`file://`, `http(s)://`, `git://`; other transports are refused), checked out
//! without its history, within a time limit and a size limit, with git's own configuration
//! and prompts kept out.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use crate::error::{PaasError, Result};

/// The longest URL and reference accepted.
const URL_MAX: usize = 2048;
const REFERENCE_MAX: usize = 200;

/// Checks a repository URL: a scheme git may use here, no option-like text.
pub fn check_git_url(url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    let scheme_ok = ["file://", "http://", "https://", "git://"]
        .iter()
        .any(|s| lower.starts_with(s));
    if !scheme_ok || url.len() > URL_MAX || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(PaasError::Invalid(format!(
            "{:?} is not a repository URL this platform fetches: file://, http://, https:// \
             or git://, at most {URL_MAX} characters, no spaces",
            url.chars().take(100).collect::<String>()
        )));
    }
    Ok(())
}

/// Checks a branch, tag or commit name.
pub fn check_reference(reference: &str) -> Result<()> {
    let ok = !reference.is_empty()
        && reference.len() <= REFERENCE_MAX
        && !reference.starts_with('-')
        && !reference.contains("..")
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/-+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PaasError::Invalid(format!(
            "{:?} is not a branch, tag or commit name",
            reference.chars().take(100).collect::<String>()
        )))
    }
}

/// Fetches `url` at `reference` into `dest` (which must not exist), keeping no `.git`;
/// returns the commit checked out. Fails with the reason git gave (its last lines).
pub async fn fetch_git(
    url: &str,
    reference: Option<&str>,
    dest: &Path,
    timeout: Duration,
    max_bytes: u64,
) -> Result<String> {
    check_git_url(url)?;
    if let Some(r) = reference {
        check_reference(r)?;
    }
    let home = dest.with_extension("home");
    tokio::fs::create_dir_all(&home)
        .await
        .map_err(|e| fetch_failed(format!("cannot make a home for git: {e}")))?;
    let outcome = tokio::time::timeout(timeout, async {
        git(
            &home,
            None,
            &["clone", "--quiet", "--no-checkout", "--", url],
        )
        .arg(dest)
        .output_checked()
        .await?;
        let commit = resolve(&home, dest, reference).await?;
        git(
            &home,
            Some(dest),
            &["checkout", "--quiet", "--detach", &commit],
        )
        .output_checked()
        .await?;
        Ok::<_, PaasError>(commit)
    })
    .await;
    let _ = tokio::fs::remove_dir_all(&home).await;
    let commit = outcome.map_err(|_| {
        fetch_failed(format!(
            "fetching the repository took more than {} s",
            timeout.as_secs()
        ))
    })??;
    let _ = tokio::fs::remove_dir_all(dest.join(".git")).await;
    let size = dir_size(dest).await?;
    if size > max_bytes {
        return Err(fetch_failed(format!(
            "the source is {size} bytes; at most {max_bytes}"
        )));
    }
    Ok(commit)
}

/// The commit `reference` names in the clone at `dir`: a remote branch, a tag, a commit;
/// the default branch's head without one.
async fn resolve(home: &Path, dir: &Path, reference: Option<&str>) -> Result<String> {
    let candidates: Vec<String> = match reference {
        None => vec!["HEAD".into()],
        Some(r) => vec![
            format!("origin/{r}"),
            format!("refs/tags/{r}"),
            r.to_owned(),
        ],
    };
    for candidate in &candidates {
        let out = git(
            home,
            Some(dir),
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{candidate}^{{commit}}"),
            ],
        )
        .output()
        .await
        .map_err(|e| fetch_failed(format!("cannot run git: {e}")))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        }
    }
    Err(fetch_failed(format!(
        "the repository has no branch, tag or commit {}",
        reference.unwrap_or("HEAD")
    )))
}

fn fetch_failed(reason: String) -> PaasError {
    PaasError::Invalid(format!("cannot fetch the source: {reason}"))
}

/// A git command with nothing of the machine's or user's configuration, no prompts, and
/// only the transports allowed here.
pub(crate) fn git(home: &Path, dir: Option<&Path>, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("GIT_SSH_COMMAND", "/bin/false")
        .args([
            "-c",
            "protocol.allow=never",
            "-c",
            "protocol.file.allow=always",
            "-c",
            "protocol.http.allow=always",
            "-c",
            "protocol.https.allow=always",
            "-c",
            "protocol.git.allow=always",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "advice.detachedHead=false",
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    cmd.args(args);
    cmd
}

trait OutputChecked {
    async fn output_checked(&mut self) -> Result<()>;
}

impl OutputChecked for Command {
    async fn output_checked(&mut self) -> Result<()> {
        let out = self
            .output()
            .await
            .map_err(|e| fetch_failed(format!("cannot run git: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        // git's own verdict first (`fatal: …`), else its last words.
        let reason = match lines.iter().find(|l| l.starts_with("fatal:")) {
            Some(fatal) => (*fatal).to_owned(),
            None => lines[lines.len().saturating_sub(2)..].join(" / "),
        };
        Err(fetch_failed(reason))
    }
}

/// The bytes the regular files under `dir` take (symlinks not followed), counting at most
/// a million entries.
pub async fn dir_size(dir: &Path) -> Result<u64> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut total = 0u64;
        let mut stack = vec![dir];
        let mut entries = 0u32;
        while let Some(d) = stack.pop() {
            let read = std::fs::read_dir(&d)
                .map_err(|e| fetch_failed(format!("cannot read the source: {e}")))?;
            for entry in read {
                let entry =
                    entry.map_err(|e| fetch_failed(format!("cannot read the source: {e}")))?;
                entries += 1;
                if entries > 1_000_000 {
                    return Err(fetch_failed(
                        "the source has more than a million files".into(),
                    ));
                }
                let meta = entry
                    .metadata()
                    .map_err(|e| fetch_failed(format!("cannot read the source: {e}")))?;
                if meta.is_dir() {
                    stack.push(entry.path());
                } else {
                    total += meta.len();
                }
            }
        }
        Ok(total)
    })
    .await
    .map_err(|e| fetch_failed(format!("the size check failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_references_are_checked() {
        for good in [
            "file:///srv/repo.git",
            "https://h/x.git",
            "git://h/x",
            "HTTP://h/x",
        ] {
            assert!(check_git_url(good).is_ok(), "{good}");
        }
        for bad in [
            "ssh://h/x",
            "-u",
            "ext::sh -c x",
            "/srv/repo",
            "https://h/a b",
            "file:///x\n",
        ] {
            assert!(check_git_url(bad).is_err(), "{bad}");
        }
        for good in ["main", "v1.2.3", "feature/x", "0123abcd"] {
            assert!(check_reference(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "a..b", "a b", "a;b", "$(x)"] {
            assert!(check_reference(bad).is_err(), "{bad}");
        }
    }

    fn sh(dir: &Path, script: &str) {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .expect("sh");
        assert!(status.success(), "{script}");
    }

    #[tokio::test]
    async fn branches_tags_and_commits_are_fetched() {
        let tmp = tempfile::tempdir().expect("tmp");
        let repo = tmp.path().join("repo");
        std::fs::create_dir(&repo).expect("mkdir");
        sh(
            &repo,
            "git init -q -b main . && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m one \
             && git tag v1 && echo two > f && git add f && git -c user.email=a@b -c user.name=a commit -q -m two \
             && git checkout -q -b other && echo three > f && git -c user.email=a@b -c user.name=a commit -qam three \
             && git checkout -q main",
        );
        let url = format!("file://{}", repo.display());
        let limit = Duration::from_secs(30);
        let head = fetch_git(&url, None, &tmp.path().join("a"), limit, 1 << 20)
            .await
            .expect("head");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("a/f")).expect("f"),
            "two\n"
        );
        assert!(!tmp.path().join("a/.git").exists());
        fetch_git(&url, Some("other"), &tmp.path().join("b"), limit, 1 << 20)
            .await
            .expect("branch");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("b/f")).expect("f"),
            "three\n"
        );
        fetch_git(&url, Some("v1"), &tmp.path().join("c"), limit, 1 << 20)
            .await
            .expect("tag");
        assert!(!tmp.path().join("c/f").exists());
        let again = fetch_git(&url, Some(&head), &tmp.path().join("d"), limit, 1 << 20)
            .await
            .expect("commit");
        assert_eq!(again, head);
        let err = fetch_git(&url, Some("nope"), &tmp.path().join("e"), limit, 1 << 20)
            .await
            .expect_err("missing ref");
        assert!(
            err.to_string().contains("no branch, tag or commit nope"),
            "{err}"
        );
        let err = fetch_git(
            "file:///no/such/repo",
            None,
            &tmp.path().join("g"),
            limit,
            1 << 20,
        )
        .await
        .expect_err("missing repo");
        assert!(err.to_string().contains("cannot fetch the source"), "{err}");
        let err = fetch_git(&url, None, &tmp.path().join("h"), limit, 1)
            .await
            .expect_err("too big");
        assert!(err.to_string().contains("at most 1"), "{err}");
    }
}
