//! `nubo app stack`: the stacks apps build and run on — list them, show one with its
//! earlier versions and the apps on it (which stack version each runs), or, for the
//! oneadmin group, patch one (`--patch VERSION --image ID`: every app on it rolls out on
//! the new image without a build) or change its state (`--state DEPRECATED`), over
//! `/stacks`.

use clap::Args;
use serde_json::{Map, Value};

use super::{AppCtx, items, text};
use crate::output::{date, rows};
use crate::rest::segment;

/// `nubo app stack [NAME [--patch VERSION --image ID] [--state STATE]]`.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// The stack (without one: list them all).
    #[arg(value_name = "STACK")]
    name: Option<String>,
    /// Give the stack this new version (an OS update), with --image: every app on it
    /// whose current release has a slug gets a release of it on the new image.
    #[arg(long, value_name = "VERSION", requires_all = ["name", "image"])]
    patch: Option<String>,
    /// The new version's image (READY, permissions that let the apps' owners use it).
    #[arg(long, value_name = "IMAGE_ID", requires = "patch")]
    image: Option<i32>,
    /// ACTIVE, DEPRECATED (no new apps) or DISABLED (no builds).
    #[arg(long, value_name = "STATE", requires = "name")]
    state: Option<String>,
}

impl StackArgs {
    /// Runs the command.
    pub fn run(self, ctx: &AppCtx) -> anyhow::Result<()> {
        let Some(name) = self.name else {
            let all = ctx.api.get("/stacks")?;
            return ctx.print(&all, list);
        };
        let path = format!("/stacks/{}", segment(&name));
        let mut body = Map::new();
        if let Some(state) = self.state {
            body.insert("state".into(), Value::from(state.to_uppercase()));
        }
        if let (Some(version), Some(image)) = (self.patch, self.image) {
            body.insert("version".into(), Value::from(version));
            body.insert("image_id".into(), Value::from(image));
        }
        let shown = if body.is_empty() {
            ctx.api.get(&path)?
        } else {
            ctx.api.send_json("PATCH", &path, &Value::Object(body))?
        };
        ctx.print(&shown, show)
    }
}

/// NAME, VERSION, IMAGE, STATE rows.
fn list(all: &Value) -> String {
    let table: Vec<Vec<String>> = items(all)
        .iter()
        .map(|s| {
            vec![
                text(&s["name"]),
                text(&s["version"]),
                text(&s["image_id"]),
                text(&s["state"]),
                text(&s["description"]),
            ]
        })
        .collect();
    rows(
        &["NAME", "VERSION", "IMAGE", "STATE", "DESCRIPTION"],
        &table,
    )
}

/// A stack, its earlier versions and its apps.
fn show(s: &Value) -> String {
    let mut out = [
        ("NAME", text(&s["name"])),
        ("VERSION", text(&s["version"])),
        ("IMAGE", text(&s["image_id"])),
        ("STATE", text(&s["state"])),
        ("DESCRIPTION", text(&s["description"])),
        ("CREATED", date(&text(&s["created_at"]))),
    ]
    .iter()
    .map(|(k, v)| format!("{k:<11} : {v}").trim_end().to_owned())
    .collect::<Vec<_>>()
    .join("\n");
    let previous: Vec<Vec<String>> = items(&s["previous_versions"])
        .iter()
        .map(|v| {
            vec![
                text(&v["version"]),
                text(&v["image_id"]),
                date(&text(&v["replaced_at"])),
            ]
        })
        .collect();
    if !previous.is_empty() {
        out.push_str("\n\nEARLIER VERSIONS\n");
        out.push_str(rows(&["VERSION", "IMAGE", "REPLACED"], &previous).trim_end());
    }
    let current = text(&s["version"]);
    let apps: Vec<Vec<String>> = items(&s["apps"])
        .iter()
        .map(|a| {
            let version = match a["stack_version"].as_str() {
                Some(v) if v == current => v.to_owned(),
                Some(v) => format!("{v} (not patched)"),
                None if a["stack_image_id"].is_null() => "-".to_owned(),
                None => format!("image {}", text(&a["stack_image_id"])),
            };
            vec![
                text(&a["name"]),
                format!("v{}", text(&a["release"])),
                version,
            ]
        })
        .collect();
    out.push_str("\n\nAPPS\n");
    out.push_str(&rows(&["NAME", "RELEASE", "STACK VERSION"], &apps));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stack_shows_its_versions_and_which_apps_are_not_patched() {
        let shown = show(&json!({
            "name": "debian-12", "version": "2", "image_id": 7, "state": "DEPRECATED",
            "description": "Debian", "created_at": 0,
            "previous_versions": [{"version": "1", "image_id": 3, "replaced_at": 86400}],
            "apps": [
                {"name": "shop", "release": 4, "stack_image_id": 7, "stack_version": "2"},
                {"name": "blog", "release": 2, "stack_image_id": 3, "stack_version": "1"},
                {"name": "new", "release": 1, "stack_image_id": null, "stack_version": null},
            ],
        }));
        assert!(shown.contains("STATE       : DEPRECATED"), "{shown}");
        assert!(shown.contains("EARLIER VERSIONS"), "{shown}");
        let blog = shown.lines().find(|l| l.starts_with("blog")).expect("blog");
        assert!(
            blog.contains("v2") && blog.contains("1 (not patched)"),
            "{shown}"
        );
        let shop = shown.lines().find(|l| l.starts_with("shop")).expect("shop");
        assert!(
            shop.contains("v4") && !shop.contains("not patched"),
            "{shown}"
        );
        let new = shown.lines().find(|l| l.starts_with("new")).expect("new");
        assert!(new.trim_end().ends_with('-'), "{shown}");
    }

    #[test]
    fn the_stacks_are_listed() {
        let listed = list(&json!([{"name": "debian-12", "version": "2", "image_id": 7,
                                    "state": "ACTIVE", "description": "Debian"}]));
        assert!(
            listed.contains("debian-12") && listed.contains("ACTIVE"),
            "{listed}"
        );
    }
}
