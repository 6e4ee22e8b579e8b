//! `nubo app health`: when an app's instances count as up — list each process type's
//! health check, or set one (`--http PATH`, `--port`, `--process`, with `--timeout`) or put
//! it back to its default (`--default`), over `/apps/{app}/health-checks`.

use clap::{ArgGroup, Args};
use serde_json::{Value, json};

use super::{AppCtx, app_path, text};
use crate::output::rows;

/// `nubo app health APP [TYPE (--http PATH | --port | --process | --default) [--timeout S]]`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("check").args(["http", "port", "process", "default"]).requires("kind")))]
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
}

impl HealthArgs {
    /// Runs the command.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        let path = app_path(&self.app, "/health-checks");
        let Some(kind) = self.kind else {
            let shown = ctx.api.get(&path)?;
            return ctx.print(&shown, table);
        };
        let check = match (self.http, self.port, self.process) {
            _ if self.default => Value::Null,
            (Some(http), _, _) => json!({ "type": "http", "path": http }),
            (None, true, _) => json!({ "type": "port" }),
            _ => json!({ "type": "process" }),
        };
        let check = match (check, self.timeout) {
            (Value::Object(mut c), Some(timeout)) => {
                c.insert("timeout".into(), Value::from(timeout));
                Value::Object(c)
            }
            (check, _) => check,
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
            let check = match c["path"].as_str() {
                Some(path) => format!("{} {path}", text(&c["type"])),
                None => text(&c["type"]),
            };
            vec![kind.clone(), check, format!("{} s", text(&c["timeout"]))]
        })
        .collect();
    rows(&["TYPE", "CHECK", "TIMEOUT"], &table)
}
