//! Nubo's OASIS CAMP 1.1 API, served beside the REST API on `nubod --api` under [`BASE`]
//! (`docs/camp.md`): discovery (platform endpoints, platform, formats, type, attribute and
//! parameter definitions, extensions, services), plans registered by value, by reference or
//! as Platform Deployment Packages, and assemblies deployed from them, with their
//! components.
//!
//! The front end translates, nothing more: an assembly is a PaaS app (the same object the
//! REST API shows), a component a process type of its current release, a registered plan
//! a PaaS record (`nubo_paas::plans`); every rule lives in `nubo-paas` or the core.
//! Discovery's two endpoints are open; everything else is authenticated as a Nubo user
//! with HTTP Basic, as the REST API is.

mod assemblies;
mod auth;
mod body;
mod defs;
mod deploy;
pub mod error;
mod operations;
pub mod patch;
pub mod pdp;
mod plans;
mod platform;
mod sensors;
mod subject;
pub mod yaml;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nubo_paas::Paas;

use crate::error::CampError;

/// Where CAMP lives on the API listener.
pub const BASE: &str = "/camp";
/// The CAMP 1.1 resources, under [`BASE`].
pub const V1_1: &str = "/camp/v1_1";

/// What every handler gets.
#[derive(Debug, Clone)]
pub struct Camp {
    paas: Paas,
}

/// The CAMP router, to be merged into the API listener's router (it has no fallback of its
/// own outside [`BASE`]).
pub fn router(paas: Paas) -> Router {
    let v1_1 = Router::new()
        .route("/endpoint", get(platform::endpoint))
        .route("/platform", get(platform::platform))
        .route("/formats", get(platform::formats))
        .route("/formats/{name}", get(platform::format))
        .route("/type_definitions", get(platform::type_definitions))
        .route("/type_definitions/{name}", get(platform::type_definition))
        .route(
            "/attribute_definitions/{name}",
            get(platform::attribute_definition),
        )
        .route(
            "/parameter_definitions/deploy",
            get(platform::parameter_definitions),
        )
        .route(
            "/parameter_definitions/deploy/{name}",
            get(platform::parameter_definition),
        )
        .route("/extensions", get(platform::extensions))
        .route("/extensions/{name}", get(platform::extension))
        .route("/services", get(platform::services))
        .route("/services/{name}", get(platform::service))
        .route("/plans", get(plans::list).post(plans::create))
        .route(
            "/plans/{id}",
            get(plans::show)
                .put(plans::put)
                .patch(plans::patch)
                .delete(plans::delete),
        )
        .route(
            "/assemblies",
            get(assemblies::list).post(assemblies::create),
        )
        .route(
            "/assemblies/{id}",
            get(assemblies::show)
                .patch(assemblies::patch)
                .delete(assemblies::delete),
        )
        .route(
            "/components/{id}",
            get(assemblies::component).patch(assemblies::patch_component),
        )
        .route(
            "/assemblies/{id}/operations",
            get(operations::assembly_list),
        )
        .route(
            "/assemblies/{id}/operations/{name}",
            get(operations::assembly_show).post(operations::assembly_invoke),
        )
        .route(
            "/components/{id}/operations",
            get(operations::component_list),
        )
        .route(
            "/components/{id}/operations/{name}",
            get(operations::component_show).post(operations::component_invoke),
        )
        .route("/assemblies/{id}/sensors", get(sensors::assembly_list))
        .route(
            "/assemblies/{id}/sensors/{name}",
            get(sensors::assembly_show),
        )
        .route("/components/{id}/sensors", get(sensors::component_list))
        .route(
            "/components/{id}/sensors/{name}",
            get(sensors::component_show),
        )
        .route(
            "/parameter_definitions/operations/{kind}/{operation}",
            get(operations::parameter_definitions),
        )
        .route(
            "/parameter_definitions/operations/{kind}/{operation}/{parameter}",
            get(operations::parameter_definition),
        );
    let camp = Router::new()
        .route("/platform_endpoints", get(platform::endpoints))
        .nest("/v1_1", v1_1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(Camp { paas });
    Router::new().nest(BASE, camp)
}

async fn not_found(uri: Uri) -> CampError {
    CampError::not_found(format!("no CAMP resource at {}", uri.path()))
}

async fn method_not_allowed(uri: Uri) -> CampError {
    CampError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take this method", uri.path()),
    )
}

/// The scheme and authority hrefs are built from: `http://` and the request's `Host`
/// (`https://` when a proxy says so with `X-Forwarded-Proto`).
#[derive(Debug, Clone)]
pub struct Base(pub String);

impl Base {
    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The absolute URL of a CAMP 1.1 resource, `rest` after `/camp/v1_1/`.
    pub fn v1(&self, rest: &str) -> String {
        format!("{}{V1_1}/{rest}", self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Base {
    type Rejection = CampError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .ok_or_else(|| CampError::bad_request("the request has no Host"))?;
        let ok = !host.is_empty()
            && host.len() <= 255
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
        if !ok {
            return Err(CampError::bad_request("the Host header is not a host name"));
        }
        let https = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
        let scheme = if https { "https" } else { "http" };
        Ok(Base(format!("{scheme}://{host}")))
    }
}

/// A JSON response with this status.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// `201 Created` with `Location` and the new resource.
pub(crate) fn created(location: &str, value: &serde_json::Value) -> Result<Response, CampError> {
    let mut response = json(StatusCode::CREATED, value);
    let location = HeaderValue::from_str(location)
        .map_err(|_| CampError::internal("the new resource's URL is not a header value"))?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// Keeps only the attributes `select_attr` names (all when none is named).
pub(crate) fn select(mut value: serde_json::Value, attrs: &[String]) -> serde_json::Value {
    if attrs.is_empty() {
        return value;
    }
    if let serde_json::Value::Object(map) = &mut value {
        map.retain(|k, _| attrs.iter().any(|a| a == k));
    }
    value
}

/// `200 OK` with `value`, cut to the attributes the request's `select_attr` names.
pub(crate) fn shown(value: serde_json::Value, uri: &Uri) -> Response {
    json(StatusCode::OK, &select(value, &select_attrs(uri)))
}

/// The `select_attr` query parameters (repeated or comma-separated).
pub(crate) fn select_attrs(uri: &Uri) -> Vec<String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("select_attr="))
        .flat_map(|v| v.split(['+', ',']).map(str::to_owned).collect::<Vec<_>>())
        .map(|v| v.replace("%2C", ",").replace("%2c", ","))
        .filter(|v| !v.is_empty())
        .take(64)
        .collect()
}
