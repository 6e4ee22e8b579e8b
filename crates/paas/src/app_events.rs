//! An app's events feed: the platform's lines of its log (source `nubo`, written by
//! [`Paas::app_event`]) as a list of events, each with a type the text says ([`classify`]:
//! a build, a deployment, a rollback, a crash, scaling, a health change, a config change,
//! or something else), its time and the text. Read from the log, so the feed is as long
//! as the log keeps (two files of [`crate::app_logs::LOG_BOUND`] bytes) and survives a
//! restart of nubod.

use nubo_core::Caller;
use serde::Serialize;

use crate::Paas;
use crate::app_logs::{LINES_MAX, LogQuery};
use crate::error::{PaasError, Result};

/// How many events a read returns by default.
pub const EVENTS_DEFAULT: usize = 100;
/// The most events a read returns.
pub const EVENTS_MAX: usize = 1000;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// A build started, succeeded or failed, or a push or poll that did not build.
    Build,
    /// A deployment started, done, failed or cancelled, a canary promoted, a restart, an
    /// instance that could not start.
    Deploy,
    /// A release made by rolling back to an older one.
    Rollback,
    /// An instance whose process ended.
    Crash,
    /// The formation changed, or a process type was stopped or started.
    Scale,
    /// An instance failed or passed its health check again, or a check was set.
    Health,
    /// A release made by changing config vars.
    Config,
    /// Anything else (a slug deleted, …).
    Other,
}

impl EventType {
    /// The type's name, as the APIs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Build => "build",
            EventType::Deploy => "deploy",
            EventType::Rollback => "rollback",
            EventType::Crash => "crash",
            EventType::Scale => "scale",
            EventType::Health => "health",
            EventType::Config => "config",
            EventType::Other => "other",
        }
    }
}

/// One event of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppEvent {
    /// When (seconds since the epoch).
    pub time: i64,
    /// When, as the log wrote it (`2026-12-07T08:00:00.123Z`).
    pub at: String,
    /// What it is about.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// What happened, as the log says it.
    pub message: String,
}

impl Paas {
    /// The app's events, oldest first: the last `limit` (default [`EVENTS_DEFAULT`], at
    /// most [`EVENTS_MAX`]) from `since` (seconds since the epoch) on (USE).
    pub async fn app_events(
        &self,
        caller: &Caller,
        name: &str,
        since: Option<i64>,
        limit: Option<usize>,
    ) -> Result<Vec<AppEvent>> {
        let limit = limit.unwrap_or(EVENTS_DEFAULT);
        if limit == 0 || limit > EVENTS_MAX {
            return Err(PaasError::Invalid(format!("limit is 1 to {EVENTS_MAX}")));
        }
        let query = LogQuery {
            lines: Some(LINES_MAX),
            since,
            source: Some("nubo".to_owned()),
        };
        let (lines, _) = self.logs(caller, name, &query).await?;
        let mut events: Vec<AppEvent> = lines.iter().filter_map(|l| parse(l)).collect();
        let from = events.len().saturating_sub(limit);
        events.drain(..from);
        Ok(events)
    }
}

/// An event from a log line `<time> nubo: <text>`.
fn parse(line: &str) -> Option<AppEvent> {
    let (at, rest) = line.trim_end_matches('\n').split_once(' ')?;
    let message = rest.strip_prefix("nubo: ")?;
    Some(AppEvent {
        time: epoch_seconds(at)?,
        at: at.to_owned(),
        kind: classify(message),
        message: message.to_owned(),
    })
}

/// The seconds since the epoch of `2026-12-07T08:00:00.123Z`.
fn epoch_seconds(at: &str) -> Option<i64> {
    let (y, m, d) = (
        at.get(0..4)?.parse().ok()?,
        at.get(5..7)?.parse().ok()?,
        at.get(8..10)?.parse().ok()?,
    );
    let (hh, mm, ss): (i64, i64, i64) = (
        at.get(11..13)?.parse().ok()?,
        at.get(14..16)?.parse().ok()?,
        at.get(17..19)?.parse().ok()?,
    );
    Some(nubo_core::calendar::days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Whether `text` begins with an instance's label and a space (`web.1 `, `worker.12 `).
fn about_instance(text: &str) -> Option<&str> {
    let (label, rest) = text.split_once(' ')?;
    instance_label(label).then_some(rest)
}

/// Whether `label` names an instance: `TYPE.INDEX`.
fn instance_label(label: &str) -> bool {
    let Some((kind, index)) = label.rsplit_once('.') else {
        return false;
    };
    let kind_ok = !kind.is_empty()
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    kind_ok && !index.is_empty() && index.chars().all(|c| c.is_ascii_digit())
}

/// The type of an event from its text, as the PaaS writes them. Only the text's head is
/// looked at where it quotes what an instance printed or a check answered.
pub fn classify(text: &str) -> EventType {
    if let Some(rest) = about_instance(text) {
        if rest.starts_with("exited (crash ") {
            return EventType::Crash;
        }
        if rest.starts_with("failed its health check")
            || rest.starts_with("passes its health check")
        {
            return EventType::Health;
        }
    }
    if let Some(rest) = text.strip_prefix("Release v") {
        let head = rest.split_once(": ").map_or(rest, |(head, _)| head);
        if head.ends_with(" failed to start") {
            return EventType::Deploy;
        }
        if rest.contains(": rollback to v") {
            return EventType::Rollback;
        }
        if rest.contains(": config vars changed") {
            return EventType::Config;
        }
        return EventType::Other;
    }
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| text.starts_with(p));
    if starts(&["Rollback", "Rolled back"]) {
        return EventType::Rollback;
    }
    if starts(&["Build ", "Polling ", "the poll of "]) {
        return EventType::Build;
    }
    if starts(&[
        "Deployment ",
        "Canary of ",
        "Restarted ",
        "Redeploy",
        "cannot start ",
    ]) {
        return EventType::Deploy;
    }
    if starts(&[
        "Scaled to ",
        "Stopped ",
        "Started ",
        "Autoscaled ",
        "Autoscaling of ",
    ]) {
        return EventType::Scale;
    }
    // `instance shop-web-1-v2 is BOOT_FAILURE: starting another`.
    if text.starts_with("instance ") && text.contains("FAILURE: starting another") {
        return EventType::Health;
    }
    // `web.1's host 3 stopped answering: starting it elsewhere`.
    if text
        .split_once("'s host ")
        .is_some_and(|(label, rest)| instance_label(label) && rest.contains(" stopped answering"))
    {
        return EventType::Health;
    }
    if starts(&["Health check of "]) {
        return EventType::Health;
    }
    let head = text.split_once(": ").map_or(text, |(head, _)| head);
    if head.ends_with(" not built") {
        // `GitHub push of main not built: …`.
        return EventType::Build;
    }
    EventType::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_texts_get_their_types() {
        let cases = [
            ("Build 5 succeeded: release v6", EventType::Build),
            ("Build 5 failed: the build script failed", EventType::Build),
            (
                "Build 7 started by a GitHub push of main (3f2a1b2c3d4e)",
                EventType::Build,
            ),
            (
                "GitHub push of main not built: a build is under way",
                EventType::Build,
            ),
            (
                "Polling main of https://example.org/x.git failed: timed out",
                EventType::Build,
            ),
            (
                "the poll of main (3f2a1b2c3d4e) not built: quota",
                EventType::Build,
            ),
            (
                "Deployment 3 (rolling) of v4 started by alice",
                EventType::Deploy,
            ),
            ("Deployment 3 of v4 done", EventType::Deploy),
            (
                "Deployment 3 of v4 failed; v3 serves on: web.1 did not answer",
                EventType::Deploy,
            ),
            (
                "Deployment 3 of v4 cancelled by alice: v3 gets its instances back",
                EventType::Deploy,
            ),
            ("Deployment 3 cancelled: v3 serves again", EventType::Deploy),
            (
                "Canary of v4 promoted by alice: rolling on",
                EventType::Deploy,
            ),
            ("Restarted web by alice", EventType::Deploy),
            (
                "Release v4 failed to start: shop-web-1 did not pass its health check",
                EventType::Deploy,
            ),
            ("cannot start web.2: quota exceeded", EventType::Deploy),
            (
                "Release v7 created by alice: rollback to v3",
                EventType::Rollback,
            ),
            ("Rollback to v3", EventType::Rollback),
            (
                "web.1 exited (crash 4 in a row): starting it again in 30 s; its output ends: Build failed",
                EventType::Crash,
            ),
            (
                "worker_2.10 exited (crash 1 in a row): starting it again now",
                EventType::Crash,
            ),
            ("Scaled to web=2 by alice", EventType::Scale),
            (
                "Autoscaled web from 1 to 3 (9.50 requests/s for 2 requests/s per instance)",
                EventType::Scale,
            ),
            (
                "Autoscaling of web set by alice: 1 to 5 instances, 50 requests/s per instance",
                EventType::Scale,
            ),
            (
                "web.2's host 3 stopped answering: starting it elsewhere",
                EventType::Health,
            ),
            (
                "instance shop-web-1-v2 is BOOT_FAILURE: starting another",
                EventType::Health,
            ),
            ("Scaled to web=2 worker=1 by bob", EventType::Scale),
            ("Stopped worker by alice", EventType::Scale),
            ("Started all processes by alice", EventType::Scale),
            (
                "web.1 failed its health check (GET / answered 500): out of the routes until it passes again",
                EventType::Health,
            ),
            (
                "web.1 failed its health check 3 times in a row (last: refused): replacing it",
                EventType::Health,
            ),
            (
                "web.1 passes its health check again: back in the routes",
                EventType::Health,
            ),
            (
                "Health check of web set by alice: a new instance is up once it can answer",
                EventType::Health,
            ),
            (
                "Release v5 created by alice: config vars changed",
                EventType::Config,
            ),
            (
                "Slug of build 3 deleted: older than the newest 5 releases ([paas] releases_kept)",
                EventType::Other,
            ),
            ("something new", EventType::Other),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text), want, "{text}");
        }
    }

    #[test]
    fn log_lines_become_events() {
        let line = crate::app_logs::line(
            "nubo",
            "Scaled to web=2 by alice",
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_796_630_400_123),
        );
        let e = parse(&line).expect("an event");
        assert_eq!(e.time, 1_796_630_400);
        assert_eq!(e.at, "2026-12-07T08:00:00.123Z");
        assert_eq!(e.kind, EventType::Scale);
        assert_eq!(e.message, "Scaled to web=2 by alice");
        assert_eq!(parse("2026-12-07T08:00:00.123Z router: GET / 200"), None);
        assert_eq!(parse("garbage"), None);
        assert_eq!(
            serde_json::to_value(&e).expect("json")["type"],
            serde_json::json!("scale")
        );
    }
}
