//! From a request to something deployable: a plan read from YAML or from a PDP (unpacked
//! into a scratch directory), or a registered plan named by `plan_uri`; checked as CAMP
//! wants (`camp_version: CAMP 1.1`, else 400); and deployed as an app with a build from its
//! artifact.
//!
//! Artifacts Nubo builds from (one per plan): `org.nubo:Git` (`content.href` = a git URL,
//! optionally `#ref`), `org.nubo:Tarball` (`content.href` = a `.tar`/`.tgz` member of the
//! PDP) and `org.nubo:PDP` (the PDP's own tree less `camp.*`). Any other artifact type is
//! refused with 422 before anything is made.

use std::path::{Path, PathBuf};

use nubo_core::Caller;
use nubo_paas::model::{App, BuildSource};
use serde_json::Value;

use crate::error::CampError;
use crate::{Base, Camp, body, pdp, yaml};

/// A directory removed when dropped.
#[derive(Debug)]
pub struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A plan from a request.
#[derive(Debug)]
pub struct Input {
    /// The plan, checked.
    pub document: Value,
    /// The PDP's unpacked tree, when it came in one.
    pub tree: Option<Scratch>,
    /// The registered plan it is, when named by reference.
    pub plan_id: Option<i64>,
}

/// Checks a plan as CAMP wants it: a mapping with `camp_version: CAMP 1.1`, and the common
/// attributes of the right types.
pub fn check_plan(value: Value) -> Result<Value, CampError> {
    let Value::Object(map) = &value else {
        return Err(CampError::bad_request("a plan is a YAML mapping"));
    };
    match map.get("camp_version") {
        Some(Value::String(v)) if v == "CAMP 1.1" => {}
        Some(other) => {
            return Err(CampError::bad_request(format!(
                "camp_version {other} is not supported: use CAMP 1.1"
            )));
        }
        None => return Err(CampError::bad_request("the plan has no camp_version")),
    }
    for key in ["name", "description", "origin"] {
        if map.get(key).is_some_and(|v| !v.is_string()) {
            return Err(CampError::bad_request(format!("{key} must be a string")));
        }
    }
    if let Some(tags) = map.get("tags")
        && !tags
            .as_array()
            .is_some_and(|t| t.iter().all(Value::is_string))
    {
        return Err(CampError::bad_request("tags must be a list of strings"));
    }
    for key in ["artifacts", "services"] {
        if let Some(list) = map.get(key)
            && !list
                .as_array()
                .is_some_and(|l| l.iter().all(Value::is_object))
        {
            return Err(CampError::bad_request(format!(
                "{key} must be a list of mappings"
            )));
        }
    }
    Ok(value)
}

/// A plan's YAML text, read within bounds and checked.
pub fn plan_from_yaml(text: &[u8]) -> Result<Value, CampError> {
    let value =
        yaml::parse(text, yaml::PLAN_LIMITS).map_err(|e| CampError::bad_request(e.to_string()))?;
    check_plan(value)
}

/// Unpacks the PDP `archive` into a scratch directory and reads its plan.
pub async fn open_pdp(camp: &Camp, archive: &Path) -> Result<(Value, Scratch), CampError> {
    let dir = body::scratch_path(&camp.paas.config().upload_dir(), "pdp")?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| CampError::internal(format!("cannot make a scratch directory: {e}")))?;
    let scratch = Scratch(dir.clone());
    let archive = archive.to_path_buf();
    let text = tokio::task::spawn_blocking(move || pdp::open(&archive, &dir, pdp::PDP_LIMITS))
        .await
        .map_err(|e| CampError::internal(format!("unpacking the package failed: {e}")))?
        .map_err(|e| {
            if e.is_client() {
                CampError::bad_request(e.to_string())
            } else {
                CampError::internal(e.to_string())
            }
        })?;
    Ok((plan_from_yaml(&text)?, scratch))
}

/// The id of the registered plan `uri` names: this server's `/camp/v1_1/plans/{id}`, as an
/// absolute URL on the request's host or a path (`../plans/{id}` too). Another host → 501.
pub fn plan_id_from_uri(uri: &str, base: &Base) -> Result<i64, CampError> {
    let path = if let Some(rest) = uri.strip_prefix(&base.0) {
        rest
    } else if uri.contains("://") {
        return Err(CampError::not_implemented(
            "plans on other hosts are not fetched: register the plan here first",
        ));
    } else {
        uri
    };
    let id = path
        .strip_prefix("/camp/v1_1/plans/")
        .or_else(|| path.strip_prefix("../plans/"))
        .or_else(|| path.strip_prefix("plans/"))
        .ok_or_else(|| CampError::bad_request(format!("{uri} is not a plan of this platform")))?;
    id.trim_end_matches('/')
        .parse::<i64>()
        .map_err(|_| CampError::not_found(format!("no plan at {uri}")))
}

/// A reference body: `{"plan_uri": …}` or `{"pdp_uri": …}`.
pub fn reference(bytes: &[u8], base: &Base) -> Result<i64, CampError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| CampError::bad_request(format!("the body is not JSON: {e}")))?;
    if value.get("pdp_uri").is_some() {
        return Err(CampError::not_implemented(
            "pdp_uri is not offered: upload the PDP (pdp_file) or register it as a plan",
        ));
    }
    match value.get("plan_uri") {
        Some(Value::String(uri)) => plan_id_from_uri(uri, base),
        Some(_) => Err(CampError::bad_request("plan_uri must be a string")),
        None => Err(CampError::bad_request("give plan_uri or pdp_uri")),
    }
}

/// What an assembly is built from.
#[derive(Debug, Clone, PartialEq)]
enum Artifact {
    /// Nothing to build.
    None,
    /// A git repository.
    Git(String, Option<String>),
    /// A tarball member of the PDP.
    Member(PathBuf),
    /// The PDP's tree.
    Tree,
}

const TYPES: &str = "org.nubo:Git, org.nubo:Tarball or org.nubo:PDP";

fn artifact(plan: &Value, tree: Option<&Path>) -> Result<Artifact, CampError> {
    let artifacts = plan
        .get("artifacts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let [one] = artifacts else {
        if artifacts.is_empty() {
            return Ok(Artifact::None);
        }
        return Err(CampError::unprocessable(
            "Nubo deploys one artifact per plan: give one of type ".to_owned() + TYPES,
        ));
    };
    let kind = one
        .get("artifact_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let href = one
        .get("content")
        .and_then(|c| c.get("href"))
        .and_then(Value::as_str);
    let need_href = || {
        href.ok_or_else(|| {
            CampError::unprocessable(format!("a {kind} artifact needs content.href"))
        })
    };
    let need_tree = || {
        tree.ok_or_else(|| {
            CampError::unprocessable(format!(
                "a {kind} artifact's content is in a PDP: deploy the PDP"
            ))
        })
    };
    match kind {
        "org.nubo:Git" => {
            let href = need_href()?;
            let (url, reference) = match href.split_once('#') {
                Some((url, r)) if !r.is_empty() => (url, Some(r.to_owned())),
                Some((url, _)) => (url, None),
                None => (href, None),
            };
            nubo_paas::source::check_git_url(url)?;
            if let Some(r) = &reference {
                nubo_paas::source::check_reference(r)?;
            }
            Ok(Artifact::Git(url.to_owned(), reference))
        }
        "org.nubo:Tarball" => {
            let href = need_href()?;
            let root = need_tree()?;
            let member =
                pdp::member(root, href).map_err(|e| CampError::unprocessable(e.to_string()))?;
            Ok(Artifact::Member(member))
        }
        "org.nubo:PDP" => {
            need_tree()?;
            Ok(Artifact::Tree)
        }
        other => Err(CampError::unprocessable(format!(
            "artifact type {other:?} is not supported: use {TYPES}"
        ))),
    }
}

/// A plan's name made a DNS label (lowercase, `-` for the rest, starting with a letter).
pub fn dns_label(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        return "assembly".into();
    }
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out = format!("app-{out}");
    }
    out.truncate(nubo_paas::names::APP_NAME_MAX - 6);
    out.trim_end_matches('-').to_owned()
}

/// Deploys `input` as a new app owned by the caller and starts its build.
pub async fn deploy(camp: &Camp, caller: &Caller, input: Input) -> Result<App, CampError> {
    let tree = input.tree.as_ref().map(|s| s.0.as_path());
    let artifact = artifact(&input.document, tree)?;
    let doc = &input.document;
    let name = dns_label(
        doc.get("name")
            .and_then(Value::as_str)
            .unwrap_or("assembly"),
    );
    let description = doc
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let tags: Vec<String> = doc
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let app = camp
        .paas
        .assembly_create(caller, &name, input.plan_id, description, tags)
        .await?;
    let started = start_build(camp, caller, &app.name, artifact, tree).await;
    if let Err(e) = started {
        if let Err(undo) = camp.paas.app_delete(caller, &app.name, None).await {
            tracing::warn!(app = app.name, error = %undo, "cannot remove an assembly whose build could not start");
        }
        return Err(e);
    }
    Ok(app)
}

async fn start_build(
    camp: &Camp,
    caller: &Caller,
    app: &str,
    artifact: Artifact,
    tree: Option<&Path>,
) -> Result<(), CampError> {
    let tarball = match artifact {
        Artifact::None => return Ok(()),
        Artifact::Git(url, reference) => {
            camp.paas
                .build_create(caller, app, BuildSource::Git { url, reference })
                .await?;
            return Ok(());
        }
        Artifact::Member(member) => {
            let out = body::scratch_path(&camp.paas.config().upload_dir(), "source")?;
            tokio::fs::copy(&member, &out)
                .await
                .map_err(|e| CampError::internal(format!("cannot copy the tarball: {e}")))?;
            out
        }
        Artifact::Tree => {
            let root = tree
                .ok_or_else(|| CampError::internal("no PDP tree to build"))?
                .to_path_buf();
            let out = body::scratch_path(&camp.paas.config().upload_dir(), "source")?;
            let target = out.clone();
            tokio::task::spawn_blocking(move || pdp::tree_tarball(&root, &target))
                .await
                .map_err(|e| CampError::internal(format!("packing the source failed: {e}")))?
                .map_err(|e| CampError::internal(e.to_string()))?;
            out
        }
    };
    camp.paas
        .build_create_archive(caller, app, &tarball)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plans_are_checked() {
        assert!(check_plan(json!({"camp_version": "CAMP 1.1"})).is_ok());
        for bad in [
            json!({}),
            json!({"camp_version": "CAMP 1.0"}),
            json!(["camp_version"]),
            json!({"camp_version": "CAMP 1.1", "tags": "x"}),
            json!({"camp_version": "CAMP 1.1", "artifacts": [1]}),
        ] {
            assert!(check_plan(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn artifacts_are_chosen() {
        let git = json!({"artifacts": [{"artifact_type": "org.nubo:Git",
            "content": {"href": "https://example.com/r.git#main"}}]});
        assert_eq!(
            artifact(&git, None).expect("git"),
            Artifact::Git("https://example.com/r.git".into(), Some("main".into()))
        );
        assert_eq!(artifact(&json!({}), None).expect("none"), Artifact::None);
        let zip = json!({"artifacts": [{"artifact_type": "com.example:ZIP"}]});
        assert_eq!(
            artifact(&zip, None).expect_err("unknown").status,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY
        );
        let tarball = json!({"artifacts": [{"artifact_type": "org.nubo:Tarball",
            "content": {"href": "app.tgz"}}]});
        assert!(artifact(&tarball, None).is_err());
    }

    #[test]
    fn names_become_dns_labels() {
        assert_eq!(dns_label("Complete_Plan"), "complete-plan");
        assert_eq!(dns_label("9 lives!"), "app-9-lives");
        assert_eq!(dns_label("***"), "assembly");
        assert!(dns_label(&"x".repeat(200)).len() <= nubo_paas::names::APP_NAME_MAX);
    }

    #[test]
    fn plan_references_are_resolved() {
        let base = Base("http://h:1".into());
        assert_eq!(
            plan_id_from_uri("http://h:1/camp/v1_1/plans/7", &base).expect("abs"),
            7
        );
        assert_eq!(
            plan_id_from_uri("/camp/v1_1/plans/8", &base).expect("path"),
            8
        );
        assert_eq!(plan_id_from_uri("../plans/9", &base).expect("relative"), 9);
        assert_eq!(
            plan_id_from_uri("http://elsewhere/camp/v1_1/plans/7", &base)
                .expect_err("remote")
                .status,
            axum::http::StatusCode::NOT_IMPLEMENTED
        );
    }
}
