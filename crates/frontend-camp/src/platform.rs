//! Discovery: platform endpoints and the endpoint (open to all), the platform, formats,
//! type and attribute definitions (the OASIS JSON, embedded verbatim, with its relative
//! hrefs made absolute), the deploy parameters, Nubo's extensions (each pointing at the REST
//! resource it stands for) and the PaaS's stacks as services.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::auth::Authed;
use crate::defs::{ATTRIBUTE_DEFINITIONS, TYPE_DEFINITIONS};
use crate::error::CampError;
use crate::{Base, Camp, json};

/// CAMP's version string.
pub const SPECIFICATION_VERSION: &str = "CAMP 1.1";
/// Nubo's implementation version.
pub const IMPLEMENTATION_VERSION: &str = concat!("Nubo ", env!("CARGO_PKG_VERSION"));

fn ok(value: Value) -> Response {
    json(StatusCode::OK, &value)
}

fn link(href: String, target_name: &str) -> Value {
    json!({"href": href, "target_name": target_name})
}

/// `GET /camp/platform_endpoints` (no authentication).
pub async fn endpoints(base: Base) -> Response {
    ok(json!({
        "uri": base.url("/camp/platform_endpoints"),
        "name": "Nubo CAMP platform endpoints",
        "type": "platform_endpoints",
        "description": "The CAMP versions this Nubo speaks",
        "platform_endpoint_links": [link(base.v1("endpoint"), "Nubo CAMP 1.1 endpoint")],
    }))
}

/// `GET /camp/v1_1/endpoint` (no authentication).
pub async fn endpoint(base: Base) -> Response {
    ok(json!({
        "uri": base.v1("endpoint"),
        "name": "Nubo CAMP 1.1 endpoint",
        "type": "platform_endpoint",
        "description": "Nubo's CAMP 1.1 platform; authenticate as a Nubo user with HTTP Basic",
        "platform_uri": base.v1("platform"),
        "specification_version": SPECIFICATION_VERSION,
        "backward_compatible_specification_versions": [],
        "implementation_version": IMPLEMENTATION_VERSION,
        "backward_compatible_implementation_versions": [],
        "auth_scheme": "HTTP-Basic",
    }))
}

/// `GET /camp/v1_1/platform`.
pub async fn platform(base: Base, _: Authed) -> Response {
    ok(json!({
        "uri": base.v1("platform"),
        "name": "Nubo",
        "type": "platform",
        "description": "Nubo's PaaS: apps built from source and run in containers",
        "supported_formats_uri": base.v1("formats"),
        "extensions_uri": base.v1("extensions"),
        "type_definitions_uri": base.v1("type_definitions"),
        "platform_endpoints_uri": base.url("/camp/platform_endpoints"),
        "specification_version": SPECIFICATION_VERSION,
        "implementation_version": IMPLEMENTATION_VERSION,
        "assemblies_uri": base.v1("assemblies"),
        "services_uri": base.v1("services"),
        "plans_uri": base.v1("plans"),
    }))
}

/// `GET /camp/v1_1/formats`.
pub async fn formats(base: Base, _: Authed) -> Response {
    ok(json!({
        "uri": base.v1("formats"),
        "name": "Nubo CAMP formats",
        "type": "formats",
        "format_links": [link(base.v1("formats/json"), "JSON")],
    }))
}

/// `GET /camp/v1_1/formats/json`.
pub async fn format(
    base: Base,
    _: Authed,
    Path(name): Path<String>,
) -> Result<Response, CampError> {
    if name != "json" {
        return Err(CampError::not_found(format!("no format {name}")));
    }
    Ok(ok(json!({
        "uri": base.v1("formats/json"),
        "name": "JSON",
        "type": "format",
        "description": "JavaScript Object Notation",
        "mime_type": "application/json",
        "version": "RFC4627",
        "documentation": "http://www.ietf.org/rfc/rfc4627.txt",
    })))
}

/// `GET /camp/v1_1/type_definitions`.
pub async fn type_definitions(base: Base, _: Authed) -> Response {
    let links: Vec<Value> = TYPE_DEFINITIONS
        .iter()
        .map(|(name, _)| link(base.v1(&format!("type_definitions/{name}")), name))
        .collect();
    ok(json!({
        "uri": base.v1("type_definitions"),
        "name": "Nubo CAMP type definitions",
        "type": "type_definitions",
        "type_definition_links": links,
    }))
}

/// An embedded definition with its `uri` and link hrefs made absolute.
fn absolute(text: &str, base: &Base, kind: &str) -> Result<Value, CampError> {
    let mut value: Value = serde_json::from_str(text)
        .map_err(|e| CampError::internal(format!("an embedded definition is not JSON: {e}")))?;
    if let Some(Value::String(uri)) = value.get_mut("uri") {
        *uri = base.v1(&format!("{kind}/{uri}"));
    }
    for (key, target) in [
        ("attribute_definition_links", "attribute_definitions"),
        ("inherits_from", "type_definitions"),
    ] {
        if let Some(Value::Array(links)) = value.get_mut(key) {
            for l in links {
                if let Some(Value::String(href)) = l.get_mut("href") {
                    *href = base.v1(&format!("{target}/{href}"));
                }
            }
        }
    }
    Ok(value)
}

/// `GET /camp/v1_1/type_definitions/{name}`.
pub async fn type_definition(
    base: Base,
    _: Authed,
    Path(name): Path<String>,
) -> Result<Response, CampError> {
    let (_, text) = TYPE_DEFINITIONS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| CampError::not_found(format!("no type definition {name}")))?;
    Ok(ok(absolute(text, &base, "type_definitions")?))
}

/// `GET /camp/v1_1/attribute_definitions/{name}`.
pub async fn attribute_definition(
    base: Base,
    _: Authed,
    Path(name): Path<String>,
) -> Result<Response, CampError> {
    let (_, text) = ATTRIBUTE_DEFINITIONS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| CampError::not_found(format!("no attribute definition {name}")))?;
    Ok(ok(absolute(text, &base, "attribute_definitions")?))
}

/// The deploy parameters: (name, type, description).
const PARAMETERS: &[(&str, &str, &str)] = &[
    ("pdp_uri", "URI", "A PDP by reference (not offered: 501)"),
    (
        "plan_uri",
        "URI",
        "A plan by reference: a plan registered on this platform",
    ),
    (
        "pdp_file",
        "String",
        "A PDP (zip, tar or tar.gz) as the pdp_file part of a multipart/form-data body",
    ),
    (
        "plan_file",
        "String",
        "A plan (YAML) as the plan_file part of a multipart/form-data body",
    ),
];

/// `GET /camp/v1_1/parameter_definitions/deploy`.
pub async fn parameter_definitions(base: Base, _: Authed) -> Response {
    let links: Vec<Value> = PARAMETERS
        .iter()
        .map(|(name, _, _)| {
            json!({
                "href": base.v1(&format!("parameter_definitions/deploy/{name}")),
                "target_name": name,
                "required": false,
            })
        })
        .collect();
    ok(json!({
        "uri": base.v1("parameter_definitions/deploy"),
        "name": "Nubo deploy parameters",
        "type": "parameter_definitions",
        "description": "What POST to plans and assemblies takes: give exactly one",
        "parameter_definition_links": links,
    }))
}

/// `GET /camp/v1_1/parameter_definitions/deploy/{name}`.
pub async fn parameter_definition(
    base: Base,
    _: Authed,
    Path(name): Path<String>,
) -> Result<Response, CampError> {
    let (name, kind, description) = PARAMETERS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| CampError::not_found(format!("no parameter definition {name}")))?;
    Ok(ok(json!({
        "uri": base.v1(&format!("parameter_definitions/deploy/{name}")),
        "name": name,
        "type": "parameter_definition",
        "description": description,
        "parameter_type": kind,
    })))
}

/// Nubo's extensions: (name, description, REST path template).
const EXTENSIONS: &[(&str, &str, &str)] = &[
    (
        "builds",
        "Builds of an assembly's app from source; an assembly's builds_uri lists them",
        "/api/v1/apps/{app}/builds",
    ),
    (
        "releases",
        "Immutable numbered releases (slug and config vars); an assembly's releases_uri",
        "/api/v1/apps/{app}/releases",
    ),
    (
        "logs",
        "A build's log (text, followable); an assembly's logs_uri is its newest build's",
        "/api/v1/apps/{app}/builds/{build}/log",
    ),
    (
        "process_types",
        "Process types as components, with the extension attribute quantity (instances \
         wanted; PATCH it to scale); the REST formation",
        "/api/v1/apps/{app}/formation",
    ),
];

/// `GET /camp/v1_1/extensions`.
pub async fn extensions(base: Base, _: Authed) -> Response {
    let links: Vec<Value> = EXTENSIONS
        .iter()
        .map(|(name, _, _)| link(base.v1(&format!("extensions/{name}")), name))
        .collect();
    ok(json!({
        "uri": base.v1("extensions"),
        "name": "Nubo extensions",
        "type": "extensions",
        "extension_links": links,
    }))
}

/// `GET /camp/v1_1/extensions/{name}`.
pub async fn extension(
    base: Base,
    _: Authed,
    Path(name): Path<String>,
) -> Result<Response, CampError> {
    let (name, description, rest) = EXTENSIONS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| CampError::not_found(format!("no extension {name}")))?;
    Ok(ok(json!({
        "uri": base.v1(&format!("extensions/{name}")),
        "name": name,
        "type": "extension",
        "description": description,
        "version": "1",
        "documentation": base.url("/api/v1/openapi.json"),
        "rest_uri": base.url(rest),
    })))
}

fn service_view(base: &Base, stack: &nubo_paas::model::Stack) -> Value {
    json!({
        "uri": base.v1(&format!("services/{}", stack.name)),
        "name": stack.name,
        "type": "service",
        "description": if stack.description.is_empty() {
            format!("Stack {} {}", stack.name, stack.version)
        } else {
            stack.description.clone()
        },
        "characteristics": [{
            "characteristic_type": "org.nubo:Stack",
            "org.nubo:version": stack.version,
            "org.nubo:state": stack.state.as_str(),
        }],
        "rest_uri": base.url(&format!("/api/v1/stacks/{}", stack.name)),
    })
}

/// `GET /camp/v1_1/services`: the PaaS's stacks.
pub async fn services(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
) -> Result<Response, CampError> {
    let stacks = camp.paas.stack_list(&caller)?;
    let links: Vec<Value> = stacks
        .iter()
        .map(|s| link(base.v1(&format!("services/{}", s.name)), &s.name))
        .collect();
    Ok(ok(json!({
        "uri": base.v1("services"),
        "name": "Nubo services",
        "type": "services",
        "description": "The stacks apps build and run on",
        "service_links": links,
    })))
}

/// `GET /camp/v1_1/services/{name}`.
pub async fn service(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(name): Path<String>,
) -> Result<Response, CampError> {
    let stack = camp.paas.stack_get(&caller, &name)?;
    Ok(ok(service_view(&base, &stack)))
}
