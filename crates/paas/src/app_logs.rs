//! An app's log: what its instances print (their consoles, collected every second), the
//! router's line for every request, and the platform's events (releases, scaling), one
//! line each, `<UTC time> <source>: <text>`, with sources `app[web.1]`, `router` and
//! `nubo`. Kept on disk per app (`DATA_DIR/paas/logs/app-<id>.log`), bounded: past
//! [`LOG_BOUND`] bytes the file becomes `….1` (replacing the older one) and a new one
//! starts. Read as the last lines, since a time, by source, or followed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nubo_types::Oid;
use nubo_types::states::{LcmState, VmState};

use crate::Paas;
use crate::error::Result;
use crate::logs;

/// The most bytes an app's log file holds before it is rotated (twice this is kept).
pub const LOG_BOUND: u64 = 4 * 1024 * 1024;
/// The longest line kept (longer ones are cut).
const LINE_MAX: usize = 8 * 1024;
/// The most lines one read returns.
pub const LINES_MAX: usize = 10_000;
/// Router lines waiting to be written (beyond it they are dropped and counted).
pub(crate) const ROUTER_QUEUE: usize = 10_000;

/// Which lines to read.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// The last so many lines (default 100, at most [`LINES_MAX`]).
    pub lines: Option<usize>,
    /// Only lines from this time on (seconds since the epoch).
    pub since: Option<i64>,
    /// Only lines of this process type (`web`), instance (`web.1`), or `router` / `nubo`.
    pub source: Option<String>,
}

/// Where reading went up to, to follow on from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogCursor {
    /// The byte offset in the current file.
    pub offset: u64,
}

/// What the collector remembers of each instance's console.
#[derive(Debug, Default)]
pub(crate) struct Consoles {
    /// Per VM: where its console was read up to, and a line not yet ended.
    read: HashMap<Oid, (u64, String)>,
}

impl Paas {
    /// The log file of app `id`.
    fn app_log(&self, id: i64) -> PathBuf {
        self.config()
            .work_dir
            .join("logs")
            .join(format!("app-{id}.log"))
    }

    /// Appends lines to an app's log, rotating it past the bound.
    pub(crate) async fn app_log_append(&self, app: i64, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        let path = self.app_log(app);
        if tokio::fs::metadata(&path)
            .await
            .is_ok_and(|m| m.len() > LOG_BOUND)
        {
            let _ = tokio::fs::rename(&path, rotated(&path)).await;
        }
        let text: String = lines.concat();
        if let Err(e) = logs::append(&path, text.as_bytes()).await {
            tracing::warn!(app, error = %e, "cannot write an app's log");
        }
    }

    /// Records a platform event in the app's log (source `nubo`).
    pub(crate) async fn app_event(&self, app: i64, text: &str) {
        self.app_log_append(app, &[line("nubo", text, SystemTime::now())])
            .await;
    }

    /// The app's log lines that match `query` (USE), and the cursor to follow on from.
    pub async fn logs(
        &self,
        caller: &nubo_core::Caller,
        name: &str,
        query: &LogQuery,
    ) -> Result<(Vec<String>, LogCursor)> {
        let app = self.app_get(caller, name)?;
        let path = self.app_log(app.id);
        let size = tokio::fs::metadata(&path)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let mut text = logs::read_from(&rotated(&path), 0, LOG_BOUND * 2).await?;
        text.extend(logs::read_from(&path, 0, size).await?);
        let text = String::from_utf8_lossy(&text);
        let wanted = query.lines.unwrap_or(100).min(LINES_MAX);
        let mut matching: Vec<String> = text
            .lines()
            .filter(|l| matches(l, query))
            .map(|l| format!("{l}\n"))
            .collect();
        let from = matching.len().saturating_sub(wanted);
        matching.drain(..from);
        Ok((matching, LogCursor { offset: size }))
    }

    /// The app's new lines after `cursor` that match `query` (USE), and the next cursor.
    pub async fn logs_after(
        &self,
        caller: &nubo_core::Caller,
        name: &str,
        query: &LogQuery,
        cursor: LogCursor,
    ) -> Result<(Vec<String>, LogCursor)> {
        let app = self.app_get(caller, name)?;
        let path = self.app_log(app.id);
        let size = tokio::fs::metadata(&path)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        // Rotated since: the new file from its start.
        let offset = if size < cursor.offset {
            0
        } else {
            cursor.offset
        };
        let data = logs::read_from(&path, offset, 1024 * 1024).await?;
        // Only whole lines.
        let whole = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let text = String::from_utf8_lossy(&data[..whole]);
        let lines = text
            .lines()
            .filter(|l| matches(l, query))
            .map(|l| format!("{l}\n"))
            .collect();
        Ok((
            lines,
            LogCursor {
                offset: offset + whole as u64,
            },
        ))
    }

    /// Takes a router line for `app` (by name) to write in the background; dropped when
    /// too many wait.
    pub fn router_log(&self, app: &str, text: String) {
        let Ok(Some(id)) = self.read(|s| Ok(s.app_by_name(app).map(|a| a.id))) else {
            return;
        };
        let line = line("router", &text, SystemTime::now());
        if self.inner.router_lines.try_send((id, line)).is_err() {
            tracing::debug!(app, "router log queue full; a line was dropped");
        }
    }

    /// Writes router lines as they come, in batches per app.
    pub(crate) fn start_router_log_writer(
        &self,
        mut rx: tokio::sync::mpsc::Receiver<(i64, String)>,
    ) {
        let paas = self.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch: BTreeMap<i64, Vec<String>> = BTreeMap::new();
                batch.entry(first.0).or_default().push(first.1);
                while let Ok((app, line)) = rx.try_recv() {
                    batch.entry(app).or_default().push(line);
                }
                for (app, lines) in batch {
                    paas.app_log_append(app, &lines).await;
                }
            }
        });
    }

    /// Copies what every running instance printed into its app's log, every second.
    pub(crate) fn start_log_collector(&self) {
        let paas = self.clone();
        let started = nubo_core::now();
        tokio::spawn(async move {
            loop {
                paas.collect_consoles(started).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    async fn collect_consoles(&self, started: i64) {
        let owners: HashMap<i64, Oid> = self
            .read(|s| Ok(s.apps.values().map(|a| (a.id, a.uid)).collect()))
            .unwrap_or_default();
        let running: Vec<(i64, Oid, String, i64, Oid)> = self
            .core()
            .read(|s| {
                Ok(s.vms
                    .values()
                    .filter(|vm| vm.state == VmState::Active && vm.lcm_state == LcmState::Running)
                    .filter_map(|vm| {
                        let t = &vm.user_template;
                        let app: i64 = t.get("NUBO_APP")?.parse().ok()?;
                        // Only the app owner's containers write into its log.
                        if owners.get(&app) != Some(&vm.meta.uid) {
                            return None;
                        }
                        let source =
                            format!("app[{}.{}]", t.get("NUBO_PROCESS")?, t.get("NUBO_INDEX")?);
                        Some((app, vm.meta.id, source, vm.stime, vm.meta.uid))
                    })
                    .collect())
            })
            .unwrap_or_default();
        let live: std::collections::HashSet<Oid> = running.iter().map(|r| r.1).collect();
        if let Ok(mut c) = self.inner.consoles.lock() {
            c.read.retain(|vm, _| live.contains(vm));
        }
        for (app, vm, source, stime, uid) in running {
            let Ok(owner) = self.caller_of_uid(uid) else {
                continue;
            };
            let known = self
                .inner
                .consoles
                .lock()
                .ok()
                .and_then(|c| c.read.get(&vm).cloned());
            let (offset, partial) = match known {
                Some(k) => k,
                // An instance already running when this nubod started: its old output was
                // collected before; begin at its end.
                None if stime < started => match self
                    .core()
                    .vm_console(&owner, vm, nubo_driver::CONSOLE_TAIL)
                    .await
                {
                    Ok(chunk) => (chunk.next, String::new()),
                    Err(_) => continue,
                },
                None => (0, String::new()),
            };
            let Ok(chunk) = self.core().vm_console(&owner, vm, offset).await else {
                continue;
            };
            let mut text = partial;
            text.push_str(&String::from_utf8_lossy(&chunk.data));
            let now = SystemTime::now();
            let mut lines = Vec::new();
            let rest = match text.rfind('\n') {
                Some(i) => {
                    for l in text[..i].split('\n') {
                        lines.push(line(&source, l.trim_end_matches('\r'), now));
                    }
                    text[i + 1..].to_owned()
                }
                None => text,
            };
            let rest = if rest.len() > LINE_MAX {
                lines.push(line(&source, &rest, now));
                String::new()
            } else {
                rest
            };
            if let Ok(mut c) = self.inner.consoles.lock() {
                c.read.insert(vm, (chunk.next, rest));
            }
            self.app_log_append(app, &lines).await;
        }
    }
}

fn rotated(path: &Path) -> PathBuf {
    path.with_extension("log.1")
}

/// One log line: `<time> <source>: <text>\n`, the text cut to [`LINE_MAX`] bytes, without
/// control characters but tabs.
pub fn line(source: &str, text: &str, at: SystemTime) -> String {
    let mut cut: String = text
        .chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect();
    if cut.len() > LINE_MAX {
        let mut end = LINE_MAX;
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        cut.truncate(end);
    }
    format!("{} {source}: {cut}\n", timestamp(at))
}

/// `2026-12-07T08:00:00.123Z`.
fn timestamp(at: SystemTime) -> String {
    let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = nubo_core::calendar::civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        d.subsec_millis()
    )
}

/// The seconds since the epoch of a line's time.
fn line_time(l: &str) -> Option<i64> {
    let t = l.get(..19)?;
    let (y, m, d) = (
        t.get(0..4)?.parse().ok()?,
        t.get(5..7)?.parse().ok()?,
        t.get(8..10)?.parse().ok()?,
    );
    let (hh, mm, ss): (i64, i64, i64) = (
        t.get(11..13)?.parse().ok()?,
        t.get(14..16)?.parse().ok()?,
        t.get(17..19)?.parse().ok()?,
    );
    Some(nubo_core::calendar::days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Whether a stored line matches the query's time and source.
fn matches(l: &str, query: &LogQuery) -> bool {
    if let Some(since) = query.since
        && line_time(l).is_none_or(|t| t < since)
    {
        return false;
    }
    let Some(want) = &query.source else {
        return true;
    };
    let source = l
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .trim_end_matches(':');
    match want.as_str() {
        "router" | "nubo" => source == want,
        kind => source
            .strip_prefix("app[")
            .and_then(|s| s.strip_suffix(']'))
            .is_some_and(|inst| inst == kind || inst.split('.').next() == Some(kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_time_and_source_and_are_cleaned() {
        let at = UNIX_EPOCH + Duration::from_millis(1_796_630_400_123);
        let l = line("app[web.1]", "hello\u{1b}[31m\tred\r", at);
        assert_eq!(l, "2026-12-07T08:00:00.123Z app[web.1]: hello [31m\tred \n");
        assert_eq!(line_time(&l), Some(1_796_630_400));
        let long = line("router", &"é".repeat(LINE_MAX), at);
        assert!(long.len() < LINE_MAX + 64);
    }

    #[test]
    fn queries_pick_by_source_and_time() {
        let at = UNIX_EPOCH + Duration::from_secs(1_796_630_400);
        let web1 = line("app[web.1]", "a", at);
        let worker = line("app[worker.1]", "b", at);
        let router = line("router", "GET /", at);
        let q = |source: &str| LogQuery {
            source: Some(source.into()),
            ..LogQuery::default()
        };
        assert!(matches(&web1, &q("web")) && matches(&web1, &q("web.1")));
        assert!(!matches(&web1, &q("web.2")) && !matches(&worker, &q("web")));
        assert!(matches(&router, &q("router")) && !matches(&router, &q("web")));
        let since = |t| LogQuery {
            since: Some(t),
            ..LogQuery::default()
        };
        assert!(matches(&web1, &since(1_796_630_400)) && !matches(&web1, &since(1_796_630_401)));
    }
}
