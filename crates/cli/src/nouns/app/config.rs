//! `nubo app config` (list, set, unset, get) and `nubo app scale`: the two PATCHes of an
//! app, config vars (`null` removes one) and the process formation.
//!
//! Values are taken exactly as the shell hands them over: `KEY=VALUE` splits at the first
//! `=`, so values may hold `=`, spaces, quotes and newlines. The listing prints
//! `KEY=VALUE` lines with values quoted for a POSIX shell where needed, so that every
//! value, even a multi-line one, reads back unambiguously.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use super::{AppCtx, app_path, formation, text};
use crate::context::emit;
use crate::exit::usage_error;

/// `nubo app config APP` or one of its subcommands.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ConfigArgs {
    /// What to do (without one: list the app's config vars).
    #[command(subcommand)]
    action: Option<ConfigCmd>,
    /// The app whose config vars to list.
    #[arg(required = true)]
    app: Option<String>,
}

/// Changing and reading config vars.
#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Set config vars: KEY=VALUE (the value may hold =, spaces and newlines); makes a
    /// release.
    Set {
        /// The app.
        app: String,
        /// KEY=VALUE pairs.
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
    /// Remove config vars; makes a release.
    Unset {
        /// The app.
        app: String,
        /// The names to remove.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Print one config var's value exactly (no quoting), for scripts.
    Get {
        /// The app.
        app: String,
        /// The name.
        key: String,
    },
}

impl ConfigArgs {
    /// Runs the command.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        match (self.action, self.app) {
            (Some(ConfigCmd::Set { app, pairs }), _) => {
                let mut patch = Map::new();
                for (key, value) in parse_pairs(&pairs)? {
                    patch.insert(key, Value::from(value));
                }
                change(ctx, &app, patch)
            }
            (Some(ConfigCmd::Unset { app, keys }), _) => {
                let mut patch = Map::new();
                for key in keys {
                    if key.is_empty() || key.contains('=') {
                        return Err(usage_error(format!(
                            "{key:?} is not a config var name (unset takes names, not KEY=VALUE)"
                        )));
                    }
                    patch.insert(key, Value::Null);
                }
                change(ctx, &app, patch)
            }
            (Some(ConfigCmd::Get { app, key }), _) => {
                let vars = ctx.api.get(&app_path(&app, "/config-vars"))?;
                match vars.get(&key) {
                    Some(value) if ctx.json => emit(&value.to_string()),
                    Some(value) => emit(&text(value)),
                    None => Err(anyhow::anyhow!("app {app} has no config var {key}")),
                }
            }
            (None, Some(app)) => {
                let vars = ctx.api.get(&app_path(&app, "/config-vars"))?;
                ctx.print(&vars, listing)
            }
            (None, None) => Err(usage_error("name the app: nubo app config APP")),
        }
    }
}

/// Sends a config-vars patch; prints the vars as they are now.
fn change(ctx: &AppCtx, app: &str, patch: Map<String, Value>) -> anyhow::Result<()> {
    let vars = ctx.api.send_json(
        "PATCH",
        &app_path(app, "/config-vars"),
        &Value::Object(patch),
    )?;
    if ctx.json {
        return ctx.print(&vars, listing);
    }
    let release = ctx.api.get(&app_path(app, ""))?;
    let mut out = format!(
        "Config vars of {app} (release v{}):\n",
        text(&release["release"])
    );
    out.push_str(&listing(&vars));
    emit(out.trim_end())
}

/// `KEY=VALUE` lines, values quoted for a shell where needed.
fn listing(vars: &Value) -> String {
    vars.as_object()
        .map(|vars| {
            vars.iter()
                .map(|(k, v)| format!("{k}={}", shell_words::quote(&text(v))))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// `KEY=VALUE` arguments, split at the first `=`; a key given twice is refused.
fn parse_pairs(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(usage_error(format!(
                "{pair:?} is not KEY=VALUE (to remove a var: nubo app config unset APP KEY)"
            )));
        };
        if key.is_empty() {
            return Err(usage_error(format!("{pair:?} has no name before the =")));
        }
        if out.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(usage_error(format!("{key} is given twice")));
        }
    }
    Ok(out)
}

/// `TYPE=COUNT` arguments.
fn parse_counts(counts: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for pair in counts {
        let parsed = pair
            .split_once('=')
            .filter(|(kind, _)| !kind.is_empty())
            .and_then(|(kind, n)| n.trim().parse::<u32>().ok().map(|n| (kind, n)));
        let Some((kind, n)) = parsed else {
            return Err(usage_error(format!(
                "{pair:?} is not TYPE=COUNT, e.g. web=2 (a whole number, 0 to stop the type)"
            )));
        };
        if out.insert(kind.to_owned(), Value::from(n)).is_some() {
            return Err(usage_error(format!("{kind} is given twice")));
        }
    }
    Ok(out)
}

/// `nubo app scale APP TYPE=COUNT…`: prints the formation as it is now.
pub fn scale(ctx: &AppCtx, app: &str, counts: &[String]) -> anyhow::Result<()> {
    let patch = parse_counts(counts)?;
    let now = ctx
        .api
        .send_json("PATCH", &app_path(app, "/formation"), &Value::Object(patch))?;
    ctx.print(&now, |f| format!("Scaled {app}: {}", formation(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        let parsed = parse_pairs(&strings(&[
            "A=b=c",
            "B=",
            "C=two words\nand a line",
            "D='$x'",
        ]))
        .expect("pairs");
        assert_eq!(parsed["A"], "b=c");
        assert_eq!(parsed["B"], "");
        assert_eq!(parsed["C"], "two words\nand a line");
        assert_eq!(parsed["D"], "'$x'");
        for bad in [&["A"][..], &["=x"], &["A=1", "A=2"]] {
            assert!(parse_pairs(&strings(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_are_whole_numbers() {
        let counts = parse_counts(&strings(&["web=3", "worker=0"])).expect("counts");
        assert_eq!(
            Value::Object(counts),
            serde_json::json!({"web": 3, "worker": 0})
        );
        for bad in [
            &["web"][..],
            &["web=-1"],
            &["web=x"],
            &["=2"],
            &["web=1", "web=2"],
        ] {
            assert!(parse_counts(&strings(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn listings_quote_what_a_shell_would_split() {
        let vars = serde_json::json!({"A": "plain", "B": "two words", "C": "it's\n$HOME"});
        assert_eq!(
            listing(&vars),
            "A=plain\nB='two words'\nC='it'\\''s\n$HOME'"
        );
    }
}
