//! `nubo app run`, `restart`/`stop`/`start`, `domains` and the app's log (`logs` without
//! `--build`): the PaaS's administration over the REST API.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{AppCtx, app_path};
use crate::context::emit;
use crate::exit::usage_error;
use crate::rest::{Followed, RestError, segment};

/// `nubo app run APP -- CMD...`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The app.
    app: String,
    /// The command and its arguments (after `--`), run in a fresh container of the app's
    /// current release, in /app, with its config vars.
    #[arg(required = true, last = true, value_name = "CMD")]
    command: Vec<String>,
}

impl RunArgs {
    /// Starts the run, prints its output as it comes, and exits with the command's status.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        let command: Vec<String> = self.command.iter().map(|w| quote(w)).collect();
        let run = ctx.api.send_json(
            "POST",
            &app_path(&self.app, "/runs"),
            &json!({ "command": command.join(" ") }),
        )?;
        let id = run["id"]
            .as_i64()
            .context("the API answered a run without an id")?;
        let log = app_path(&self.app, &format!("/runs/{id}/log"));
        let mut out: Box<dyn std::io::Write> = if ctx.json {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        };
        let mut offset = 0u64;
        let run_path = app_path(&self.app, &format!("/runs/{id}"));
        let done = loop {
            match ctx.api.follow(&log, offset, &mut out) {
                Ok(Followed::Closed) => return Ok(()),
                Ok(Followed::Ended(n))
                | Err((n, RestError::Transport { .. } | RestError::Foreign { .. })) => offset += n,
                Err((_, e)) => return Err(e.into()),
            }
            let run = ctx.api.get(&run_path)?;
            if matches!(run["status"].as_str(), Some("succeeded" | "failed")) {
                break run;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        };
        if ctx.json {
            emit(&serde_json::to_string_pretty(&done)?)?;
        }
        match (done["status"].as_str(), done["exit_code"].as_i64()) {
            (Some("succeeded"), _) => Ok(()),
            (_, Some(code)) => Err(crate::exit::GuestExit(code.clamp(1, 255) as i32).into()),
            _ => anyhow::bail!(
                "run {id} of {} failed: {}",
                self.app,
                done["reason"].as_str().unwrap_or("no reason given")
            ),
        }
    }
}

/// `s` as one POSIX shell word.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `nubo app restart|stop|start APP [--type T]`.
pub fn processes(ctx: &AppCtx, action: &str, app: &str, kind: Option<&str>) -> anyhow::Result<()> {
    let mut path = app_path(app, &format!("/processes/{action}"));
    if let Some(k) = kind {
        path.push_str(&format!("?type={}", segment(k)));
    }
    let shown = ctx.api.send_json("POST", &path, &json!({}))?;
    ctx.print(&shown, |_| {
        format!(
            "{} {} of {app}",
            match action {
                "restart" => "Restarting",
                "stop" => "Stopping",
                _ => "Starting",
            },
            kind.unwrap_or("every process type")
        )
    })
}

/// `nubo app domains …`.
#[derive(Debug, Args)]
pub struct DomainsArgs {
    /// The app (to list its host names).
    app: Option<String>,
    /// Add or remove a custom domain.
    #[command(subcommand)]
    cmd: Option<DomainsCmd>,
}

#[derive(Debug, Subcommand)]
enum DomainsCmd {
    /// Add a custom domain (point its DNS at the router).
    Add {
        /// The app.
        app: String,
        /// The host name, e.g. www.example.com.
        hostname: String,
    },
    /// Remove a custom domain.
    Remove {
        /// The app.
        app: String,
        /// The host name.
        hostname: String,
    },
}

impl DomainsArgs {
    /// Runs the command.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        match (self.cmd, self.app) {
            (Some(DomainsCmd::Add { app, hostname }), _) => {
                let shown = ctx.api.send_json(
                    "POST",
                    &app_path(&app, "/domains"),
                    &json!({ "hostname": hostname }),
                )?;
                ctx.print(&shown, domains_table)
            }
            (Some(DomainsCmd::Remove { app, hostname }), _) => {
                ctx.api
                    .delete(&app_path(&app, &format!("/domains/{}", segment(&hostname))))?;
                ctx.print(&json!({}), |_| format!("Removed {hostname} from {app}"))
            }
            (None, Some(app)) => {
                let shown = ctx.api.get(&app_path(&app, "/domains"))?;
                ctx.print(&shown, domains_table)
            }
            (None, None) => Err(usage_error("name the app: nubo app domains APP")),
        }
    }
}

fn domains_table(v: &Value) -> String {
    let mut out = String::new();
    if let Some(d) = v["default"].as_str() {
        out.push_str(&format!("{d} (default)\n"));
    }
    for d in v["custom"].as_array().into_iter().flatten() {
        out.push_str(d.as_str().unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The app's log (`GET /apps/{app}/logs`): its last lines, of a process type or instance,
/// and with `follow` what comes, until interrupted.
pub fn app_log(
    ctx: &AppCtx,
    app: &str,
    lines: Option<usize>,
    source: Option<&str>,
    follow: bool,
) -> anyhow::Result<()> {
    let mut query = format!("lines={}", lines.unwrap_or(100));
    if let Some(s) = source {
        query.push_str(&format!("&source={}", segment(s)));
    }
    if follow {
        query.push_str("&follow=true");
    }
    let path = format!("{}?{query}", app_path(app, "/logs"));
    let mut out = std::io::stdout();
    match ctx.api.stream(&path, &mut out) {
        Ok(_) => Ok(()),
        Err((_, e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(super::quote("python3"), "python3");
        assert_eq!(super::quote("a b"), "'a b'");
        assert_eq!(super::quote("it's"), "'it'\\''s'");
        assert_eq!(super::quote(""), "''");
        assert_eq!(super::quote("$HOME"), "'$HOME'");
    }
}
