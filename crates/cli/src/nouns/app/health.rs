//! `nubo app health`: when an app's instances count as up — list each process type's
//! health check, or set one (`--http PATH [--status N]`, `--port`, `--process`,
//! `--command CMD`, with
//! `--timeout`, `--interval`, `--failures`) or put it back to its default (`--default`),
//! over `/apps/{app}/health-checks`.

use clap::{ArgGroup, Args};
use serde_json::{Value, json};

use super::{AppCtx, app_path, text};
use crate::output::rows;

/// `nubo app health APP [TYPE (--http PATH | --port | --process | --command CMD |
/// --default) [--timeout S]]`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("check").args(["http", "port", "process", "command", "default"]).requires("kind")))]
pub struct HealthArgs {
    /// The app.
    app: String,
    /// The process type to set (without one: list them all).
    #[arg(value_name = "TYPE", requires = "check")]
    kind: Option<String>,
    /// Up once `GET PATH` on $PORT answers 2xx (web only).
    #[arg(long, value_name = "PATH")]
    http: Option<String>,
    /// Up once $PORT accepts connections (web's default).
    #[arg(long)]
    port: bool,
    /// Up as soon as the process runs (the other types' default).
    #[arg(long)]
    process: bool,
    /// Up once CMD, run in the instance by /bin/sh -c with its environment, exits 0
    /// within 10 s (any type).
    #[arg(long, value_name = "CMD")]
    command: Option<String>,
    /// Back to the type's default.
    #[arg(long)]
    default: bool,
    /// Seconds a new instance has to pass (1 to 600; default 60).
    #[arg(
        long,
        value_name = "SECONDS",
        requires = "kind",
        conflicts_with = "default"
    )]
    timeout: Option<u32>,
    /// The status `--http` wants (default: any 2xx).
    #[arg(
        long,
        value_name = "STATUS",
        requires = "kind",
        conflicts_with = "default"
    )]
    status: Option<u16>,
    /// Seconds between checks of an instance that is up (1 to 600; default 2).
    #[arg(
        long,
        value_name = "SECONDS",
        requires = "kind",
        conflicts_with = "default"
    )]
    interval: Option<u32>,
    /// Failed checks in a row that replace an instance that was up (1 to 100; default 3).
    #[arg(long, value_name = "N", requires = "kind", conflicts_with = "default")]
    failures: Option<u32>,
}

impl HealthArgs {
    /// Runs the command.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        let path = app_path(&self.app, "/health-checks");
        let Some(kind) = self.kind else {
            let shown = ctx.api.get(&path)?;
            return ctx.print(&shown, table);
        };
        let check = match (self.http, self.command, self.port) {
            _ if self.default => Value::Null,
            (Some(http), _, _) => json!({ "type": "http", "path": http }),
            (None, Some(command), _) => json!({ "type": "command", "command": command }),
            (None, None, true) => json!({ "type": "port" }),
            _ => json!({ "type": "process" }),
        };
        let check = match check {
            Value::Object(mut c) => {
                let extra = [
                    ("timeout", self.timeout),
                    ("interval", self.interval),
                    ("failures", self.failures),
                    ("status", self.status.map(u32::from)),
                ];
                for (key, value) in extra {
                    if let Some(value) = value {
                        c.insert(key.into(), Value::from(value));
                    }
                }
                Value::Object(c)
            }
            check => check,
        };
        let shown = ctx.api.send_json("PATCH", &path, &json!({ kind: check }))?;
        ctx.print(&shown, table)
    }
}

/// TYPE, CHECK, TIMEOUT rows.
fn table(checks: &Value) -> String {
    let table: Vec<Vec<String>> = checks
        .as_object()
        .into_iter()
        .flatten()
        .map(|(kind, c)| {
            let check = match (c["path"].as_str(), c["command"].as_str()) {
                (Some(path), _) => format!("{} {path}", text(&c["type"])),
                (None, Some(command)) => format!("{} {command}", text(&c["type"])),
                (None, None) => text(&c["type"]),
            };
            let check = match c["status"].as_u64() {
                Some(status) => format!("{check} = {status}"),
                None => check,
            };
            vec![
                kind.clone(),
                check,
                format!("{} s", text(&c["timeout"])),
                format!("{} s", text(&c["interval"])),
                text(&c["failures"]),
            ]
        })
        .collect();
    rows(
        &["TYPE", "CHECK", "TIMEOUT", "INTERVAL", "FAILURES"],
        &table,
    )
}
