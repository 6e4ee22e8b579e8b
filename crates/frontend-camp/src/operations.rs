//! CAMP operations (`operations_uri` of assemblies and components): each operation is a
//! resource (`type: operation`, with `documentation`, `target_resource` and, when it takes
//! parameters, `parameter_definitions_uri`) that is carried out by a `POST` to its URI with
//! its parameters as a JSON object. They stand for the PaaS's calls:
//!
//! | operation | assembly (the app) | component (one process type) |
//! |---|---|---|
//! | `start`, `stop`, `restart` | `Paas::processes` for every type | for the type |
//! | `scale` | `Paas::formation_update` with `quantities` | with `quantity` |
//! | `redeploy` | `Paas::redeploy` (`strategy`, `max_in_flight`, `canary_percent`) | — |
//! | `rollback` | `Paas::rollback` (`release`, else the previous one) | — |
//! | `cancel` | `Paas::deployment_cancel` (`deployment`, else the one DEPLOYING) | — |
//!
//! A call that is accepted answers `202 Accepted` (the reconciler carries it out) with what
//! it did; its `Location` is the deployment it made, in the REST API, or else the target.
//! Authorization is the PaaS's (MANAGE on the app); someone who may not see the app gets
//! 404 as for the assembly itself.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use nubo_core::Caller;
use nubo_paas::PaasError;
use nubo_paas::deployments::{Deployment, DeploymentState, RolloutEdit, Strategy};
use nubo_paas::model::App;
use nubo_paas::process_control::ProcessAction;
use serde_json::{Map, Value, json};

use crate::auth::Authed;
use crate::body::{self, Media};
use crate::error::CampError;
use crate::subject::{Kind, Subject};
use crate::{Base, Camp, json, shown};

/// One parameter of an operation: (name, parameter_type, required, description).
type Param = (&'static str, &'static str, bool, &'static str);

/// An operation one kind of resource offers.
#[derive(Debug)]
pub struct Operation {
    /// Its name (the last segment of its URI).
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// What it takes.
    pub params: &'static [Param],
    /// The REST resource it stands for, after `/api/v1/apps/{app}`.
    rest: &'static str,
}

const ROLLOUT_PARAMS: &[Param] = &[
    (
        "strategy",
        "String",
        false,
        "rolling, recreate or canary (default: the app's rollout policy)",
    ),
    (
        "max_in_flight",
        "Integer",
        false,
        "New instances of a type started at once, 1 to 100 (default: the app's)",
    ),
    (
        "canary_percent",
        "Integer",
        false,
        "The share of requests a canary takes, 1 to 99 (default: the app's)",
    ),
];

/// What an assembly offers.
pub const ASSEMBLY: &[Operation] = &[
    Operation {
        name: "start",
        description: "Starts every stopped process type again",
        params: &[],
        rest: "/processes/start",
    },
    Operation {
        name: "stop",
        description: "Stops every process type: its instances go, its quantity is kept",
        params: &[],
        rest: "/processes/stop",
    },
    Operation {
        name: "restart",
        description: "Replaces every instance by a new one, the old serving until its \
                      successor is up",
        params: &[],
        rest: "/processes/restart",
    },
    Operation {
        name: "scale",
        description: "Sets how many instances of each process type run",
        params: &[(
            "quantities",
            "Object",
            true,
            "Process type → number of instances, e.g. {\"web\": 3, \"worker\": 1}",
        )],
        rest: "/formation",
    },
    Operation {
        name: "redeploy",
        description: "Replaces every instance of the current release, as the app's rollout \
                      policy (or the parameters) says",
        params: ROLLOUT_PARAMS,
        rest: "/deployments",
    },
    Operation {
        name: "rollback",
        description: "Makes a new release running an earlier release's slug, process types \
                      and config vars",
        params: &[(
            "release",
            "Integer",
            false,
            "The release to go back to (default: the newest one before the current release \
             that has a slug)",
        )],
        rest: "/rollback",
    },
    Operation {
        name: "cancel",
        description: "Cancels the deployment under way: the release it left gets every \
                      instance back",
        params: &[(
            "deployment",
            "Integer",
            false,
            "The deployment's id (default: the app's deployment in state DEPLOYING)",
        )],
        rest: "/deployments",
    },
];

/// What a component offers.
pub const COMPONENT: &[Operation] = &[
    Operation {
        name: "start",
        description: "Starts the process type again after a stop",
        params: &[],
        rest: "/processes/start",
    },
    Operation {
        name: "stop",
        description: "Stops the process type: its instances go, its quantity is kept",
        params: &[],
        rest: "/processes/stop",
    },
    Operation {
        name: "restart",
        description: "Replaces each instance of the process type by a new one, the old \
                      serving until its successor is up",
        params: &[],
        rest: "/processes/restart",
    },
    Operation {
        name: "scale",
        description: "Sets how many instances of the process type run",
        params: &[("quantity", "Integer", true, "The number of instances")],
        rest: "/formation",
    },
];

/// The operations a kind of resource offers.
pub fn offered(kind: Kind) -> &'static [Operation] {
    match kind {
        Kind::Assembly => ASSEMBLY,
        Kind::Component => COMPONENT,
    }
}

fn find(subject: &Subject, name: &str) -> Result<&'static Operation, CampError> {
    offered(subject.kind())
        .iter()
        .find(|o| o.name == name)
        .ok_or_else(|| {
            CampError::not_found(format!(
                "{} has no operation {name:?} (it has {})",
                subject.label(),
                names(offered(subject.kind()))
            ))
        })
}

fn names(ops: &[Operation]) -> String {
    ops.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
}

fn operation_uri(base: &Base, subject: &Subject, op: &Operation) -> String {
    format!("{}/operations/{}", subject.uri(base), op.name)
}

fn parameters_uri(base: &Base, kind: Kind, op: &Operation) -> String {
    base.v1(&format!(
        "parameter_definitions/operations/{}/{}",
        kind.as_str(),
        op.name
    ))
}

/// An operation as CAMP shows it.
fn view(base: &Base, subject: &Subject, op: &Operation) -> Value {
    let mut v = json!({
        "uri": operation_uri(base, subject, op),
        "name": op.name,
        "type": "operation",
        "description": op.description,
        "documentation": base.url("/api/v1/openapi.json"),
        "target_resource": subject.uri(base),
        "rest_uri": base.url(&format!("/api/v1/apps/{}{}", subject.app().name, op.rest)),
    });
    if !op.params.is_empty() {
        v["parameter_definitions_uri"] = json!(parameters_uri(base, subject.kind(), op));
    }
    v
}

/// The operations collection of a subject.
fn list_view(base: &Base, subject: &Subject) -> Value {
    let links: Vec<Value> = offered(subject.kind())
        .iter()
        .map(|op| json!({"href": operation_uri(base, subject, op), "target_name": op.name}))
        .collect();
    json!({
        "uri": format!("{}/operations", subject.uri(base)),
        "name": format!("Operations of {}", subject.label()),
        "type": "operations",
        "description": "What can be done to it: POST a JSON object of parameters to an \
                        operation's uri",
        "target_resource": subject.uri(base),
        "operation_links": links,
    })
}

/// `GET /camp/v1_1/assemblies/{id}/operations`.
pub async fn assembly_list(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, CampError> {
    let subject = Subject::assembly(&camp, &caller, &id)?;
    Ok(shown(list_view(&base, &subject), &uri))
}

/// `GET /camp/v1_1/components/{id}/operations`.
pub async fn component_list(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, CampError> {
    let subject = Subject::component(&camp, &caller, &id)?;
    Ok(shown(list_view(&base, &subject), &uri))
}

/// `GET /camp/v1_1/assemblies/{id}/operations/{name}`.
pub async fn assembly_show(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, CampError> {
    let subject = Subject::assembly(&camp, &caller, &id)?;
    let op = find(&subject, &name)?;
    Ok(shown(view(&base, &subject, op), &uri))
}

/// `GET /camp/v1_1/components/{id}/operations/{name}`.
pub async fn component_show(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, CampError> {
    let subject = Subject::component(&camp, &caller, &id)?;
    let op = find(&subject, &name)?;
    Ok(shown(view(&base, &subject, op), &uri))
}

/// `POST /camp/v1_1/assemblies/{id}/operations/{name}`: carries the operation out.
pub async fn assembly_invoke(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    req: Request,
) -> Result<Response, CampError> {
    let subject = Subject::assembly(&camp, &caller, &id)?;
    invoke(&camp, &caller, &base, subject, &name, req).await
}

/// `POST /camp/v1_1/components/{id}/operations/{name}`: carries the operation out.
pub async fn component_invoke(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    req: Request,
) -> Result<Response, CampError> {
    let subject = Subject::component(&camp, &caller, &id)?;
    invoke(&camp, &caller, &base, subject, &name, req).await
}

/// The parameters of an invocation: a JSON object (`application/json`), or no body at all
/// for none. Names the operation does not take are refused (400).
async fn parameters(req: Request, op: &Operation) -> Result<Map<String, Value>, CampError> {
    let media = body::media(req.headers());
    let has_type = req.headers().contains_key(header::CONTENT_TYPE);
    let bytes = body::small(req.into_body()).await?;
    let empty = bytes.iter().all(u8::is_ascii_whitespace);
    if media != Media::Json && (has_type || !empty) {
        return Err(CampError::media_type(
            "an operation takes its parameters as application/json",
        ));
    }
    let map = if empty {
        Map::new()
    } else {
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| CampError::bad_request(format!("the parameters are not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(CampError::bad_request(
                "the parameters are a JSON object of names and values",
            ));
        };
        map
    };
    if let Some(unknown) = map.keys().find(|k| !op.params.iter().any(|p| p.0 == *k)) {
        let takes = if op.params.is_empty() {
            "none".to_owned()
        } else {
            op.params.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
        };
        return Err(CampError::bad_request(format!(
            "{} takes no parameter {unknown:?} (it takes {takes})",
            op.name
        )));
    }
    for (name, _, required, _) in op.params {
        if *required && !map.contains_key(*name) {
            return Err(CampError::bad_request(format!(
                "{} needs the parameter {name}",
                op.name
            )));
        }
    }
    Ok(map)
}

/// A whole number parameter within `max`, if given (`null` counts as not given).
fn number(params: &Map<String, Value>, name: &str, max: u64) -> Result<Option<u64>, CampError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().filter(|n| *n <= max).map(Some).ok_or_else(|| {
            CampError::bad_request(format!("{name} must be a whole number up to {max}"))
        }),
    }
}

fn small_number(params: &Map<String, Value>, name: &str) -> Result<Option<u32>, CampError> {
    Ok(number(params, name, u64::from(u32::MAX))?.and_then(|n| u32::try_from(n).ok()))
}

/// The rollout changes a redeploy names.
fn rollout_edit(params: &Map<String, Value>) -> Result<RolloutEdit, CampError> {
    let strategy = match params.get("strategy") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "rolling" => Strategy::Rolling,
            "recreate" => Strategy::Recreate,
            "canary" => Strategy::Canary,
            other => {
                return Err(CampError::bad_request(format!(
                    "strategy {other:?} is none of rolling, recreate, canary"
                )));
            }
        }),
        Some(_) => return Err(CampError::bad_request("strategy must be a string")),
    };
    Ok(RolloutEdit {
        strategy,
        max_in_flight: small_number(params, "max_in_flight")?,
        canary_percent: number(params, "canary_percent", 255)?.and_then(|n| u8::try_from(n).ok()),
    })
}

/// The quantities of an assembly's scale.
fn quantities(
    params: &Map<String, Value>,
) -> Result<std::collections::BTreeMap<String, u32>, CampError> {
    let bad = || {
        CampError::bad_request(
            "quantities must be a JSON object of process types and whole numbers, \
             e.g. {\"web\": 2}",
        )
    };
    let Some(Value::Object(map)) = params.get("quantities") else {
        return Err(bad());
    };
    if map.is_empty() {
        return Err(bad());
    }
    map.iter()
        .map(|(kind, q)| {
            let q = q
                .as_u64()
                .and_then(|q| u32::try_from(q).ok())
                .ok_or_else(bad)?;
            Ok((kind.clone(), q))
        })
        .collect()
}

/// The newest deployment of the app, if any.
fn newest_deployment(camp: &Camp, caller: &Caller, app: &App) -> Option<Deployment> {
    camp.paas
        .deployments(caller, &app.name)
        .ok()
        .and_then(|d| d.into_iter().next())
}

/// A "not found" of what a parameter names is the request's fault, not the operation's
/// absence: 422.
fn named(e: PaasError) -> CampError {
    match e {
        PaasError::NotFound { .. } => CampError::unprocessable(e.to_string()),
        other => other.into(),
    }
}

/// What the operation did.
#[derive(Default)]
struct Outcome {
    app: Option<App>,
    deployment: Option<Deployment>,
    release: Option<u32>,
}

async fn invoke(
    camp: &Camp,
    caller: &Caller,
    base: &Base,
    subject: Subject,
    name: &str,
    req: Request,
) -> Result<Response, CampError> {
    let op = find(&subject, name)?;
    let params = parameters(req, op).await?;
    let app = subject.app().clone();
    let kind = subject.process_type().map(str::to_owned);
    let before = newest_deployment(camp, caller, &app).map(|d| d.id);
    let paas = &camp.paas;
    let mut outcome = Outcome::default();
    match op.name {
        "start" | "stop" | "restart" => {
            let action = match op.name {
                "start" => ProcessAction::Start,
                "stop" => ProcessAction::Stop,
                _ => ProcessAction::Restart,
            };
            outcome.app = Some(
                paas.processes(caller, &app.name, action, kind.as_deref())
                    .await?,
            );
        }
        "scale" => {
            let wanted = match &kind {
                Some(kind) => {
                    let quantity = small_number(&params, "quantity")?
                        .ok_or_else(|| CampError::bad_request("quantity must be given"))?;
                    std::iter::once((kind.clone(), quantity)).collect()
                }
                None => quantities(&params)?,
            };
            outcome.app = Some(
                paas.formation_update(caller, &app.name, wanted, None)
                    .await?,
            );
        }
        "redeploy" => {
            let edit = rollout_edit(&params)?;
            outcome.deployment = Some(paas.redeploy(caller, &app.name, edit).await?);
        }
        "rollback" => {
            let version = small_number(&params, "release")?;
            let release = paas
                .rollback(caller, &app.name, version)
                .await
                .map_err(named)?;
            outcome.release = Some(release.version);
        }
        "cancel" => {
            let id = match number(&params, "deployment", i64::MAX as u64)? {
                Some(id) => i64::try_from(id).unwrap_or(i64::MAX),
                None => paas
                    .deployments(caller, &app.name)?
                    .into_iter()
                    .find(|d| d.state == DeploymentState::Deploying)
                    .map(|d| d.id)
                    .ok_or_else(|| {
                        CampError::new(
                            StatusCode::CONFLICT,
                            format!("no deployment of app {} is under way", app.name),
                        )
                    })?,
            };
            outcome.deployment = Some(
                paas.deployment_cancel(caller, &app.name, id)
                    .await
                    .map_err(named)?,
            );
        }
        other => {
            return Err(CampError::internal(format!(
                "operation {other} is offered but not carried out"
            )));
        }
    }
    if outcome.deployment.is_none() {
        // A restart (of a built release) or a rollback makes a deployment of its own.
        outcome.deployment = newest_deployment(camp, caller, &app).filter(|d| {
            Some(d.id) != before
                && match (op.name, outcome.release) {
                    ("rollback", Some(release)) => d.release == release,
                    ("restart", _) => d.cause.starts_with("Restart of"),
                    _ => false,
                }
        });
    }
    accepted(base, &subject, op, &app, outcome)
}

fn accepted(
    base: &Base,
    subject: &Subject,
    op: &Operation,
    app: &App,
    outcome: Outcome,
) -> Result<Response, CampError> {
    let target = subject.uri(base);
    let mut v = json!({
        "operation": operation_uri(base, subject, op),
        "name": op.name,
        "target_resource": target,
        "status": "ACCEPTED",
    });
    let mut location = target;
    if let Some(d) = &outcome.deployment {
        let uri = base.url(&format!("/api/v1/apps/{}/deployments/{}", app.name, d.id));
        v["deployment"] = json!({
            "id": d.id,
            "cause": d.cause,
            "state": d.state.as_str(),
            "release": d.release,
            "from_release": d.from_release,
            "strategy": d.policy.strategy.as_str(),
            "rest_uri": uri,
        });
        location = uri;
    }
    if let Some(release) = outcome.release {
        v["release"] = json!(release);
    }
    if let Some(app) = &outcome.app {
        v["quantities"] = json!(app.formation);
        v["stopped"] = json!(app.stopped);
    }
    let mut response = json(StatusCode::ACCEPTED, &v);
    let location = HeaderValue::from_str(&location)
        .map_err(|_| CampError::internal("the result's URL is not a header value"))?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// `GET /camp/v1_1/parameter_definitions/operations/{kind}/{operation}`.
pub async fn parameter_definitions(
    base: Base,
    _: Authed,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Response, CampError> {
    let (kind, op) = definition_of(&kind, &name)?;
    let links: Vec<Value> = op
        .params
        .iter()
        .map(|(param, _, required, _)| {
            json!({
                "href": format!("{}/{param}", parameters_uri(&base, kind, op)),
                "target_name": param,
                "required": required,
            })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({
            "uri": parameters_uri(&base, kind, op),
            "name": format!("Parameters of the {} operation {}", kind.as_str(), op.name),
            "type": "parameter_definitions",
            "description": "A JSON object of these names and values, POSTed to the operation",
            "parameter_definition_links": links,
        }),
    ))
}

/// `GET /camp/v1_1/parameter_definitions/operations/{kind}/{operation}/{parameter}`.
pub async fn parameter_definition(
    base: Base,
    _: Authed,
    Path((kind, name, param)): Path<(String, String, String)>,
) -> Result<Response, CampError> {
    let (kind, op) = definition_of(&kind, &name)?;
    let (param, parameter_type, _, description) =
        op.params.iter().find(|p| p.0 == param).ok_or_else(|| {
            CampError::not_found(format!("{} takes no parameter {param}", op.name))
        })?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "uri": format!("{}/{param}", parameters_uri(&base, kind, op)),
            "name": param,
            "type": "parameter_definition",
            "description": description,
            "parameter_type": parameter_type,
        }),
    ))
}

fn definition_of(kind: &str, name: &str) -> Result<(Kind, &'static Operation), CampError> {
    let missing = || CampError::not_found(format!("no parameters of a {kind} operation {name}"));
    let kind = Kind::parse(kind).ok_or_else(missing)?;
    let op = offered(kind)
        .iter()
        .find(|o| o.name == name && !o.params.is_empty())
        .ok_or_else(missing)?;
    Ok((kind, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_offer_what_makes_sense_for_one_type() {
        let component: Vec<_> = COMPONENT.iter().map(|o| o.name).collect();
        assert_eq!(component, ["start", "stop", "restart", "scale"]);
        let assembly: Vec<_> = ASSEMBLY.iter().map(|o| o.name).collect();
        assert_eq!(
            assembly,
            [
                "start", "stop", "restart", "scale", "redeploy", "rollback", "cancel"
            ]
        );
    }

    #[test]
    fn quantities_are_an_object_of_whole_numbers() {
        let ok: Map<String, Value> =
            serde_json::from_str(r#"{"quantities": {"web": 2, "worker": 0}}"#).expect("JSON");
        let q = quantities(&ok).expect("quantities");
        assert_eq!(q.get("web"), Some(&2));
        assert_eq!(q.get("worker"), Some(&0));
        for bad in [
            r#"{"quantities": {}}"#,
            r#"{"quantities": {"web": -1}}"#,
            r#"{"quantities": {"web": 1.5}}"#,
            r#"{"quantities": {"web": "2"}}"#,
            r#"{"quantities": [1]}"#,
            r#"{"quantities": {"web": 4294967296}}"#,
        ] {
            let map: Map<String, Value> = serde_json::from_str(bad).expect("JSON");
            assert_eq!(
                quantities(&map).expect_err("refused").status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }

    #[test]
    fn rollout_parameters_are_checked_for_their_type() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"strategy": "recreate", "max_in_flight": 2}"#).expect("JSON");
        let edit = rollout_edit(&map).expect("edit");
        assert_eq!(edit.strategy, Some(Strategy::Recreate));
        assert_eq!(edit.max_in_flight, Some(2));
        assert_eq!(edit.canary_percent, None);
        for bad in [
            r#"{"strategy": "yolo"}"#,
            r#"{"strategy": 1}"#,
            r#"{"max_in_flight": "2"}"#,
            r#"{"canary_percent": 300}"#,
        ] {
            let map: Map<String, Value> = serde_json::from_str(bad).expect("JSON");
            assert!(rollout_edit(&map).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_operations_with_parameters_have_definitions() {
        assert!(definition_of("assembly", "scale").is_ok());
        assert!(definition_of("component", "scale").is_ok());
        assert!(definition_of("assembly", "rollback").is_ok());
        assert!(definition_of("assembly", "restart").is_err());
        assert!(definition_of("component", "rollback").is_err());
        assert!(definition_of("plan", "scale").is_err());
    }
}
