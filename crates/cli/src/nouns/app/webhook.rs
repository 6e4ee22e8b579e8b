//! `nubo app webhook`: auto-deploy over `/apps/{app}/webhook` — show the app's webhook, set
//! the repository and branch it builds on a push (`--git`, `--branch`, `--poll`), give it a
//! new secret (`--rotate`) or remove it (`--delete`). A secret is printed only by the
//! command that made it.

use clap::{ArgGroup, Args};
use serde_json::{Value, json};

use super::{AppCtx, app_path, text};
use crate::context::emit;
use crate::rest::RestError;

/// `nubo app webhook APP [--git URL] [--branch B] [--poll S | --no-poll] | --rotate | --delete`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("action").args(["rotate", "delete"]).conflicts_with_all(["git", "branch", "poll", "no_poll"])))]
pub struct WebhookArgs {
    /// The app.
    app: String,
    /// The repository to build on a push (file://, http(s)://, git://); needed to make one.
    #[arg(long, value_name = "URL")]
    git: Option<String>,
    /// The branch to follow (default: main for a new webhook; pushes to others are ignored).
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,
    /// Also look at the branch's head every SECONDS (10 to 86400) and build a new one.
    #[arg(long, value_name = "SECONDS", conflicts_with = "no_poll")]
    poll: Option<u32>,
    /// Stop polling.
    #[arg(long)]
    no_poll: bool,
    /// Give the webhook a new secret (printed once; the old one is refused at once).
    #[arg(long)]
    rotate: bool,
    /// Remove the webhook: deliveries are refused, polling stops.
    #[arg(long)]
    delete: bool,
}

impl WebhookArgs {
    /// Runs the command.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        let path = app_path(&self.app, "/webhook");
        let delivery = format!("{}{path}", ctx.api.base());
        if self.delete {
            ctx.api.delete(&path)?;
            return emit(&format!("Removed the webhook of {}", self.app));
        }
        if self.rotate {
            let shown =
                ctx.api
                    .send_json("POST", &app_path(&self.app, "/webhook/rotate"), &json!({}))?;
            return ctx.print(&shown, |w| show(w, &delivery));
        }
        if self.git.is_none() && self.branch.is_none() && self.poll.is_none() && !self.no_poll {
            let shown = ctx.api.get(&path)?;
            return ctx.print(&shown, |w| show(w, &delivery));
        }
        let current = match ctx.api.get(&path) {
            Ok(current) => current,
            Err(RestError::Problem { status: 404, .. }) if self.git.is_some() => Value::Null,
            Err(e) => return Err(e.into()),
        };
        let url = self.git.unwrap_or_else(|| text(&current["url"]));
        let branch = self
            .branch
            .or_else(|| current["branch"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "main".to_owned());
        let poll = match (self.poll, self.no_poll) {
            (Some(seconds), _) => Value::from(seconds),
            (None, true) => Value::Null,
            (None, false) => current["poll_interval"].clone(),
        };
        let body = json!({ "url": url, "branch": branch, "poll_interval": poll });
        let shown = ctx.api.send_json("PUT", &path, &body)?;
        ctx.print(&shown, |w| show(w, &delivery))
    }
}

/// The webhook as lines of `name: value`, with the secret when the answer holds it.
fn show(hook: &Value, delivery: &str) -> String {
    let poll = match hook["poll_interval"].as_u64() {
        Some(s) => format!("every {s} s"),
        None => "off".to_owned(),
    };
    let mut lines = vec![
        format!("Delivery URL:  {delivery}"),
        format!("Repository:    {}", text(&hook["url"])),
        format!("Branch:        {}", text(&hook["branch"])),
        format!("Polling:       {poll}"),
        format!("Last commit:   {}", text(&hook["last_commit"])),
        format!("Last build:    {}", text(&hook["last_build"])),
    ];
    if !hook["pending"].is_null() {
        lines.push(format!("Pending:       {}", text(&hook["pending"])));
    }
    if let Some(secret) = hook["secret"].as_str() {
        lines.push(format!("Secret:        {secret}"));
        lines.push(
            "(shown this once: give it to GitHub, GitLab or Gitea as the webhook's secret)"
                .to_owned(),
        );
    }
    lines.join("\n")
}
