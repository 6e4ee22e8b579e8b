//! `/apps/{app}/builds`: start a build from a git repository, list and show builds, read or
//! follow a build's log.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::model::BuildSource;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{JsonBody, Param, QueryParams};
use crate::job_log::{self, LogParams};
use crate::problem::{ApiError, Problem};
use crate::views::{BuildCreate, BuildView, SourceSpec, Tarball};
use crate::{Api, BASE};

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_builds, create_build))
        .routes(routes!(get_build))
        .routes(routes!(get_build_log))
}

/// Starts a build of the app (202: it runs in the background; follow its log): from a git
/// repository (JSON), or from the tarball in the body (`application/gzip` or
/// `application/x-tar`; a single top-level directory is taken as the root).
#[utoipa::path(post, path = "/apps/{app}/builds", tag = "builds",
    request_body(content(
        (BuildCreate = "application/json"),
        (Tarball = "application/gzip"),
        (Tarball = "application/x-tar"),
    )),
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 202, description = "Queued", body = BuildView, headers(("Location" = String))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The app's stack is DISABLED", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The tarball is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is neither JSON nor a tarball", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad repository URL or reference", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_build(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let build = match media.as_str() {
        "application/gzip" | "application/x-gzip" | "application/x-tar" | "application/x-gtar" => {
            api.paas.may_build(&caller, &name)?;
            let config = api.paas.config();
            let file = crate::upload::receive(
                req.into_body(),
                &config.upload_dir(),
                config.build.source_max_bytes,
            )
            .await?;
            api.paas.build_create_archive(&caller, &name, &file).await?
        }
        _ => {
            let JsonBody(body) = JsonBody::<BuildCreate>::from_request(req, &api).await?;
            let SourceSpec::Git { url, reference } = body.source;
            api.paas
                .build_create(&caller, &name, BuildSource::Git { url, reference })
                .await?
        }
    };
    let location = HeaderValue::from_str(&format!("{BASE}/apps/{name}/builds/{}", build.id))
        .map_err(|_| ApiError::bad_request("the app name cannot be a URL"))?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(BuildView::from(&build)),
    )
        .into_response())
}

/// The app's builds, newest first.
#[utoipa::path(get, path = "/apps/{app}/builds", tag = "builds",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "Builds, newest first", body = Vec<BuildView>),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_builds(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<Vec<BuildView>>, ApiError> {
    let builds = api.paas.builds(&caller, &name)?;
    Ok(Json(builds.iter().map(BuildView::from).collect()))
}

/// One build.
#[utoipa::path(get, path = "/apps/{app}/builds/{build}", tag = "builds",
    params(("app" = String, Path, description = "The app's name"),
        ("build" = i64, Path, description = "The build's id")),
    responses(
        (status = 200, description = "The build", body = BuildView),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app or build", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_build(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param((name, id)): Param<(String, i64)>,
) -> Result<Json<BuildView>, ApiError> {
    Ok(Json(BuildView::from(
        &api.paas.build_get(&caller, &name, id)?,
    )))
}

/// The build's log (text): what was fetched, detected, and everything the build printed.
#[utoipa::path(get, path = "/apps/{app}/builds/{build}/log", tag = "builds",
    params(("app" = String, Path, description = "The app's name"),
        ("build" = i64, Path, description = "The build's id"), LogParams),
    responses(
        (status = 200, description = "The log from `offset` (all of it so far, or streamed until the build ends with `follow`)",
            body = String, content_type = "text/plain",
            headers(("Nubo-Log-Next" = u64, description = "The offset to read from next (without follow)"))),
        (status = 400, description = "Bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app or build", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_build_log(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param((name, id)): Param<(String, i64)>,
    QueryParams(params): QueryParams<LogParams>,
) -> Result<Response, ApiError> {
    job_log::respond(params, move |offset| {
        let (api, caller, name) = (api.clone(), caller.clone(), name.clone());
        async move {
            let (data, next, build) = api.paas.build_log(&caller, &name, id, offset).await?;
            Ok((data, next, build.status.is_final()))
        }
    })
    .await
}
