//! `nubo app`: the PaaS from the command line, Heroku/Dokku-style, over the REST API
//! (`crate::rest`) rather than XML-RPC: apps, deploys and their logs (`deploy.rs`, with
//! directories packed by `pack.rs`), config vars and the process formation (`config.rs`),
//! health checks (`health.rs`), releases, builds and instances; one-off runs, process
//! actions, domains and the app's log (`ops.rs`); `ps`, `metrics` and `events`
//! (`metrics.rs`).
//!
//! Tables by default; `--json` prints the API's JSON as it came (listings of apps: every
//! page's items in one `{"items": [...]}`). Errors print the API's problem `detail`.

mod autoscale;
mod config;
mod deploy;
mod deployments;
mod health;
mod metrics;
mod ops;
mod pack;
mod rollback;
mod stack;
mod webhook;

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use nubo_client::env::Env;
use serde_json::{Value, json};

use crate::context::emit;
use crate::exit::usage_error;
use crate::flags::Global;
use crate::output::{date, rows};
use crate::rest::{Api, DEFAULT_API, segment};

/// `nubo app` and its flags.
#[derive(Debug, Args)]
pub struct AppArgs {
    /// The REST API's base URL (overrides NUBO_API; default http://127.0.0.1:8080/api/v1).
    #[arg(long, global = true, value_name = "URL")]
    api: Option<String>,
    /// The command.
    #[command(subcommand)]
    cmd: Cmd,
}

/// Apps on the PaaS.
#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create an app (its first release, v1, has no build yet).
    Create {
        /// Its name: 1 to 63 of a-z, 0-9 and -, starting with a letter.
        name: String,
        /// The stack it builds and runs on (default: the newest ACTIVE one).
        #[arg(long, value_name = "STACK")]
        stack: Option<String>,
    },
    /// List the apps you may see (--stack: only those on a stack, e.g. a DEPRECATED one).
    List {
        /// Only the apps on this stack.
        #[arg(long, value_name = "STACK")]
        stack: Option<String>,
    },
    /// Show an app: stack, current release, formation.
    Show(AppName),
    /// Delete an app and everything of it: builds, releases, instances, route.
    ///
    /// On a terminal it asks for the app's name first, unless --yes; otherwise (a script)
    /// it deletes without asking, as the other nouns' `delete` does.
    Delete {
        /// The app.
        app: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// Build the app from source and follow the build's log; a success makes a release.
    Deploy(deploy::DeployArgs),
    /// Scale process types: `nubo app scale shop web=3 worker=1` (0 stops a type).
    Scale {
        /// The app.
        app: String,
        /// TYPE=COUNT pairs.
        #[arg(required = true, value_name = "TYPE=COUNT")]
        counts: Vec<String>,
    },
    /// The app's instances: process, release, state, address, CPU, memory, restarts.
    Ps(AppName),
    /// The app's figures: per process type, instances desired and up, CPU, memory,
    /// requests per second, 5xx share, latency p50/p99, restarts (`--history N`: per
    /// minute over the last N minutes).
    Metrics(metrics::MetricsArgs),
    /// The app's events: builds, deployments, rollbacks, crashes, scaling, health changes.
    Events(metrics::EventsArgs),
    /// Config vars: list them, or `set`, `unset`, `get` them (changes make a release).
    Config(config::ConfigArgs),
    /// The app's releases, newest first.
    Releases(AppName),
    /// The app's builds, newest first.
    Builds(AppName),
    /// Roll back to an earlier release (`v3` or `3`; default: the previous one with a
    /// slug): a new release of its slug, process types and config vars, without a build.
    Rollback(rollback::RollbackArgs),
    /// The app's deployments (each release, restart and redeploy makes one), newest first.
    Deployments(AppName),
    /// Replace every instance of the current release, the old serving meanwhile
    /// (`--strategy rolling|recreate|canary`, `--max-in-flight N`, `--canary-percent P`).
    Redeploy(deployments::PolicyArgs),
    /// Cancel the deployment under way (or ID): the release it left gets its instances back.
    Cancel(deployments::DeploymentArg),
    /// Promote the canary under way (or ID): it goes on as a rolling deployment.
    Promote(deployments::DeploymentArg),
    /// How deployments go: show the app's rollout policy, or set it with the flags.
    Rollout(deployments::PolicyArgs),
    /// Autoscaling: list the policies, or set one — `nubo app autoscale shop web
    /// --requests 50 --min 1 --max 5`, `--cpu 60`, `--off`.
    Autoscale(autoscale::AutoscaleArgs),
    /// The app's log (its instances' output, the router's lines, the platform's events),
    /// or a build's log with --build.
    Logs(deploy::LogsArgs),
    /// Run a command in a fresh container of the current release: `nubo app run shop --
    /// python3 manage.py migrate`; exits with the command's status.
    Run(ops::RunArgs),
    /// Restart the app's processes (each instance replaced; the old serves until the new
    /// is up), all or one type.
    Restart(ProcessFlags),
    /// Stop the app's processes (their quantities kept), all or one type.
    Stop(ProcessFlags),
    /// Start stopped processes, all or one type.
    Start(ProcessFlags),
    /// The app's host names; `domains add APP HOST`, `domains remove APP HOST`.
    Domains(ops::DomainsArgs),
    /// When instances count as up: list the health checks, or set one — `nubo app health
    /// shop web --http /health --timeout 30`, `--port`, `--process`, `--default`.
    Health(health::HealthArgs),
    /// Auto-deploy: show the app's webhook, or set it — `nubo app webhook shop --git URL
    /// --branch main [--poll 60]`, `--rotate` (a new secret), `--delete`.
    Webhook(webhook::WebhookArgs),
    /// The stacks: list them, show one with the apps on it and the stack version each runs
    /// on; the oneadmin group patches one (`nubo app stack debian-12 --patch 2026.12.2
    /// --image 42`: every app on it rolls out on the new image, without a build) or changes
    /// its state (`--state DEPRECATED`).
    Stack(stack::StackArgs),
}

/// An app and, optionally, one of its process types.
#[derive(Debug, Args)]
struct ProcessFlags {
    /// The app.
    app: String,
    /// Only this process type.
    #[arg(long = "type", short = 't', value_name = "TYPE")]
    kind: Option<String>,
}

/// One app, named.
#[derive(Debug, Args)]
struct AppName {
    /// The app.
    app: String,
}

/// What every `nubo app` command runs with.
#[derive(Debug)]
pub(crate) struct AppCtx {
    /// The API.
    pub api: Api,
    /// Print JSON instead of tables.
    pub json: bool,
}

impl AppCtx {
    /// Prints `value` as JSON (pretty) when asked, else `human(value)`.
    pub fn print(&self, value: &Value, human: impl FnOnce(&Value) -> String) -> anyhow::Result<()> {
        if self.json {
            return emit(&serde_json::to_string_pretty(value)?);
        }
        emit(human(value).trim_end())
    }
}

/// `/apps/<app>` and what follows.
pub(crate) fn app_path(app: &str, rest: &str) -> String {
    format!("/apps/{}{rest}", segment(app))
}

/// Runs a `nubo app` command.
pub fn run(args: AppArgs, global: &Global) -> anyhow::Result<()> {
    if global.xml {
        return Err(usage_error(
            "the app commands speak the REST API, which answers JSON: use --json, not --xml",
        ));
    }
    if global.endpoint.is_some() {
        return Err(usage_error(
            "--endpoint is the XML-RPC endpoint; the app commands use the REST API: give --api URL or set NUBO_API",
        ));
    }
    let base = args
        .api
        .or_else(|| std::env::var("NUBO_API").ok())
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API.to_owned());
    let session = match (&global.user, &global.password) {
        (Some(user), Some(password)) => format!("{user}:{password}"),
        _ => Env::from_process().session()?,
    };
    let ctx = AppCtx {
        api: Api::new(&base, &session)?,
        json: global.json,
    };
    match args.cmd {
        Cmd::Create { name, stack } => create(&ctx, &name, stack),
        Cmd::List { stack } => list(&ctx, stack.as_deref()),
        Cmd::Show(a) => {
            let app = ctx.api.get(&app_path(&a.app, ""))?;
            ctx.print(&app, show_app)
        }
        Cmd::Delete { app, yes } => delete(&ctx, &app, yes),
        Cmd::Deploy(d) => d.run(&ctx),
        Cmd::Scale { app, counts } => config::scale(&ctx, &app, &counts),
        Cmd::Ps(a) => metrics::ps(&ctx, &a.app),
        Cmd::Metrics(m) => m.run(&ctx),
        Cmd::Events(e) => e.run(&ctx),
        Cmd::Config(c) => c.run(&ctx),
        Cmd::Releases(a) => releases(&ctx, &a.app),
        Cmd::Builds(a) => {
            let builds = ctx.api.get(&app_path(&a.app, "/builds"))?;
            ctx.print(&builds, builds_table)
        }
        Cmd::Deployments(a) => deployments::list(&ctx, &a.app),
        Cmd::Redeploy(p) => deployments::redeploy(&ctx, &p),
        Cmd::Cancel(d) => deployments::act(&ctx, "cancel", &d),
        Cmd::Promote(d) => deployments::act(&ctx, "promote", &d),
        Cmd::Rollout(p) => deployments::rollout(&ctx, &p),
        Cmd::Autoscale(a) => a.run(&ctx),
        Cmd::Rollback(r) => r.run(&ctx),
        Cmd::Logs(l) => l.run(&ctx),
        Cmd::Run(r) => r.run(&ctx),
        Cmd::Restart(p) => ops::processes(&ctx, "restart", &p.app, p.kind.as_deref()),
        Cmd::Stop(p) => ops::processes(&ctx, "stop", &p.app, p.kind.as_deref()),
        Cmd::Start(p) => ops::processes(&ctx, "start", &p.app, p.kind.as_deref()),
        Cmd::Domains(d) => d.run(&ctx),
        Cmd::Health(h) => h.run(&ctx),
        Cmd::Webhook(w) => w.run(&ctx),
        Cmd::Stack(s) => s.run(&ctx),
    }
}

fn create(ctx: &AppCtx, name: &str, stack: Option<String>) -> anyhow::Result<()> {
    let mut body = json!({ "name": name });
    if let Some(stack) = stack {
        body["stack"] = Value::from(stack);
    }
    let app = ctx.api.send_json("POST", "/apps", &body)?;
    ctx.print(&app, |a| {
        format!(
            "Created app {} on stack {} (release v{})",
            text(&a["name"]),
            text(&a["stack"]),
            text(&a["release"])
        )
    })
}

/// Every page of `/apps`.
fn list(ctx: &AppCtx, stack: Option<&str>) -> anyhow::Result<()> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    let on = stack.map_or(String::new(), |s| format!("&stack={}", segment(s)));
    loop {
        let path = match &after {
            Some(a) => format!("/apps?limit=500{on}&after={}", segment(a)),
            None => format!("/apps?limit=500{on}"),
        };
        let mut page = ctx.api.get(&path)?;
        if let Some(Value::Array(more)) = page.get_mut("items").map(Value::take) {
            items.extend(more);
        }
        match page.get("next").and_then(Value::as_str) {
            Some(next) if after.as_deref() != Some(next) => after = Some(next.to_owned()),
            _ => break,
        }
    }
    ctx.print(&json!({ "items": items }), |all| {
        let table: Vec<Vec<String>> = all["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|a| {
                vec![
                    text(&a["id"]),
                    text(&a["name"]),
                    text(&a["stack"]),
                    format!("v{}", text(&a["release"])),
                    formation(&a["formation"]),
                    date(&text(&a["updated_at"])),
                ]
            })
            .collect();
        rows(
            &["ID", "NAME", "STACK", "RELEASE", "FORMATION", "UPDATED"],
            &table,
        )
    })
}

/// `KEY : value` lines of an app.
fn show_app(a: &Value) -> String {
    let lines = [
        ("NAME", text(&a["name"])),
        ("ID", text(&a["id"])),
        ("STACK", text(&a["stack"])),
        ("RELEASE", format!("v{}", text(&a["release"]))),
        ("FORMATION", formation(&a["formation"])),
        ("OWNER", text(&a["owner_id"])),
        ("GROUP", text(&a["group_id"])),
        ("PERMISSIONS", text(&a["permissions"])),
        ("CREATED", date(&text(&a["created_at"]))),
        ("UPDATED", date(&text(&a["updated_at"]))),
    ];
    lines
        .iter()
        .map(|(k, v)| format!("{k:<11} : {v}").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn delete(ctx: &AppCtx, app: &str, yes: bool) -> anyhow::Result<()> {
    if !yes && std::io::stdin().is_terminal() {
        let mut err = std::io::stderr();
        write!(
            err,
            "Delete app {app} with its builds, releases and instances? Type its name to confirm: "
        )?;
        err.flush()?;
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("cannot read the answer")?;
        if answer.trim() != app {
            return Err(usage_error(format!(
                "not deleted: the answer was not {app:?}"
            )));
        }
    }
    ctx.api.delete(&app_path(app, ""))?;
    if ctx.json {
        return emit(&json!({ "deleted": app }).to_string());
    }
    emit(&format!("Deleted app {app}"))
}

fn releases(ctx: &AppCtx, app: &str) -> anyhow::Result<()> {
    let releases = ctx.api.get(&app_path(app, "/releases"))?;
    ctx.print(&releases, |all| {
        let table: Vec<Vec<String>> = items(all)
            .iter()
            .map(|r| {
                let current = if r["current"] == Value::Bool(true) {
                    "*"
                } else {
                    ""
                };
                vec![
                    format!("v{}{current}", text(&r["version"])),
                    text(&r["build_id"]),
                    date(&text(&r["created_at"])),
                    text(&r["description"]),
                ]
            })
            .collect();
        rows(&["VERSION", "BUILD", "CREATED", "DESCRIPTION"], &table)
    })
}

fn builds_table(all: &Value) -> String {
    let table: Vec<Vec<String>> = items(all)
        .iter()
        .map(|b| {
            let release = match &b["release"] {
                Value::Null => String::new(),
                v => format!("v{}", text(v)),
            };
            vec![
                text(&b["id"]),
                text(&b["status"]),
                source(b),
                text(&b["buildpack"]),
                release,
                date(&text(&b["created_at"])),
                text(&b["reason"]),
            ]
        })
        .collect();
    rows(
        &[
            "ID",
            "STATUS",
            "SOURCE",
            "BUILDPACK",
            "RELEASE",
            "CREATED",
            "REASON",
        ],
        &table,
    )
}

/// Where a build's source came from, in one cell.
fn source(build: &Value) -> String {
    if let Some(url) = build["source_url"].as_str() {
        return match build["source_ref"].as_str() {
            Some(r) => format!("{url}@{r}"),
            None => url.to_owned(),
        };
    }
    match build["source_archive"]["size"].as_u64() {
        Some(size) => format!("tarball ({size} bytes)"),
        None => String::new(),
    }
}

/// The elements of a JSON array (none for anything else).
pub(crate) fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A JSON scalar as text (`""` for null or absent).
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A formation as `web=1 worker=0`.
pub(crate) fn formation(value: &Value) -> String {
    value
        .as_object()
        .map(|f| {
            f.iter()
                .map(|(k, v)| format!("{k}={}", text(v)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::flags::Cli;
    use crate::nouns::Command;

    fn parse(args: &[&str]) -> Result<Cmd, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("nubo").chain(args.iter().copied()))?;
        match cli.command {
            Command::App(a) => Ok(a.cmd),
            other => panic!("not an app command: {other:?}"),
        }
    }

    #[test]
    fn command_lines() {
        assert!(matches!(
            parse(&["app", "config", "shop"]),
            Ok(Cmd::Config(_))
        ));
        assert!(parse(&["app", "config", "set", "shop", "A=1", "B=x y"]).is_ok());
        assert!(parse(&["app", "config", "set", "shop"]).is_err());
        assert!(parse(&["app", "config"]).is_err());
        assert!(parse(&["app", "deploy", "shop"]).is_err());
        assert!(parse(&["app", "deploy", "shop", "--git", "u", "--dir", "d"]).is_err());
        assert!(parse(&["app", "deploy", "shop", "--dir", "d"]).is_ok());
        assert!(parse(&["app", "scale", "shop"]).is_err());
        assert!(parse(&["app", "logs", "shop", "-f", "-n", "10", "--type", "web"]).is_ok());
        assert!(parse(&["app", "logs", "shop", "--build", "2", "--type", "web"]).is_err());
        let cli =
            Cli::try_parse_from(["nubo", "app", "list", "--api", "http://h/api/v1", "--json"])
                .expect("parse");
        assert!(cli.global.json);
    }

    #[test]
    fn cells() {
        assert_eq!(formation(&json!({"web": 2, "worker": 0})), "web=2 worker=0");
        assert_eq!(formation(&json!({})), "");
        assert_eq!(text(&json!(null)), "");
        assert_eq!(text(&json!("a")), "a");
        assert_eq!(text(&json!(3)), "3");
        assert_eq!(
            source(&json!({"source_url": "file:///r", "source_ref": "main"})),
            "file:///r@main"
        );
        assert_eq!(
            source(&json!({"source_archive": {"size": 10, "sha256": "x"}})),
            "tarball (10 bytes)"
        );
        assert_eq!(app_path("a b", "/builds"), "/apps/a%20b/builds");
    }

    #[test]
    fn tables_of_builds_and_apps() {
        let out = builds_table(&json!([
            {"id": 2, "status": "failed", "source_url": "file:///x", "reason": "cannot fetch\nthe source",
             "created_at": 0, "stack": "s"},
            {"id": 1, "status": "succeeded", "source_archive": {"size": 5, "sha256": "e"},
             "buildpack": "Python", "release": 2, "created_at": 86399, "stack": "s"},
        ]));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("ID  STATUS"), "{out}");
        assert!(lines[1].contains("cannot fetch the source"), "{out}");
        assert!(
            lines[2].contains("v2") && lines[2].contains("1970-01-01 23:59"),
            "{out}"
        );
        let shown = show_app(&json!({"name": "shop", "id": 1, "stack": "s", "release": 3,
            "formation": {"web": 1}, "created_at": 0, "updated_at": 0}));
        assert!(shown.contains("RELEASE     : v3"), "{shown}");
        assert!(shown.contains("FORMATION   : web=1"), "{shown}");
    }
}
