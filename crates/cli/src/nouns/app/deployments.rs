//! `nubo app deployments`, `redeploy`, `cancel`, `promote` and `rollout`: how an app moves
//! from one release to the next — its deployments and their state, a redeploy of the
//! current release, cancelling the deployment under way (the old release gets its instances
//! back), promoting a canary, and the app's rollout policy — over `/apps/{app}/deployments`
//! and `/apps/{app}/rollout`.

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

use super::{AppCtx, app_path, items, text};
use crate::output::{date, rows};

/// A strategy, as the API names it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StrategyArg {
    /// A few new instances at a time, each old one stopped once its successor is up.
    Rolling,
    /// Every old instance stopped, then the new ones started.
    Recreate,
    /// One new web instance takes a share of the requests until promoted.
    Canary,
}

impl StrategyArg {
    fn as_str(self) -> &'static str {
        match self {
            StrategyArg::Rolling => "rolling",
            StrategyArg::Recreate => "recreate",
            StrategyArg::Canary => "canary",
        }
    }
}

/// `--strategy`, `--max-in-flight`, `--canary-percent`.
#[derive(Debug, Args)]
pub struct PolicyFlags {
    /// How instances are replaced.
    #[arg(long, value_enum)]
    strategy: Option<StrategyArg>,
    /// New instances of a process type started at once (1 to 100).
    #[arg(long, value_name = "N")]
    max_in_flight: Option<u32>,
    /// The share of requests a canary takes (1 to 99).
    #[arg(long, value_name = "PERCENT")]
    canary_percent: Option<u8>,
}

impl PolicyFlags {
    /// The flags given, as the API's JSON.
    fn body(&self) -> Value {
        let mut body = Map::new();
        if let Some(s) = self.strategy {
            body.insert("strategy".into(), Value::from(s.as_str()));
        }
        if let Some(n) = self.max_in_flight {
            body.insert("max_in_flight".into(), Value::from(n));
        }
        if let Some(p) = self.canary_percent {
            body.insert("canary_percent".into(), Value::from(p));
        }
        Value::Object(body)
    }

    fn is_empty(&self) -> bool {
        self.strategy.is_none() && self.max_in_flight.is_none() && self.canary_percent.is_none()
    }
}

/// `nubo app redeploy APP [policy flags]` and `nubo app rollout APP [policy flags]`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The app.
    app: String,
    /// How it goes.
    #[command(flatten)]
    flags: PolicyFlags,
}

/// `nubo app cancel|promote APP [ID]`.
#[derive(Debug, Args)]
pub struct DeploymentArg {
    /// The app.
    app: String,
    /// The deployment (default: the one under way).
    id: Option<i64>,
}

/// The app's deployments, newest first.
pub(crate) fn list(ctx: &AppCtx, app: &str) -> anyhow::Result<()> {
    let all = ctx.api.get(&app_path(app, "/deployments"))?;
    ctx.print(&all, table)
}

/// Redeploys the current release.
pub(crate) fn redeploy(ctx: &AppCtx, args: &PolicyArgs) -> anyhow::Result<()> {
    let path = app_path(&args.app, "/deployments");
    let shown = ctx.api.send_json("POST", &path, &args.flags.body())?;
    ctx.print(&shown, |d| table(&Value::Array(vec![d.clone()])))
}

/// Shows or changes the rollout policy.
pub(crate) fn rollout(ctx: &AppCtx, args: &PolicyArgs) -> anyhow::Result<()> {
    let path = app_path(&args.app, "/rollout");
    let shown = if args.flags.is_empty() {
        ctx.api.get(&path)?
    } else {
        ctx.api.send_json("PATCH", &path, &args.flags.body())?
    };
    ctx.print(&shown, |p| {
        rows(
            &["STRATEGY", "MAX IN FLIGHT", "CANARY"],
            &[vec![
                text(&p["strategy"]),
                text(&p["max_in_flight"]),
                format!("{}%", text(&p["canary_percent"])),
            ]],
        )
    })
}

/// Cancels (`cancel`) or promotes (`promote`) a deployment, by default the one under way.
pub(crate) fn act(ctx: &AppCtx, action: &str, args: &DeploymentArg) -> anyhow::Result<()> {
    let id = match args.id {
        Some(id) => id,
        None => {
            let all = ctx.api.get(&app_path(&args.app, "/deployments"))?;
            items(&all)
                .iter()
                .find(|d| d["state"] == "DEPLOYING")
                .and_then(|d| d["id"].as_i64())
                .with_context(|| format!("app {} has no deployment under way", args.app))?
        }
    };
    let path = app_path(&args.app, &format!("/deployments/{id}/{action}"));
    let shown = ctx
        .api
        .send_json("POST", &path, &Value::Object(Map::new()))?;
    ctx.print(&shown, |d| table(&Value::Array(vec![d.clone()])))
}

/// ID, RELEASE, STRATEGY, STATE, CREATED, REASON rows.
fn table(all: &Value) -> String {
    let table: Vec<Vec<String>> = items(all)
        .iter()
        .map(|d| {
            let from = match d["from_release"].as_u64() {
                Some(0) | None => String::new(),
                Some(v) => format!("v{v} → "),
            };
            vec![
                text(&d["id"]),
                format!("{from}v{}", text(&d["release"])),
                text(&d["rollout"]["strategy"]),
                text(&d["state"]),
                date(&text(&d["created_at"])),
                text(&d["cause"]),
                text(&d["reason"]),
            ]
        })
        .collect();
    rows(
        &[
            "ID", "RELEASE", "STRATEGY", "STATE", "CREATED", "CAUSE", "REASON",
        ],
        &table,
    )
}
