//! `/apps`: create, list, show and delete apps; their config vars, formation and releases.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::{AppFilter, NewApp};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{JsonBody, Param, QueryParams, etag, if_match};
use crate::problem::{ApiError, Problem};
use crate::views::{
    AppCreate, AppPage, AppView, ConfigVars, ConfigVarsPatch, Formation, InstanceView, ReleaseView,
};
use crate::{Api, BASE};

/// The most apps on one page.
const PAGE_MAX: usize = 500;

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, create_app))
        .routes(routes!(get_app, delete_app))
        .routes(routes!(get_config_vars, update_config_vars))
        .routes(routes!(get_formation, update_formation))
        .routes(routes!(list_releases))
        .routes(routes!(get_release))
        .routes(routes!(list_instances))
}

/// Paging of a listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// The most items to return (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// Start after this name (the `next` of the previous page).
    after: Option<String>,
    /// Only the apps on this stack (e.g. the apps still on a DEPRECATED one).
    stack: Option<String>,
}

/// Lists the apps the caller may see.
#[utoipa::path(get, path = "/apps", tag = "apps", params(ListParams),
    responses(
        (status = 200, description = "One page of apps", body = AppPage),
        (status = 400, description = "Bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_apps(
    State(api): State<Api>,
    Authed(caller): Authed,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<AppPage>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {PAGE_MAX}"
        )));
    }
    let (apps, next) = api.paas.app_list_on(
        &caller,
        &AppFilter {
            after: params.after,
            limit,
        },
        params.stack.as_deref(),
    )?;
    Ok(Json(AppPage {
        items: apps.iter().map(|a| view(&api, a)).collect(),
        next,
    }))
}

/// Creates an app, owned by the caller, with its first release.
#[utoipa::path(post, path = "/apps", tag = "apps", request_body = AppCreate,
    responses(
        (status = 201, description = "Created", body = AppView,
            headers(("Location" = String, description = "The app's URL"), ("ETag" = String))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed to create apps", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken, or the stack cannot take new apps", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_app(
    State(api): State<Api>,
    Authed(caller): Authed,
    JsonBody(body): JsonBody<AppCreate>,
) -> Result<Response, ApiError> {
    let app = api
        .paas
        .app_create(
            &caller,
            NewApp {
                name: body.name,
                stack: body.stack,
            },
        )
        .await?;
    let location = HeaderValue::from_str(&format!("{BASE}/apps/{}", app.name))
        .map_err(|_| ApiError::bad_request("the app name cannot be a URL"))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        etag(app.revision),
        Json(view(&api, &app)),
    )
        .into_response())
}

/// Shows an app.
#[utoipa::path(get, path = "/apps/{app}", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "The app", body = AppView, headers(("ETag" = String))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_app(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Response, ApiError> {
    let app = api.paas.app_get(&caller, &name)?;
    Ok((etag(app.revision), Json(view(&api, &app))).into_response())
}

/// Deletes an app and everything of it.
#[utoipa::path(delete, path = "/apps/{app}", tag = "apps",
    params(("app" = String, Path, description = "The app's name"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only if the app is at this ETag")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The app changed since that ETag", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_app(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    api.paas
        .app_delete(&caller, &name, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The app's config vars (needs MANAGE: they hold its secrets).
#[utoipa::path(get, path = "/apps/{app}/config-vars", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "Config vars", body = ConfigVars, headers(("ETag" = String))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_config_vars(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Response, ApiError> {
    let (app, config) = api.paas.config_get(&caller, &name)?;
    Ok((etag(app.revision), Json(ConfigVars(config))).into_response())
}

/// Sets (a string) and removes (`null`) config vars; a change makes a new release.
#[utoipa::path(patch, path = "/apps/{app}/config-vars", tag = "apps",
    request_body = ConfigVarsPatch,
    params(("app" = String, Path, description = "The app's name"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only if the app is at this ETag")),
    responses(
        (status = 200, description = "The config vars now", body = ConfigVars,
            headers(("ETag" = String), ("Nubo-Release" = u32, description = "The app's release now"))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The app changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name or value is not allowed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_config_vars(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<ConfigVarsPatch>,
) -> Result<Response, ApiError> {
    let app = api
        .paas
        .config_update(&caller, &name, patch.0, if_match(&headers)?)
        .await?;
    Ok((
        etag(app.revision),
        release_header(app.release),
        Json(ConfigVars(app.config)),
    )
        .into_response())
}

/// The `Nubo-Release` header: the app's current release.
fn release_header(version: u32) -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::HeaderName::from_static("nubo-release"),
        HeaderValue::from(version),
    )]
}

/// The view of `app`, with its host name when the router serves the apps.
pub(crate) fn view(api: &Api, app: &nubo_paas::model::App) -> AppView {
    let mut v = AppView::from(app);
    v.hostname = api
        .paas
        .config()
        .apps_domain
        .as_ref()
        .map(|d| format!("{}.{d}", app.name));
    v
}

/// The process formation: instances wanted per process type.
#[utoipa::path(get, path = "/apps/{app}/formation", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "The formation", body = Formation, headers(("ETag" = String))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_formation(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Response, ApiError> {
    let app = api.paas.app_get(&caller, &name)?;
    Ok((etag(app.revision), Json(Formation(app.formation))).into_response())
}

/// Scales process types: `{"web": 3, "worker": 1}`.
#[utoipa::path(patch, path = "/apps/{app}/formation", tag = "apps",
    request_body = Formation,
    params(("app" = String, Path, description = "The app's name"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Only if the app is at this ETag")),
    responses(
        (status = 200, description = "The formation now", body = Formation, headers(("ETag" = String))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The app changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such process type, or too many instances", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_formation(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    headers: HeaderMap,
    JsonBody(formation): JsonBody<Formation>,
) -> Result<Response, ApiError> {
    let app = api
        .paas
        .formation_update(&caller, &name, formation.0, if_match(&headers)?)
        .await?;
    Ok((etag(app.revision), Json(Formation(app.formation))).into_response())
}

/// The app's releases, newest first.
#[utoipa::path(get, path = "/apps/{app}/releases", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "Releases, newest first", body = Vec<ReleaseView>),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_releases(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<Vec<ReleaseView>>, ApiError> {
    let app = api.paas.app_get(&caller, &name)?;
    let releases = api.paas.releases(&caller, &name)?;
    Ok(Json(
        releases
            .iter()
            .map(|r| ReleaseView::of(r, app.release))
            .collect(),
    ))
}

/// One release.
#[utoipa::path(get, path = "/apps/{app}/releases/{version}", tag = "apps",
    params(("app" = String, Path, description = "The app's name"),
        ("version" = u32, Path, description = "The release's version")),
    responses(
        (status = 200, description = "The release", body = ReleaseView),
        (status = 400, description = "Bad version", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app or release", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_release(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param((name, version)): Param<(String, u32)>,
) -> Result<Json<ReleaseView>, ApiError> {
    let app = api.paas.app_get(&caller, &name)?;
    let release = api.paas.release(&caller, &name, version)?;
    Ok(Json(ReleaseView::of(&release, app.release)))
}

/// The app's instances: which process of which release runs where, and how it is doing.
#[utoipa::path(get, path = "/apps/{app}/instances", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "Instances by type and index", body = Vec<InstanceView>),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_instances(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<Vec<InstanceView>>, ApiError> {
    let instances = api.paas.instances(&caller, &name)?;
    Ok(Json(instances.iter().map(InstanceView::from).collect()))
}
