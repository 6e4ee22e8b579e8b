//! `nubo app deploy` and `nubo app logs`: starting a build (from a git repository, a
//! directory packed by `pack.rs`, or a tarball), following its log until it ends, and
//! reading build logs.
//!
//! A followed log that breaks off (the connection dropped, nubod restarted) is picked up
//! again from the last byte shown, as long as the build runs; interrupting the command
//! stops following, never the build. `deploy` exits 0 when the build succeeded and 1 when
//! it failed (its reason on stderr).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use serde_json::{Value, json};

use super::{AppCtx, app_path, items, pack, text};
use crate::context::emit;
use crate::exit::usage_error;
use crate::rest::{Followed, RestError};

/// How long to wait before following a log again after it broke off.
const RETRY: Duration = Duration::from_secs(1);

/// How many times in a row a followed log may break off without giving anything.
const RETRIES: u32 = 10;

/// Where a build's source is.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["git", "dir", "tarball"])))]
pub struct DeployArgs {
    /// The app.
    app: String,
    /// A git repository, optionally at a branch, tag or commit: URL[@REF] (file://,
    /// http://, https:// or git://; REF is what follows the last @ of the URL's path).
    #[arg(long, value_name = "URL[@REF]")]
    git: Option<String>,
    /// A directory, packed and uploaded (without .git; symbolic links leading out of it
    /// are refused).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// A .tar or .tar.gz file, uploaded as it is (a single top-level directory in it is
    /// taken as the root).
    #[arg(long, value_name = "FILE")]
    tarball: Option<PathBuf>,
    /// Start the build and print it without following its log.
    #[arg(long)]
    no_follow: bool,
}

/// Which log to read, and how.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The app.
    app: String,
    /// Print this build's log instead of the app's (`latest`: the app's latest build).
    #[arg(long, value_name = "ID")]
    build: Option<String>,
    /// Keep printing what the log gets (a build's: until it ends; the app's: until
    /// interrupted).
    #[arg(long, short)]
    follow: bool,
    /// Print only the last N lines (then, with -f, what comes); the app's log: 100.
    #[arg(long = "num", short = 'n', value_name = "N")]
    num: Option<usize>,
    /// Only the lines of this process type (`web`), instance (`web.1`), `router` or `nubo`
    /// (the platform's events).
    #[arg(
        long = "type",
        short = 't',
        value_name = "TYPE",
        conflicts_with = "build"
    )]
    process_type: Option<String>,
}

impl DeployArgs {
    /// Runs the command.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        let builds = app_path(&self.app, "/builds");
        let build = if let Some(git) = &self.git {
            let (url, reference) = split_ref(git);
            let mut source = json!({ "type": "git", "url": url });
            if let Some(r) = reference {
                source["ref"] = Value::from(r);
            }
            ctx.api
                .send_json("POST", &builds, &json!({ "source": source }))?
        } else if let Some(dir) = &self.dir {
            let (file, size) = pack::pack(dir)?;
            if !ctx.json {
                emit(&format!(
                    "-----> Uploading {} ({size} bytes packed)",
                    dir.display()
                ))?;
            }
            ctx.api.send_file(&builds, "application/gzip", &file)?
        } else if let Some(path) = &self.tarball {
            let mut file = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let mut magic = [0u8; 2];
            let gzipped = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
            drop(file);
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let media = if gzipped {
                "application/gzip"
            } else {
                "application/x-tar"
            };
            ctx.api.send_file(&builds, media, &file)?
        } else {
            return Err(usage_error("give --git URL, --dir DIR or --tarball FILE"));
        };
        let id = build["id"]
            .as_i64()
            .context("the API answered a build without an id")?;
        if self.no_follow {
            return ctx.print(&build, |b| {
                format!(
                    "Build {id} of {} is {}: follow it with nubo app logs {} --build {id} -f",
                    self.app,
                    text(&b["status"]),
                    self.app
                )
            });
        }
        if !ctx.json {
            emit(&format!("-----> Build {id} of {} started", self.app))?;
        }
        let Some(done) = follow_build(ctx, &self.app, id, 0)? else {
            return Ok(());
        };
        if ctx.json {
            emit(&serde_json::to_string_pretty(&done)?)?;
        }
        outcome(&self.app, &done, !ctx.json)
    }
}

impl LogsArgs {
    /// Runs the command.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        if ctx.json {
            return Err(usage_error("logs are text: --json does not apply to them"));
        }
        let Some(build) = &self.build else {
            return super::ops::app_log(
                ctx,
                &self.app,
                self.num,
                self.process_type.as_deref(),
                self.follow,
            );
        };
        let id = match build.parse::<i64>() {
            Ok(id) => id,
            Err(_) if build != "latest" => {
                return Err(usage_error("--build takes a build id or `latest`"));
            }
            Err(_) => {
                let builds = ctx.api.get(&app_path(&self.app, "/builds"))?;
                items(&builds)
                    .first()
                    .and_then(|b| b["id"].as_i64())
                    .with_context(|| {
                        format!(
                            "app {} has no builds yet: deploy it with nubo app deploy",
                            self.app
                        )
                    })?
            }
        };
        let path = log_path(&self.app, id);
        let offset = match self.num {
            None if self.follow => 0,
            _ => {
                let piece = ctx.api.log(&path, 0)?;
                let shown = match self.num {
                    Some(n) => last_lines(&piece.data, n),
                    None => &piece.data,
                };
                if write_out(shown) {
                    return Ok(());
                }
                piece.next
            }
        };
        if self.follow {
            follow_build(ctx, &self.app, id, offset)?;
        }
        Ok(())
    }
}

/// `/apps/<app>/builds/<id>/log`.
fn log_path(app: &str, id: i64) -> String {
    app_path(app, &format!("/builds/{id}/log"))
}

/// Writes to stdout; whether stdout is gone.
fn write_out(data: &[u8]) -> bool {
    let mut out = std::io::stdout().lock();
    matches!(
        out.write_all(data).and_then(|()| out.flush()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe
    )
}

/// Follows build `id`'s log from `offset` to the end of the build (to stdout, or to stderr
/// when stdout is for JSON); the build as it ended, or None when our output was closed.
fn follow_build(ctx: &AppCtx, app: &str, id: i64, offset: u64) -> anyhow::Result<Option<Value>> {
    let path = log_path(app, id);
    let build_path = app_path(app, &format!("/builds/{id}"));
    let mut out: Box<dyn Write> = if ctx.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let mut offset = offset;
    let mut failures = 0;
    loop {
        let (n, broke) = match ctx.api.follow(&path, offset, &mut out) {
            Ok(Followed::Closed) => return Ok(None),
            Ok(Followed::Ended(n)) => (n, None),
            Err((_, e @ (RestError::Problem { .. } | RestError::Config(_)))) => {
                return Err(e.into());
            }
            Err((n, e)) => (n, Some(e)),
        };
        offset += n;
        let build = match ctx.api.get(&build_path) {
            Ok(b) => Some(b),
            Err(e @ RestError::Problem { .. }) => return Err(e.into()),
            Err(_) => None,
        };
        if let Some(b) = build.filter(is_final) {
            // Whatever the stream had not brought yet.
            let rest = ctx.api.log(&path, offset)?;
            out.write_all(&rest.data).and_then(|()| out.flush()).ok();
            return Ok(Some(b));
        }
        // The stream ended (or broke) while the build runs: go on from where it stopped.
        failures = if n > 0 { 0 } else { failures + 1 };
        if failures >= RETRIES {
            let why = broke.map_or_else(|| "it kept ending".to_owned(), |e| e.to_string());
            anyhow::bail!(
                "gave up following the log of build {id} ({why}); the build goes on: nubo app logs {app} --build {id} -f"
            );
        }
        std::thread::sleep(RETRY);
    }
}

/// Whether a build has ended.
fn is_final(build: &Value) -> bool {
    matches!(build["status"].as_str(), Some("succeeded" | "failed"))
}

/// Reports how a build ended: Ok for a success (a line on stdout when `say`), an error
/// naming the reason for anything else.
fn outcome(app: &str, build: &Value, say: bool) -> anyhow::Result<()> {
    let id = text(&build["id"]);
    match build["status"].as_str() {
        Some("succeeded") => {
            if say {
                let release = match &build["release"] {
                    Value::Null => "no release".to_owned(),
                    v => format!("release v{}", text(v)),
                };
                emit(&format!("=====> Build {id} of {app} succeeded: {release}"))?;
            }
            Ok(())
        }
        status => {
            let reason = build["reason"].as_str().unwrap_or("no reason given");
            anyhow::bail!(
                "build {id} of {app} {}: {reason}",
                status.unwrap_or("ended")
            )
        }
    }
}

/// `URL[@REF]`: the ref is what follows the last `@` of the URL's path (after the host,
/// so `https://user@host/repo` has none).
fn split_ref(spec: &str) -> (&str, Option<&str>) {
    let path_start = spec
        .find("://")
        .map(|i| i + 3)
        .and_then(|host| spec[host..].find('/').map(|p| host + p))
        .unwrap_or(0);
    match spec[path_start..].rfind('@') {
        Some(at) if at + 1 < spec.len() - path_start => {
            let at = path_start + at;
            (&spec[..at], Some(&spec[at + 1..]))
        }
        _ => (spec, None),
    }
}

/// The last `n` lines of `data` (a final line without a newline counts).
fn last_lines(data: &[u8], n: usize) -> &[u8] {
    if n == 0 {
        return &[];
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut seen = 0;
    for (i, byte) in body.iter().enumerate().rev() {
        if *byte == b'\n' {
            seen += 1;
            if seen == n {
                return data.get(i + 1..).unwrap_or_default();
            }
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_follow_the_last_at_of_the_path() {
        assert_eq!(split_ref("file:///r"), ("file:///r", None));
        assert_eq!(split_ref("file:///r@main"), ("file:///r", Some("main")));
        assert_eq!(
            split_ref("https://u@host/a/repo.git"),
            ("https://u@host/a/repo.git", None)
        );
        assert_eq!(
            split_ref("https://u@host/repo.git@feature/x"),
            ("https://u@host/repo.git", Some("feature/x"))
        );
        assert_eq!(split_ref("https://host/r@"), ("https://host/r@", None));
        assert_eq!(split_ref("/srv/repo@v1"), ("/srv/repo", Some("v1")));
    }

    #[test]
    fn tails() {
        assert_eq!(last_lines(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(last_lines(b"a\nb\nc", 2), b"b\nc");
        assert_eq!(last_lines(b"a\nb\n", 5), b"a\nb\n");
        assert_eq!(last_lines(b"a\n", 0), b"");
        assert_eq!(last_lines(b"", 3), b"");
    }

    #[test]
    fn outcomes() {
        let ok = json!({"id": 3, "status": "succeeded", "release": 4});
        assert!(outcome("shop", &ok, false).is_ok());
        let bad = json!({"id": 3, "status": "failed", "reason": "cannot fetch the source"});
        let err = outcome("shop", &bad, false).expect_err("failed");
        assert_eq!(
            err.to_string(),
            "build 3 of shop failed: cannot fetch the source"
        );
        assert!(is_final(&ok) && !is_final(&json!({"status": "building"})));
    }
}
