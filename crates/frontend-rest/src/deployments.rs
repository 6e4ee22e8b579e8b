//! `/apps/{app}/deployments` and `/apps/{app}/rollout`: how an app moves from one release
//! to the next while it serves — the deployments each release, restart and redeploy makes
//! (their state and reason), cancelling one, promoting a canary, redeploying, and the
//! app's rollout policy (strategy, instances in flight, a canary's share).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::deployments::{Deployment, RolloutEdit, RolloutPolicy, Strategy};
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
        .routes(routes!(list_deployments, redeploy))
        .routes(routes!(get_deployment))
        .routes(routes!(act_on_deployment))
        .routes(routes!(get_rollout, update_rollout))
}

/// How a deployment replaces instances.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StrategyView {
    /// `max_in_flight` new instances at a time, each old one stopped once its successor
    /// passes its health check.
    Rolling,
    /// Every old instance stopped, then the new ones started.
    Recreate,
    /// One new `web` instance takes `canary_percent` of the requests until promoted.
    Canary,
}

impl From<Strategy> for StrategyView {
    fn from(s: Strategy) -> Self {
        match s {
            Strategy::Rolling => StrategyView::Rolling,
            Strategy::Recreate => StrategyView::Recreate,
            Strategy::Canary => StrategyView::Canary,
        }
    }
}

impl From<StrategyView> for Strategy {
    fn from(s: StrategyView) -> Self {
        match s {
            StrategyView::Rolling => Strategy::Rolling,
            StrategyView::Recreate => Strategy::Recreate,
            StrategyView::Canary => Strategy::Canary,
        }
    }
}

/// How deployments go.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolloutView {
    /// The strategy.
    pub strategy: StrategyView,
    /// New instances of a process type started at once.
    pub max_in_flight: u32,
    /// The share of requests a canary takes, in percent.
    pub canary_percent: u8,
}

impl From<RolloutPolicy> for RolloutView {
    fn from(p: RolloutPolicy) -> Self {
        RolloutView {
            strategy: p.strategy.into(),
            max_in_flight: p.max_in_flight,
            canary_percent: p.canary_percent,
        }
    }
}

/// Changes to how deployments go (absent fields keep their value).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutPatch {
    /// The strategy.
    pub strategy: Option<StrategyView>,
    /// New instances of a process type started at once (1 to 100).
    #[schema(minimum = 1, maximum = 100)]
    pub max_in_flight: Option<u32>,
    /// The share of requests a canary takes (1 to 99 %).
    #[schema(minimum = 1, maximum = 99)]
    pub canary_percent: Option<u8>,
}

impl From<RolloutPatch> for RolloutEdit {
    fn from(p: RolloutPatch) -> Self {
        RolloutEdit {
            strategy: p.strategy.map(Strategy::from),
            max_in_flight: p.max_in_flight,
            canary_percent: p.canary_percent,
        }
    }
}

/// A deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentView {
    /// Its id.
    pub id: i64,
    /// What made it: `Release v3: …`, `Restart of web`, `Redeploy`.
    pub cause: String,
    /// The release that served before (0: none).
    pub from_release: u32,
    /// The release it brings.
    pub release: u32,
    /// How it goes.
    pub rollout: RolloutView,
    /// Whether its canary was promoted.
    pub promoted: bool,
    /// `DEPLOYING`, `DEPLOYED`, `CANCELING`, `CANCELED`, `FAILED` or `SUPERSEDED`.
    pub state: String,
    /// Why it failed, was cancelled or superseded (with the instance's last output lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who made it (user id).
    pub user_id: i32,
    /// When it was made (seconds since the epoch).
    pub created_at: i64,
    /// When its state last changed.
    pub updated_at: i64,
}

impl From<&Deployment> for DeploymentView {
    fn from(d: &Deployment) -> Self {
        DeploymentView {
            id: d.id,
            cause: d.cause.clone(),
            from_release: d.from_release,
            release: d.release,
            rollout: d.policy.into(),
            promoted: d.promoted,
            state: d.state.as_str().to_owned(),
            reason: d.reason.clone(),
            user_id: d.uid,
            created_at: d.created,
            updated_at: d.updated,
        }
    }
}

/// The app's deployments, newest first (the last 20 are kept).
#[utoipa::path(get, path = "/apps/{app}/deployments", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "The deployments", body = Vec<DeploymentView>),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_deployments(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<Vec<DeploymentView>>, ApiError> {
    let list = api.paas.deployments(&caller, &name)?;
    Ok(Json(list.iter().map(DeploymentView::from).collect()))
}

/// Redeploys the current release: every instance replaced, as the body (or the app's
/// rollout policy) says, the old ones serving meanwhile.
#[utoipa::path(post, path = "/apps/{app}/deployments", tag = "apps", request_body = RolloutPatch,
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 201, description = "Under way", body = DeploymentView, headers(("Location" = String))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The app has no build yet", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value out of bounds", body = Problem, content_type = "application/problem+json"),
    ))]
async fn redeploy(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    JsonBody(patch): JsonBody<RolloutPatch>,
) -> Result<Response, ApiError> {
    let d = api.paas.redeploy(&caller, &name, patch.into()).await?;
    let location = HeaderValue::from_str(&format!("{BASE}/apps/{name}/deployments/{}", d.id))
        .map_err(|_| ApiError::bad_request("the app name cannot be a URL"))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(DeploymentView::from(&d)),
    )
        .into_response())
}

/// A deployment.
#[utoipa::path(get, path = "/apps/{app}/deployments/{deployment}", tag = "apps",
    params(("app" = String, Path, description = "The app's name"),
        ("deployment" = i64, Path, description = "The deployment's id")),
    responses(
        (status = 200, description = "The deployment", body = DeploymentView),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app or deployment", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_deployment(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param((name, id)): Param<(String, i64)>,
) -> Result<Json<DeploymentView>, ApiError> {
    Ok(Json(DeploymentView::from(
        &api.paas.deployment(&caller, &name, id)?,
    )))
}

/// Cancels a deployment under way (`cancel`: the release it left gets every instance
/// back) or promotes a canary (`promote`: it goes on as a rolling deployment).
#[utoipa::path(post, path = "/apps/{app}/deployments/{deployment}/{action}", tag = "apps",
    params(("app" = String, Path, description = "The app's name"),
        ("deployment" = i64, Path, description = "The deployment's id"),
        ("action" = String, Path, description = "`cancel` or `promote`")),
    responses(
        (status = 202, description = "Under way", body = DeploymentView),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app, deployment or action", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The deployment is not under way, or not a canary", body = Problem, content_type = "application/problem+json"),
    ))]
async fn act_on_deployment(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param((name, id, action)): Param<(String, i64, String)>,
) -> Result<(StatusCode, Json<DeploymentView>), ApiError> {
    let d = match action.as_str() {
        "cancel" => api.paas.deployment_cancel(&caller, &name, id).await?,
        "promote" => api.paas.deployment_promote(&caller, &name, id).await?,
        other => {
            // Who may not see the deployment hears that first.
            api.paas.deployment(&caller, &name, id)?;
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no deployment action {other:?}: cancel or promote"),
            ));
        }
    };
    Ok((StatusCode::ACCEPTED, Json(DeploymentView::from(&d))))
}

/// How the app's deployments go.
#[utoipa::path(get, path = "/apps/{app}/rollout", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "The rollout policy", body = RolloutView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_rollout(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<RolloutView>, ApiError> {
    Ok(Json(api.paas.app_get(&caller, &name)?.rollout.into()))
}

/// Changes how the app's next deployments go.
#[utoipa::path(patch, path = "/apps/{app}/rollout", tag = "apps", request_body = RolloutPatch,
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "The rollout policy", body = RolloutView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value out of bounds", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_rollout(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    JsonBody(patch): JsonBody<RolloutPatch>,
) -> Result<Json<RolloutView>, ApiError> {
    let app = api
        .paas
        .rollout_update(&caller, &name, patch.into())
        .await?;
    Ok(Json(app.rollout.into()))
}
