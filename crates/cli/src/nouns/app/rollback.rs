//! `nubo app rollback APP [vN|N]`: a new release that runs release N's slug with its
//! process types and config vars (by default the release before the current one that has
//! a slug), over `POST /apps/{app}/rollback`; prints the new release.

use clap::Args;
use serde_json::{Value, json};

use super::{AppCtx, app_path, text};
use crate::exit::usage_error;

/// `nubo app rollback APP [VERSION]`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The app.
    app: String,
    /// The release to go back to, `v3` or `3` (default: the release before the current
    /// one that has a slug).
    #[arg(value_name = "VERSION")]
    release: Option<String>,
}

impl RollbackArgs {
    /// Asks for the rollback and prints the release it made.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        let body = match self.release.as_deref() {
            Some(v) => json!({ "release": version(v)? }),
            None => json!({}),
        };
        let release = ctx
            .api
            .send_json("POST", &app_path(&self.app, "/rollback"), &body)?;
        ctx.print(&release, |r| made(&self.app, r))
    }
}

/// `v3` or `3` as 3.
fn version(text: &str) -> anyhow::Result<u32> {
    let digits = text.strip_prefix(['v', 'V']).unwrap_or(text);
    digits
        .parse::<u32>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| usage_error(format!("{text:?} is no release: give vN or N, e.g. v3")))
}

/// `Rolled back shop: release v7 (Rollback to v3), build 2`.
fn made(app: &str, release: &Value) -> String {
    let build = match &release["build_id"] {
        Value::Null => String::new(),
        b => format!(", build {}", text(b)),
    };
    format!(
        "Rolled back {app}: release v{} ({}){build}",
        text(&release["version"]),
        text(&release["description"])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        use clap::Parser;
        for args in [&["shop"][..], &["shop", "v3"]] {
            let line = ["nubo", "app", "rollback"].iter().chain(args);
            assert!(crate::flags::Cli::try_parse_from(line).is_ok(), "{args:?}");
        }
        let extra = ["nubo", "app", "rollback", "shop", "v3", "v4"];
        assert!(crate::flags::Cli::try_parse_from(extra).is_err());
    }

    #[test]
    fn versions_are_vn_or_n() {
        assert_eq!(version("v3").expect("v3"), 3);
        assert_eq!(version("12").expect("12"), 12);
        for bad in ["", "v", "v0", "-1", "three", "v3.1"] {
            assert!(version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_new_release_in_one_line() {
        let r = json!({"version": 7, "description": "Rollback to v3", "build_id": 2});
        assert_eq!(
            made("shop", &r),
            "Rolled back shop: release v7 (Rollback to v3), build 2"
        );
    }
}
