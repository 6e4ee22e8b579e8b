//! `/camp/v1_1/assemblies` and `/camp/v1_1/components`: an assembly is a PaaS app (by its
//! id), a component one process type of the app's current release.
//!
//! `representation_skew`: UNKNOWN when an instance's host is unreachable (its VM is in
//! the UNKNOWN state), CREATING while the app's first build is queued or running or while
//! instances of its current release start, NONE otherwise. The PaaS removes an app at once
//! when it is deleted (its instances are stopped in the background), so DELETE answers 204
//! and the assembly is gone (404) from then on: DESTROYING is never shown.
//!
//! Component `status`: STOPPED (no instance wanted, or the type stopped), ERROR (an
//! instance failed or crashed), UNKNOWN (an instance's host is unreachable), RUNNING (every
//! wanted instance up), STARTING otherwise. The extension attribute `quantity` (instances wanted) is the one a
//! consumer may change, with JSON Patch.

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use nubo_core::Caller;
use nubo_paas::model::{App, BuildStatus};
use nubo_paas::plans::AssemblyEdit;
use serde_json::{Value, json};

use crate::auth::Authed;
use crate::body::{self, Media, Part};
use crate::deploy::{self, Input};
use crate::error::CampError;
use crate::{Base, Camp, created, json, shown};

/// The app an assembly id names, if the caller may see it (404 otherwise).
pub(crate) fn app_of(camp: &Camp, caller: &Caller, id: &str) -> Result<App, CampError> {
    let missing = || CampError::not_found(format!("assembly \"{id}\" not found"));
    let id: i64 = id.parse().map_err(|_| missing())?;
    let name = camp
        .paas
        .read(|s| Ok(s.apps.get(&id).map(|a| a.name.clone())))?
        .ok_or_else(missing)?;
    camp.paas
        .app_get(caller, &name)
        .map_err(|e| CampError::hidden(e, &format!("assembly \"{id}\"")))
}

pub(crate) fn assembly_uri(base: &Base, app: &App) -> String {
    base.v1(&format!("assemblies/{}", app.id))
}

/// The process types of the app's current release.
pub(crate) fn process_types(
    camp: &Camp,
    caller: &Caller,
    app: &App,
) -> Result<Vec<String>, CampError> {
    Ok(camp
        .paas
        .release(caller, &app.name, app.release)
        .map(|r| r.process_types.into_keys().collect())
        .unwrap_or_default())
}

/// An assembly as CAMP shows it.
fn view(camp: &Camp, caller: &Caller, base: &Base, app: &App) -> Result<Value, CampError> {
    let builds = camp.paas.builds(caller, &app.name)?;
    let instances = camp.paas.instances(caller, &app.name)?;
    let built = builds.iter().any(|b| b.status == BuildStatus::Succeeded);
    let building = builds.iter().any(|b| !b.status.is_final());
    let skew = if instances.iter().any(|i| i.state == "unknown") {
        "UNKNOWN"
    } else if (!built && building)
        || instances
            .iter()
            .any(|i| i.release == app.release && i.state == "starting")
    {
        "CREATING"
    } else {
        "NONE"
    };
    let components: Vec<Value> = process_types(camp, caller, app)?
        .iter()
        .map(|t| json!({"href": base.v1(&format!("components/{}-{t}", app.id)), "target_name": t}))
        .collect();
    let rest = |path: &str| base.url(&format!("/api/v1/apps/{}{path}", app.name));
    let uri = assembly_uri(base, app);
    let mut v = json!({
        "uri": uri,
        "name": app.name,
        "type": "assembly",
        "description": app.description,
        "tags": app.tags,
        "representation_skew": skew,
        "components": components,
        "operations_uri": format!("{uri}/operations"),
        "sensors_uri": format!("{uri}/sensors"),
        "rest_uri": rest(""),
        "builds_uri": rest("/builds"),
        "releases_uri": rest("/releases"),
    });
    if let Some(plan) = app.plan {
        v["plan_uri"] = json!(base.v1(&format!("plans/{plan}")));
    }
    if let Some(last) = builds.first() {
        v["logs_uri"] = json!(rest(&format!("/builds/{}/log", last.id)));
        v["last_build"] = json!({
            "id": last.id,
            "status": last.status.as_str(),
            "reason": last.reason,
            "uri": rest(&format!("/builds/{}", last.id)),
        });
    }
    Ok(v)
}

/// `GET /camp/v1_1/assemblies`: every app the caller may see.
pub async fn list(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
) -> Result<Response, CampError> {
    let mut links = Vec::new();
    let mut after = None;
    loop {
        let filter = nubo_paas::AppFilter {
            after: after.take(),
            limit: 1000,
        };
        let (apps, next) = camp.paas.app_list(&caller, &filter)?;
        links.extend(
            apps.iter()
                .map(|a| json!({"href": assembly_uri(&base, a), "target_name": a.name})),
        );
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(json(
        StatusCode::OK,
        &json!({
            "uri": base.v1("assemblies"),
            "name": "Nubo assemblies",
            "type": "assemblies",
            "description": "Your apps",
            "assembly_links": links,
            "parameter_definitions_uri": base.v1("parameter_definitions/deploy"),
        }),
    ))
}

/// `POST /camp/v1_1/assemblies`: deploys by reference (`{"plan_uri"}`) or by value (plan
/// YAML, a PDP, or multipart `plan_file`/`pdp_file`); 201 + Location.
pub async fn create(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    req: Request,
) -> Result<Response, CampError> {
    let upload_dir = camp.paas.config().upload_dir();
    let by_value = |document| Input {
        document,
        tree: None,
        plan_id: None,
    };
    let input = match body::media(req.headers()) {
        Media::Json => {
            let id = deploy::reference(&body::small(req.into_body()).await?, &base)?;
            let plan = camp
                .paas
                .plan_get(&caller, id)
                .map_err(|e| CampError::hidden(e, &format!("plan \"{id}\"")))?;
            let tree = match plan.package {
                Some(_) => Some(
                    deploy::open_pdp(&camp, &camp.paas.plan_package_path(id))
                        .await?
                        .1,
                ),
                None => None,
            };
            Input {
                document: plan.document,
                tree,
                plan_id: Some(id),
            }
        }
        Media::Yaml => by_value(deploy::plan_from_yaml(
            &body::small(req.into_body()).await?,
        )?),
        Media::Archive => {
            let file = body::archive(req.into_body(), &upload_dir).await?;
            pdp_input(&camp, file).await?
        }
        Media::Multipart => match body::multipart(req, &camp, &upload_dir).await? {
            Part::Plan(text) => by_value(deploy::plan_from_yaml(&text)?),
            Part::Pdp(file) => pdp_input(&camp, file).await?,
        },
        _ => {
            return Err(CampError::media_type(
                "deploy with application/json {\"plan_uri\"}, a plan (application/x-yaml), \
                 a PDP (application/zip, application/x-tar, application/gzip) or \
                 multipart/form-data (plan_file, pdp_file)",
            ));
        }
    };
    let app = deploy::deploy(&camp, &caller, input).await?;
    let location = assembly_uri(&base, &app);
    created(&location, &view(&camp, &caller, &base, &app)?)
}

async fn pdp_input(camp: &Camp, file: std::path::PathBuf) -> Result<Input, CampError> {
    let opened = deploy::open_pdp(camp, &file).await;
    let _ = tokio::fs::remove_file(&file).await;
    let (document, tree) = opened?;
    Ok(Input {
        document,
        tree: Some(tree),
        plan_id: None,
    })
}

/// `GET /camp/v1_1/assemblies/{id}`.
pub async fn show(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, CampError> {
    let app = app_of(&camp, &caller, &id)?;
    let v = view(&camp, &caller, &base, &app)?;
    Ok(shown(v, &uri))
}

/// `PATCH /camp/v1_1/assemblies/{id}`: `name`, `description` and `tags` may change (403
/// for the rest).
pub async fn patch(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, CampError> {
    let app = app_of(&camp, &caller, &id)?;
    let old = view(&camp, &caller, &base, &app)?;
    let new = body::patched(req, &old).await?;
    let mut edit = AssemblyEdit::default();
    let (Value::Object(old_map), Value::Object(new_map)) = (&old, &new) else {
        return Err(CampError::unprocessable("an assembly is a JSON object"));
    };
    let keys: std::collections::BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
    for key in keys {
        let (before, after) = (old_map.get(key), new_map.get(key));
        if before == after {
            continue;
        }
        let bad = || CampError::bad_request(format!("{key} has the wrong type"));
        match key.as_str() {
            "name" => edit.name = Some(after.and_then(Value::as_str).ok_or_else(bad)?.to_owned()),
            "description" => {
                edit.description = Some(
                    after
                        .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
                        .transpose()?
                        .unwrap_or_default(),
                )
            }
            "tags" => {
                let tags = match after {
                    None => Vec::new(),
                    Some(v) => v
                        .as_array()
                        .and_then(|t| {
                            t.iter()
                                .map(|x| x.as_str().map(str::to_owned))
                                .collect::<Option<Vec<_>>>()
                        })
                        .ok_or_else(bad)?,
                };
                edit.tags = Some(tags);
            }
            other => {
                return Err(CampError::new(
                    StatusCode::FORBIDDEN,
                    format!("{other} cannot be changed by a consumer"),
                ));
            }
        }
    }
    let app = camp
        .paas
        .assembly_update(&caller, &app.name, edit, None)
        .await?;
    Ok(json(StatusCode::OK, &view(&camp, &caller, &base, &app)?))
}

/// `DELETE /camp/v1_1/assemblies/{id}`: 204; the app and its instances are removed.
pub async fn delete(
    State(camp): State<Camp>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, CampError> {
    let app = app_of(&camp, &caller, &id)?;
    camp.paas.app_delete(&caller, &app.name, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The app and process type a component id (`{app id}-{type}`) names.
pub(crate) fn component_of(
    camp: &Camp,
    caller: &Caller,
    id: &str,
) -> Result<(App, String), CampError> {
    let missing = || CampError::not_found(format!("component \"{id}\" not found"));
    let (app_id, kind) = id.split_once('-').ok_or_else(missing)?;
    let app = app_of(camp, caller, app_id).map_err(|_| missing())?;
    if !process_types(camp, caller, &app)?.iter().any(|t| t == kind) {
        return Err(missing());
    }
    Ok((app, kind.to_owned()))
}

fn component_view(
    camp: &Camp,
    caller: &Caller,
    base: &Base,
    app: &App,
    kind: &str,
) -> Result<Value, CampError> {
    let quantity = app.formation.get(kind).copied().unwrap_or(0);
    let instances: Vec<_> = camp
        .paas
        .instances(caller, &app.name)?
        .into_iter()
        .filter(|i| i.process_type == kind && i.release == app.release)
        .collect();
    let up = instances.iter().filter(|i| i.state == "up").count();
    let status = if instances
        .iter()
        .any(|i| matches!(i.state.as_str(), "failed" | "crashed"))
    {
        "ERROR"
    } else if instances.iter().any(|i| i.state == "unknown") {
        "UNKNOWN"
    } else if quantity == 0 || app.stopped.contains(kind) {
        "STOPPED"
    } else if up >= quantity as usize {
        "RUNNING"
    } else {
        "STARTING"
    };
    let command = camp
        .paas
        .release(caller, &app.name, app.release)
        .ok()
        .and_then(|r| r.process_types.get(kind).cloned())
        .unwrap_or_default();
    let uri = base.v1(&format!("components/{}-{kind}", app.id));
    Ok(json!({
        "uri": uri,
        "name": kind,
        "type": "component",
        "description": command,
        "assemblies": [{"href": assembly_uri(base, app), "target_name": app.name}],
        "status": status,
        "operations_uri": format!("{uri}/operations"),
        "sensors_uri": format!("{uri}/sensors"),
        "quantity": quantity,
        "instances": instances.iter().map(|i| json!({
            "name": i.name, "state": i.state, "reason": i.reason,
        })).collect::<Vec<_>>(),
        "rest_uri": base.url(&format!("/api/v1/apps/{}/formation", app.name)),
    }))
}

/// `GET /camp/v1_1/components/{id}`.
pub async fn component(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, CampError> {
    let (app, kind) = component_of(&camp, &caller, &id)?;
    let v = component_view(&camp, &caller, &base, &app, &kind)?;
    Ok(shown(v, &uri))
}

/// `PATCH /camp/v1_1/components/{id}`: only `quantity` may change (it scales the process
/// type); 403 for the rest.
pub async fn patch_component(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, CampError> {
    let (app, kind) = component_of(&camp, &caller, &id)?;
    let old = component_view(&camp, &caller, &base, &app, &kind)?;
    let new = body::patched(req, &old).await?;
    if let (Value::Object(o), Value::Object(n)) = (&old, &new) {
        let changed = o
            .keys()
            .chain(n.keys())
            .find(|k| k.as_str() != "quantity" && o.get(*k) != n.get(*k));
        if let Some(key) = changed {
            return Err(CampError::new(
                StatusCode::FORBIDDEN,
                format!("{key} cannot be changed by a consumer"),
            ));
        }
    }
    let quantity = new
        .get("quantity")
        .and_then(Value::as_u64)
        .and_then(|q| u32::try_from(q).ok())
        .ok_or_else(|| CampError::bad_request("quantity must be a whole number"))?;
    let app = camp
        .paas
        .formation_update(
            &caller,
            &app.name,
            std::iter::once((kind.clone(), quantity)).collect(),
            None,
        )
        .await?;
    Ok(json(
        StatusCode::OK,
        &component_view(&camp, &caller, &base, &app, &kind)?,
    ))
}
