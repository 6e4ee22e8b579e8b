//! `/camp/v1_1/plans`: registering plans by value (YAML, a PDP, or a multipart upload) and
//! by reference (`{"plan_uri"}` to a plan of this platform: a copy is registered; a
//! `pdp_uri` → 501); showing (with `select_attr`), replacing (PUT, optionally partial with
//! `select_attr`), patching (JSON Patch) and deleting them (409 while an assembly uses it).

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use nubo_paas::plans::Plan;
use serde_json::{Value, json};

use crate::auth::Authed;
use crate::body::{self, Media, Part};
use crate::deploy::{self, Scratch};
use crate::error::CampError;
use crate::{Base, Camp, created, json, select, select_attrs};

/// Attributes the platform sets: kept out of the stored document.
const SERVER_SET: &[&str] = &["uri", "type", "representation_skew"];
/// Attributes a consumer may not change (403).
const IMMUTABLE: &[&str] = &["uri", "type", "camp_version", "origin"];

/// A plan as CAMP shows it: its document, with the platform's attributes.
pub fn view(base: &Base, plan: &Plan) -> Value {
    let mut v = match &plan.document {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    v.insert("uri".into(), json!(base.v1(&format!("plans/{}", plan.id))));
    v.insert("type".into(), json!("plan"));
    v.insert("name".into(), json!(plan.name()));
    v.insert("representation_skew".into(), json!("NONE"));
    Value::Object(v)
}

fn plan_id(id: &str) -> Result<i64, CampError> {
    id.parse()
        .map_err(|_| CampError::not_found(format!("no plan {id}")))
}

fn get_plan(camp: &Camp, caller: &nubo_core::Caller, id: &str) -> Result<Plan, CampError> {
    let id = plan_id(id)?;
    camp.paas
        .plan_get(caller, id)
        .map_err(|e| CampError::hidden(e, &format!("plan \"{id}\"")))
}

/// `GET /camp/v1_1/plans`.
pub async fn list(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
) -> Result<Response, CampError> {
    let links: Vec<Value> = camp
        .paas
        .plan_list(&caller)?
        .iter()
        .map(|p| json!({"href": base.v1(&format!("plans/{}", p.id)), "target_name": p.name()}))
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({
            "uri": base.v1("plans"),
            "name": "Nubo plans",
            "type": "plans",
            "description": "The plans registered by you (and those shared with you)",
            "plan_links": links,
            "parameter_definitions_uri": base.v1("parameter_definitions/deploy"),
        }),
    ))
}

/// `POST /camp/v1_1/plans`: 201 + Location.
pub async fn create(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    req: Request,
) -> Result<Response, CampError> {
    let upload_dir = camp.paas.config().upload_dir();
    let plan = match body::media(req.headers()) {
        Media::Yaml => {
            let document = deploy::plan_from_yaml(&body::small(req.into_body()).await?)?;
            camp.paas.plan_create(&caller, document, None).await?
        }
        Media::Archive => {
            let file = body::archive(req.into_body(), &upload_dir).await?;
            register_pdp(&camp, &caller, file).await?
        }
        Media::Multipart => match body::multipart(req, &camp, &upload_dir).await? {
            Part::Plan(text) => {
                let document = deploy::plan_from_yaml(&text)?;
                camp.paas.plan_create(&caller, document, None).await?
            }
            Part::Pdp(file) => register_pdp(&camp, &caller, file).await?,
        },
        Media::Json => {
            let id = deploy::reference(&body::small(req.into_body()).await?, &base)?;
            let source = get_plan(&camp, &caller, &id.to_string())?;
            let package = match &source.package {
                Some(_) => {
                    let copy = body::scratch_path(&upload_dir, "pdp-copy")?;
                    tokio::fs::copy(camp.paas.plan_package_path(source.id), &copy)
                        .await
                        .map_err(|e| CampError::internal(format!("cannot copy the PDP: {e}")))?;
                    Some(copy)
                }
                None => None,
            };
            camp.paas
                .plan_create(&caller, source.document.clone(), package.as_deref())
                .await?
        }
        _ => {
            return Err(CampError::media_type(
                "register a plan as application/x-yaml, a PDP (application/zip, \
                 application/x-tar, application/gzip), multipart/form-data (plan_file, \
                 pdp_file) or application/json {\"plan_uri\"}",
            ));
        }
    };
    let location = base.v1(&format!("plans/{}", plan.id));
    created(&location, &view(&base, &plan))
}

/// Opens a PDP, checks its plan and registers both (the file is kept with the plan).
async fn register_pdp(
    camp: &Camp,
    caller: &nubo_core::Caller,
    file: std::path::PathBuf,
) -> Result<Plan, CampError> {
    let opened: Result<(Value, Scratch), CampError> = deploy::open_pdp(camp, &file).await;
    match opened {
        Ok((document, _tree)) => Ok(camp.paas.plan_create(caller, document, Some(&file)).await?),
        Err(e) => {
            let _ = tokio::fs::remove_file(&file).await;
            Err(e)
        }
    }
}

/// `GET /camp/v1_1/plans/{id}` (`select_attr` keeps only the attributes named).
pub async fn show(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, CampError> {
    let plan = get_plan(&camp, &caller, &id)?;
    Ok(json(
        StatusCode::OK,
        &select(view(&base, &plan), &select_attrs(&uri)),
    ))
}

/// The document to keep from a changed view: refuses changes of immutable attributes (403)
/// and plans CAMP would not take (400).
fn document_from(old_view: &Value, new_view: Value) -> Result<Value, CampError> {
    let Value::Object(mut map) = new_view else {
        return Err(CampError::bad_request("a plan is a JSON object"));
    };
    for key in IMMUTABLE {
        if map.get(*key) != old_view.get(*key) {
            return Err(CampError::new(
                StatusCode::FORBIDDEN,
                format!("{key} cannot be changed"),
            ));
        }
    }
    for key in SERVER_SET {
        map.remove(*key);
    }
    deploy::check_plan(Value::Object(map))
}

/// `PUT /camp/v1_1/plans/{id}` with a JSON plan: replaces it, or with `select_attr` only
/// the attributes named.
pub async fn put(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    uri: Uri,
    req: Request,
) -> Result<Response, CampError> {
    let plan = get_plan(&camp, &caller, &id)?;
    if body::media(req.headers()) != Media::Json {
        return Err(CampError::media_type(
            "PUT takes the plan as application/json",
        ));
    }
    let given: Value = serde_json::from_slice(&body::small(req.into_body()).await?)
        .map_err(|e| CampError::bad_request(format!("the body is not JSON: {e}")))?;
    let Value::Object(given) = given else {
        return Err(CampError::bad_request("a plan is a JSON object"));
    };
    let old = view(&base, &plan);
    let attrs = select_attrs(&uri);
    let new = if attrs.is_empty() {
        let mut full = given;
        // Attributes the platform sets may be left out.
        for key in SERVER_SET {
            if let Some(v) = old.get(*key) {
                full.entry(key.to_string()).or_insert_with(|| v.clone());
            }
        }
        if let Some(v) = old.get("camp_version") {
            full.entry("camp_version").or_insert_with(|| v.clone());
        }
        Value::Object(full)
    } else {
        let mut merged = old.clone();
        if let Value::Object(map) = &mut merged {
            for attr in &attrs {
                match given.get(attr) {
                    Some(v) => {
                        map.insert(attr.clone(), v.clone());
                    }
                    None => {
                        map.remove(attr);
                    }
                }
            }
        }
        merged
    };
    let document = document_from(&old, new)?;
    let plan = camp
        .paas
        .plan_update(&caller, plan.id, document, None)
        .await?;
    Ok(json(StatusCode::OK, &view(&base, &plan)))
}

/// `PATCH /camp/v1_1/plans/{id}` with `application/json-patch+json`.
pub async fn patch(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, CampError> {
    let plan = get_plan(&camp, &caller, &id)?;
    let old = view(&base, &plan);
    let new = body::patched(req, &old).await?;
    let document = document_from(&old, new)?;
    let plan = camp
        .paas
        .plan_update(&caller, plan.id, document, None)
        .await?;
    Ok(json(StatusCode::OK, &view(&base, &plan)))
}

/// `DELETE /camp/v1_1/plans/{id}`: 204, or 409 while an assembly uses it.
pub async fn delete(
    State(camp): State<Camp>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, CampError> {
    let id = plan_id(&id)?;
    camp.paas
        .plan_delete(&caller, id)
        .await
        .map_err(|e| CampError::hidden(e, &format!("plan \"{id}\"")))?;
    Ok(StatusCode::NO_CONTENT)
}
