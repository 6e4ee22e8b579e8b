//! An app's monitoring from the command line: `nubo app metrics APP` (per process type:
//! instances desired and up, CPU, memory, requests per second, 5xx share, latency p50 and
//! p99, restarts; `--history N` per minute over the last N minutes), `nubo app events APP`
//! (builds, deployments, rollbacks, crashes, scaling, health changes) and `nubo app ps`
//! (instances, with their CPU, memory and restarts), over `/apps/{app}/metrics`,
//! `…/metrics/history`, `…/events` and `…/instances`.

use clap::Args;
use serde_json::Value;

use super::{AppCtx, app_path, items, text};
use crate::output::{date, rows};
use crate::rest::segment;

/// `nubo app metrics APP`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The app.
    app: String,
    /// Per minute over the last so many minutes (1 to 1440) instead of now.
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(1..=1440))]
    history: Option<u32>,
}

impl MetricsArgs {
    /// Prints the app's figures now, or its history.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        match self.history {
            Some(minutes) => {
                let path = app_path(&self.app, &format!("/metrics/history?minutes={minutes}"));
                let points = ctx.api.get(&path)?;
                ctx.print(&points, history_table)
            }
            None => {
                let m = ctx.api.get(&app_path(&self.app, "/metrics"))?;
                ctx.print(&m, metrics_table)
            }
        }
    }
}

/// `nubo app events APP`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The app.
    app: String,
    /// The last so many events (1 to 1000, default 100).
    #[arg(long, short = 'n', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: Option<u32>,
    /// Only events from this time on (seconds since the epoch).
    #[arg(long, value_name = "EPOCH")]
    since: Option<i64>,
}

impl EventsArgs {
    /// Prints the app's events, oldest first.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        let mut query = Vec::new();
        if let Some(n) = self.limit {
            query.push(format!("limit={n}"));
        }
        if let Some(t) = self.since {
            query.push(format!("since={}", segment(&t.to_string())));
        }
        let rest = if query.is_empty() {
            "/events".to_owned()
        } else {
            format!("/events?{}", query.join("&"))
        };
        let events = ctx.api.get(&app_path(&self.app, &rest))?;
        ctx.print(&events, events_table)
    }
}

/// `nubo app ps APP`: the instances, with what each uses (from `/metrics`; blank cells
/// when it cannot be read). `--json` prints `/instances` as it came.
pub(crate) fn ps(ctx: &AppCtx, app: &str) -> anyhow::Result<()> {
    let instances = ctx.api.get(&app_path(app, "/instances"))?;
    if ctx.json {
        return ctx.print(&instances, |_| String::new());
    }
    let metrics = ctx
        .api
        .get(&app_path(app, "/metrics"))
        .unwrap_or(Value::Null);
    ctx.print(&instances, |all| ps_table(all, &metrics))
}

fn ps_table(instances: &Value, metrics: &Value) -> String {
    let usage = |name: &Value| {
        items(&metrics["instances"])
            .iter()
            .find(|m| m["name"] == *name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let table: Vec<Vec<String>> = items(instances)
        .iter()
        .map(|i| {
            let m = usage(&i["name"]);
            vec![
                text(&i["name"]),
                text(&i["type"]),
                format!("v{}", text(&i["release"])),
                text(&i["state"]),
                text(&i["ip"]),
                text(&i["vm_id"]),
                cpu(&m["cpu_percent"]),
                memory(&m["memory_bytes"]),
                dash(&m["restarts"]),
                text(&i["reason"]),
            ]
        })
        .collect();
    rows(
        &[
            "NAME", "TYPE", "RELEASE", "STATE", "IP", "VM", "CPU", "MEM", "RESTARTS", "REASON",
        ],
        &table,
    )
}

/// Per process type and in all, with the request figures of `web`.
fn metrics_table(m: &Value) -> String {
    let line = |kind: String, t: &Value, r: &Value| {
        vec![
            kind,
            text(&t["desired"]),
            text(&t["up"]),
            cpu(&t["cpu_percent"]),
            memory(&t["memory_bytes"]),
            rate(&r["requests_per_second"]),
            share(r),
            ms(&r["latency_p50_ms"]),
            ms(&r["latency_p99_ms"]),
            text(&t["restarts"]),
        ]
    };
    let mut table: Vec<Vec<String>> = items(&m["process_types"])
        .iter()
        .map(|t| line(text(&t["process_type"]), t, &t["requests"]))
        .collect();
    table.push(line("(all)".to_owned(), m, &m["requests"]));
    rows(
        &[
            "TYPE", "DESIRED", "UP", "CPU", "MEM", "REQ/S", "5XX", "P50", "P99", "RESTARTS",
        ],
        &table,
    )
}

/// One line per point, oldest first.
fn history_table(points: &Value) -> String {
    let table: Vec<Vec<String>> = items(points)
        .iter()
        .map(|p| {
            let r = &p["requests"];
            vec![
                date(&text(&p["at"])),
                text(&r["requests"]),
                rate(&r["requests_per_second"]),
                share(r),
                ms(&r["latency_p50_ms"]),
                ms(&r["latency_p99_ms"]),
                cpu(&p["cpu_percent"]),
                memory(&p["memory_bytes"]),
                format!("{}/{}", text(&p["up"]), text(&p["desired"])),
            ]
        })
        .collect();
    rows(
        &[
            "MINUTE", "REQUESTS", "REQ/S", "5XX", "P50", "P99", "CPU", "MEM", "UP",
        ],
        &table,
    )
}

fn events_table(events: &Value) -> String {
    let table: Vec<Vec<String>> = items(events)
        .iter()
        .map(|e| {
            vec![
                date(&text(&e["time"])),
                text(&e["type"]),
                text(&e["message"]),
            ]
        })
        .collect();
    rows(&["TIME", "TYPE", "MESSAGE"], &table)
}

/// A cell that is never blank (tables are split on runs of spaces).
fn dash(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        v => text(v),
    }
}

/// `12.5%` of a core.
fn cpu(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%"))
}

/// `41.3M`, `1.2G`, `512K`.
fn memory(v: &Value) -> String {
    let Some(b) = v.as_f64() else {
        return "-".to_owned();
    };
    const K: f64 = 1024.0;
    if b >= K * K * K {
        format!("{:.1}G", b / (K * K * K))
    } else if b >= K * K {
        format!("{:.1}M", b / (K * K))
    } else {
        format!("{:.0}K", b / K)
    }
}

fn rate(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"))
}

/// The 5xx share of `requests`, `-` without requests.
fn share(requests: &Value) -> String {
    match (
        requests["requests"].as_u64(),
        requests["error_share"].as_f64(),
    ) {
        (Some(n), Some(s)) if n > 0 => format!("{:.1}%", s * 100.0),
        _ => "-".to_owned(),
    }
}

fn ms(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_owned(), |t| format!("{t:.1}ms"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_metrics_table_has_a_line_per_type_and_one_in_all() {
        let m = json!({
            "desired": 3, "up": 2, "cpu_percent": 3.25, "memory_bytes": 94_371_840u64,
            "restarts": 1,
            "requests": {"requests": 200, "requests_per_second": 1.5, "error_share": 0.1,
                         "latency_p50_ms": 4.2, "latency_p99_ms": 120.0},
            "process_types": [
                {"process_type": "web", "desired": 2, "up": 2, "cpu_percent": 3.0,
                 "memory_bytes": 62_914_560u64, "restarts": 0,
                 "requests": {"requests": 200, "requests_per_second": 1.5, "error_share": 0.1,
                              "latency_p50_ms": 4.2, "latency_p99_ms": 120.0}},
                {"process_type": "worker", "desired": 1, "up": 0, "cpu_percent": 0.3,
                 "memory_bytes": 31_457_280u64, "restarts": 1}
            ]
        });
        let out = metrics_table(&m);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("TYPE"), "{out}");
        let web: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            web,
            [
                "web", "2", "2", "3.0%", "60.0M", "1.50", "10.0%", "4.2ms", "120.0ms", "0"
            ]
        );
        let worker: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            worker,
            ["worker", "1", "0", "0.3%", "30.0M", "-", "-", "-", "-", "1"]
        );
        assert!(lines[3].starts_with("(all)"), "{out}");
    }

    #[test]
    fn ps_shows_what_instances_use_and_dashes_when_unknown() {
        let instances = json!([
            {"name": "a-web-1", "type": "web", "release": 2, "state": "up", "ip": "10.0.0.2",
             "vm_id": 7},
            {"name": "a-web-2", "type": "web", "release": 2, "state": "starting", "ip": "10.0.0.3",
             "vm_id": 8}
        ]);
        let metrics = json!({"instances": [
            {"name": "a-web-1", "cpu_percent": 1.26, "memory_bytes": 2048, "restarts": 3}
        ]});
        let out = ps_table(&instances, &metrics);
        let lines: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines[0],
            [
                "NAME", "TYPE", "RELEASE", "STATE", "IP", "VM", "CPU", "MEM", "RESTARTS", "REASON"
            ]
        );
        assert_eq!(
            lines[1],
            [
                "a-web-1", "web", "v2", "up", "10.0.0.2", "7", "1.3%", "2K", "3"
            ]
        );
        assert_eq!(
            lines[2],
            [
                "a-web-2", "web", "v2", "starting", "10.0.0.3", "8", "-", "-", "-"
            ]
        );
    }

    #[test]
    fn events_are_time_type_and_message() {
        let out = events_table(&json!([
            {"time": 1_796_630_400, "type": "scale", "message": "Scaled to web=2 by alice"}
        ]));
        assert!(
            out.contains("scale") && out.contains("Scaled to web=2 by alice"),
            "{out}"
        );
        assert!(out.lines().next().is_some_and(|h| h.starts_with("TIME")));
    }
}
