//! `/apps/{app}/runs`: one-off commands in fresh containers of the app's current release
//! (Heroku's `run`): start one, see how it ended, read or follow its output.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{JsonBody, Param, QueryParams};
use crate::job_log::{self, LogParams};
use crate::problem::{ApiError, Problem};
use crate::{Api, BASE};

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(create_run))
        .routes(routes!(get_run))
        .routes(routes!(get_run_log))
}

/// A command to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCreate {
    /// Run by `/bin/sh -c` in `/app`, with the app's config vars (at most 16 KiB).
    pub command: String,
}

/// A one-off run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    /// Its id.
    pub id: i64,
    /// The command.
    pub command: String,
    /// The release it runs.
    pub release: u32,
    /// `starting`, `running`, `succeeded` (exit status 0) or `failed`.
    pub status: String,
    /// The command's exit status, once it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed without an exit status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who started it (user id).
    pub user_id: i32,
    /// When it was started and ended (seconds since the epoch; 0: not yet).
    pub created_at: i64,
    /// When it ended.
    pub finished_at: i64,
}

impl From<&nubo_paas::model::Run> for RunView {
    fn from(r: &nubo_paas::model::Run) -> Self {
        RunView {
            id: r.id,
            command: r.command.clone(),
            release: r.release,
            status: r.status.as_str().to_owned(),
            exit_code: r.exit_code,
            reason: r.reason.clone(),
            user_id: r.uid,
            created_at: r.created,
            finished_at: r.finished,
        }
    }
}

/// Runs a command in a fresh container of the app's current release (202: follow its log).
#[utoipa::path(post, path = "/apps/{app}/runs", tag = "apps", request_body = RunCreate,
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 202, description = "Started", body = RunView, headers(("Location" = String))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The app has no built release yet", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty or too long command", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_run(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    JsonBody(body): JsonBody<RunCreate>,
) -> Result<Response, ApiError> {
    let run = api.paas.run_create(&caller, &name, &body.command).await?;
    let location = HeaderValue::from_str(&format!("{BASE}/apps/{name}/runs/{}", run.id))
        .map_err(|_| ApiError::bad_request("the app name cannot be a URL"))?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(RunView::from(&run)),
    )
        .into_response())
}

/// A run.
#[utoipa::path(get, path = "/apps/{app}/runs/{run}", tag = "apps",
    params(("app" = String, Path, description = "The app's name"),
        ("run" = i64, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app or run", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_run(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param((name, id)): Param<(String, i64)>,
) -> Result<Json<RunView>, ApiError> {
    Ok(Json(RunView::from(&api.paas.run_get(&caller, &name, id)?)))
}

/// The run's output (stdout and stderr, then `nubo-run: exit N`).
#[utoipa::path(get, path = "/apps/{app}/runs/{run}/log", tag = "apps",
    params(("app" = String, Path, description = "The app's name"),
        ("run" = i64, Path, description = "The run's id"), LogParams),
    responses(
        (status = 200, description = "The output from `offset` (streamed until the run ends with `follow`)",
            body = String, content_type = "text/plain",
            headers(("Nubo-Log-Next" = u64, description = "The offset to read from next (without follow)"))),
        (status = 400, description = "Bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app or run", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_run_log(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param((name, id)): Param<(String, i64)>,
    QueryParams(params): QueryParams<LogParams>,
) -> Result<Response, ApiError> {
    job_log::respond(params, move |offset| {
        let (api, caller, name) = (api.clone(), caller.clone(), name.clone());
        async move {
            let (data, next, run) = api.paas.run_log(&caller, &name, id, offset).await?;
            Ok((data, next, run.status.is_final()))
        }
    })
    .await
}
