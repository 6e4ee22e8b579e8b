//! `/apps/{app}/health-checks`: when an instance of each process type counts as up, and
//! how long a new one has to get there.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use nubo_paas::model::{HealthCheck, HealthCheckType};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Api;
use crate::auth::Authed;
use crate::extract::{JsonBody, Param, etag, if_match};
use crate::problem::{ApiError, Problem};

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(get_health_checks, update_health_checks))
}

/// How an instance's health is checked.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckType {
    /// Up as soon as its process runs (the default of types other than `web`).
    Process,
    /// Up when `$PORT` accepts connections (the default of `web`).
    Port,
    /// Up when `GET path` on `$PORT` answers 2xx (`web` only).
    Http,
    /// Up when `command`, run in the instance by `/bin/sh -c` with its environment, exits
    /// 0 within 10 s (any process type).
    Command,
}

/// A process type's health check.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckView {
    /// How it is checked.
    #[serde(rename = "type")]
    pub kind: CheckType,
    /// The path an `http` check asks for, such as `/health` (only for `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1024, pattern = "^/")]
    pub path: Option<String>,
    /// The shell command a `command` check runs in the instance, such as
    /// `test -f /tmp/ready` (only for `command`; one line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 4096)]
    pub command: Option<String>,
    /// Seconds a new instance has to pass it (1 to 600; default 60), else its release
    /// fails to start.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 600)]
    pub timeout: Option<u32>,
    /// The status an `http` check wants (default: any 2xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 100, maximum = 599)]
    pub status: Option<u16>,
    /// Seconds between checks of an instance that is up (1 to 600; default 2).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 600)]
    pub interval: Option<u32>,
    /// Failed checks in a row after which an instance that was up is replaced (1 to 100;
    /// default 3); the first takes it out of the routes.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub failures: Option<u32>,
}

/// Health checks by process type.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct HealthChecks(pub BTreeMap<String, HealthCheckView>);

/// Health check changes by process type: a check sets it, `null` goes back to the default.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct HealthChecksPatch(pub BTreeMap<String, Option<HealthCheckView>>);

// utoipa derives no schema for a map of optional structs: written out.
impl utoipa::PartialSchema for HealthChecksPatch {
    fn schema() -> RefOr<Schema> {
        nullable_map_schema(
            &HealthCheckView::name(),
            "Health check changes by process type: a check sets it, `null` goes back to the \
             default.",
        )
    }
}

/// The schema of a JSON object whose values are `item` (a schema's name) or `null`.
pub(crate) fn nullable_map_schema(item: &str, description: &str) -> RefOr<Schema> {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
    let value = OneOfBuilder::new()
        .item(Ref::from_schema_name(item))
        .item(ObjectBuilder::new().schema_type(Type::Null));
    ObjectBuilder::new()
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::OneOf(
            value.build(),
        )))))
        .into()
}

impl ToSchema for HealthChecksPatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            HealthCheckView::name().into_owned(),
            <HealthCheckView as utoipa::PartialSchema>::schema(),
        ));
        <HealthCheckView as ToSchema>::schemas(schemas);
    }
}

impl From<HealthCheck> for HealthCheckView {
    fn from(check: HealthCheck) -> Self {
        HealthCheckView {
            kind: match check.kind {
                HealthCheckType::Process => CheckType::Process,
                HealthCheckType::Port => CheckType::Port,
                HealthCheckType::Http => CheckType::Http,
                HealthCheckType::Command => CheckType::Command,
            },
            path: check.path,
            command: check.command,
            timeout: Some(check.timeout),
            status: check.status,
            interval: Some(check.interval),
            failures: Some(check.failures),
        }
    }
}

impl From<HealthCheckView> for HealthCheck {
    fn from(view: HealthCheckView) -> Self {
        HealthCheck {
            kind: match view.kind {
                CheckType::Process => HealthCheckType::Process,
                CheckType::Port => HealthCheckType::Port,
                CheckType::Http => HealthCheckType::Http,
                CheckType::Command => HealthCheckType::Command,
            },
            path: view.path,
            command: view.command,
            timeout: view.timeout.unwrap_or(nubo_paas::health::DEFAULT_TIMEOUT),
            status: view.status,
            interval: view.interval.unwrap_or(nubo_paas::health::DEFAULT_INTERVAL),
            failures: view.failures.unwrap_or(nubo_paas::health::DEFAULT_FAILURES),
        }
    }
}

fn views(checks: BTreeMap<String, HealthCheck>) -> HealthChecks {
    HealthChecks(checks.into_iter().map(|(t, c)| (t, c.into())).collect())
}

/// Each process type's health check: those the current release declares and those set.
#[utoipa::path(get, path = "/apps/{app}/health-checks", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "Health checks by process type", body = HealthChecks, headers(("ETag" = String))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_health_checks(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Response, ApiError> {
    let (app, checks) = api.paas.health_checks_get(&caller, &name)?;
    Ok((etag(app.revision), Json(views(checks))).into_response())
}

/// Sets (a check) or resets (`null`) process types' health checks, e.g.
/// `{"web": {"type": "http", "path": "/health", "timeout": 30}}`; they apply to instances
/// started from now on.
#[utoipa::path(patch, path = "/apps/{app}/health-checks", tag = "apps",
    request_body = HealthChecksPatch,
    params(("app" = String, Path, description = "The app's name"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only if the app is at this ETag")),
    responses(
        (status = 200, description = "The health checks now", body = HealthChecks, headers(("ETag" = String))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The app changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A check that is not allowed (type, path, timeout or process type)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_health_checks(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<HealthChecksPatch>,
) -> Result<Response, ApiError> {
    let edit = patch
        .0
        .into_iter()
        .map(|(t, c)| (t, c.map(HealthCheck::from)))
        .collect();
    let app = api
        .paas
        .health_checks_update(&caller, &name, edit, if_match(&headers)?)
        .await?;
    let (app, checks) = api.paas.health_checks_get(&caller, &app.name)?;
    Ok((etag(app.revision), Json(views(checks))).into_response())
}
