//! `/apps/{app}/domains`: the custom host names the router serves an app at.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{JsonBody, Param};
use crate::problem::{ApiError, Problem};
use crate::{Api, BASE};

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_domains, add_domain))
        .routes(routes!(remove_domain))
}

/// An app's host names.
#[derive(Debug, Serialize, ToSchema)]
pub struct Domains {
    /// `<app>.<apps domain>`, when the router is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Custom domains, sorted.
    pub custom: Vec<String>,
}

/// A custom domain to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainAdd {
    /// A host name, e.g. `www.example.com` (point its DNS at the router).
    pub hostname: String,
}

fn domains(api: &Api, app: &nubo_paas::model::App) -> Domains {
    Domains {
        default: api
            .paas
            .config()
            .apps_domain
            .as_ref()
            .map(|d| format!("{}.{d}", app.name)),
        custom: app.domains.clone(),
    }
}

/// The app's host names.
#[utoipa::path(get, path = "/apps/{app}/domains", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "Host names", body = Domains),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_domains(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<Domains>, ApiError> {
    let app = api.paas.app_get(&caller, &name)?;
    Ok(Json(domains(&api, &app)))
}

/// Adds a custom domain (taken by one app in the cloud).
#[utoipa::path(post, path = "/apps/{app}/domains", tag = "apps", request_body = DomainAdd,
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 201, description = "Added", body = Domains, headers(("Location" = String))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another app has the domain", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a host name, under the apps domain, or too many", body = Problem, content_type = "application/problem+json"),
    ))]
async fn add_domain(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    JsonBody(body): JsonBody<DomainAdd>,
) -> Result<Response, ApiError> {
    let app = api.paas.domain_add(&caller, &name, &body.hostname).await?;
    let added = nubo_paas::domains::normalize_domain(&body.hostname)?;
    let location = HeaderValue::from_str(&format!("{BASE}/apps/{name}/domains/{added}"))
        .map_err(|_| ApiError::bad_request("the domain cannot be a URL"))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(domains(&api, &app)),
    )
        .into_response())
}

/// Removes a custom domain.
#[utoipa::path(delete, path = "/apps/{app}/domains/{hostname}", tag = "apps",
    params(("app" = String, Path, description = "The app's name"),
        ("hostname" = String, Path, description = "The custom domain")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app or domain", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a host name", body = Problem, content_type = "application/problem+json"),
    ))]
async fn remove_domain(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param((name, hostname)): Param<(String, String)>,
) -> Result<StatusCode, ApiError> {
    api.paas.domain_remove(&caller, &name, &hostname).await?;
    Ok(StatusCode::NO_CONTENT)
}
