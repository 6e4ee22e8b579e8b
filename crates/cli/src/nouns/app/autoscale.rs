//! `nubo app autoscale`: the app's autoscaling policies — list them, or set one for a
//! process type (`--min`, `--max`, and `--cpu PERCENT` or `--requests PER_SECOND` per
//! instance) or remove it (`--off`), over `/apps/{app}/autoscaling`.

use clap::{ArgGroup, Args};
use serde_json::{Value, json};

use super::{AppCtx, app_path, text};
use crate::output::rows;

/// `nubo app autoscale APP [TYPE (--cpu P | --requests R) --min N --max M | TYPE --off]`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").args(["cpu", "requests", "off"]).requires("kind")))]
pub struct AutoscaleArgs {
    /// The app.
    app: String,
    /// The process type to set (without one: list the policies).
    #[arg(value_name = "TYPE", requires = "target")]
    kind: Option<String>,
    /// Keep CPU at this percent of a core per instance.
    #[arg(long, value_name = "PERCENT", requires_all = ["min", "max"])]
    cpu: Option<u32>,
    /// Keep requests per second per instance at this (web only).
    #[arg(long, value_name = "PER_SECOND", requires_all = ["min", "max"])]
    requests: Option<u32>,
    /// The fewest instances.
    #[arg(long, value_name = "N")]
    min: Option<u32>,
    /// The most instances.
    #[arg(long, value_name = "N")]
    max: Option<u32>,
    /// Remove the type's policy (its instances stay as they are).
    #[arg(long, conflicts_with_all = ["min", "max"])]
    off: bool,
}

impl AutoscaleArgs {
    /// Runs the command.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        let path = app_path(&self.app, "/autoscaling");
        let Some(kind) = self.kind else {
            let shown = ctx.api.get(&path)?;
            return ctx.print(&shown, table);
        };
        let policy = match (self.cpu, self.requests) {
            _ if self.off => Value::Null,
            (Some(cpu), _) => {
                json!({"metric": "cpu", "target": cpu, "min": self.min, "max": self.max})
            }
            (None, Some(r)) => {
                json!({"metric": "requests", "target": r, "min": self.min, "max": self.max})
            }
            (None, None) => Value::Null,
        };
        let shown = ctx
            .api
            .send_json("PATCH", &path, &json!({ kind: policy }))?;
        ctx.print(&shown, table)
    }
}

/// TYPE, MIN, MAX, TARGET rows.
fn table(policies: &Value) -> String {
    let table: Vec<Vec<String>> = policies
        .as_object()
        .into_iter()
        .flatten()
        .map(|(kind, p)| {
            let target = match p["metric"].as_str() {
                Some("cpu") => format!("{}% CPU", text(&p["target"])),
                _ => format!("{} requests/s", text(&p["target"])),
            };
            vec![kind.clone(), text(&p["min"]), text(&p["max"]), target]
        })
        .collect();
    rows(&["TYPE", "MIN", "MAX", "TARGET PER INSTANCE"], &table)
}
