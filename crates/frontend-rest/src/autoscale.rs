//! `/apps/{app}/autoscaling`: autoscaling policies per process type — between `min` and
//! `max` instances, as many as keep CPU or requests per instance at `target`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use nubo_paas::autoscale::{AutoscaleMetric, AutoscalePolicy};
use serde::{Deserialize, Serialize};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Api;
use crate::auth::Authed;
use crate::extract::{JsonBody, Param};
use crate::health::nullable_map_schema;
use crate::problem::{ApiError, Problem};

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(get_autoscaling, update_autoscaling))
}

/// What a policy measures.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricView {
    /// CPU, percent of a core per instance.
    Cpu,
    /// Requests per second per instance, from the router (`web` only).
    Requests,
}

/// A process type's autoscaling policy.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleView {
    /// The fewest instances (0 to `max`).
    #[schema(minimum = 0, maximum = 100)]
    pub min: u32,
    /// The most instances (1 to 100).
    #[schema(minimum = 1, maximum = 100)]
    pub max: u32,
    /// What is measured.
    pub metric: MetricView,
    /// The load per instance to keep: percent of a core, or requests per second.
    #[schema(minimum = 1, maximum = 1000000)]
    pub target: u32,
}

impl From<AutoscalePolicy> for AutoscaleView {
    fn from(p: AutoscalePolicy) -> Self {
        AutoscaleView {
            min: p.min,
            max: p.max,
            metric: match p.metric {
                AutoscaleMetric::Cpu => MetricView::Cpu,
                AutoscaleMetric::Requests => MetricView::Requests,
            },
            target: p.target,
        }
    }
}

impl From<AutoscaleView> for AutoscalePolicy {
    fn from(v: AutoscaleView) -> Self {
        AutoscalePolicy {
            min: v.min,
            max: v.max,
            metric: match v.metric {
                MetricView::Cpu => AutoscaleMetric::Cpu,
                MetricView::Requests => AutoscaleMetric::Requests,
            },
            target: v.target,
        }
    }
}

/// Autoscaling policies by process type.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Autoscaling(pub BTreeMap<String, AutoscaleView>);

/// Policy changes by process type: a policy sets it, `null` removes it.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct AutoscalingPatch(pub BTreeMap<String, Option<AutoscaleView>>);

impl PartialSchema for AutoscalingPatch {
    fn schema() -> RefOr<Schema> {
        nullable_map_schema(
            &AutoscaleView::name(),
            "Autoscaling policy changes by process type: a policy sets it, `null` removes it.",
        )
    }
}

impl ToSchema for AutoscalingPatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            AutoscaleView::name().into_owned(),
            <AutoscaleView as PartialSchema>::schema(),
        ));
        <AutoscaleView as ToSchema>::schemas(schemas);
    }
}

fn views(policies: BTreeMap<String, AutoscalePolicy>) -> Autoscaling {
    Autoscaling(policies.into_iter().map(|(t, p)| (t, p.into())).collect())
}

/// The app's autoscaling policies.
#[utoipa::path(get, path = "/apps/{app}/autoscaling", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "Policies by process type", body = Autoscaling),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_autoscaling(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<Autoscaling>, ApiError> {
    Ok(Json(views(api.paas.autoscaling_get(&caller, &name)?)))
}

/// Sets (a policy) or removes (`null`) process types' autoscaling, e.g.
/// `{"web": {"min": 1, "max": 5, "metric": "requests", "target": 50}}`; the autoscaler
/// applies them within 15 s.
#[utoipa::path(patch, path = "/apps/{app}/autoscaling", tag = "apps",
    request_body = AutoscalingPatch,
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "The policies now", body = Autoscaling),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A policy out of bounds", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_autoscaling(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    JsonBody(patch): JsonBody<AutoscalingPatch>,
) -> Result<Json<Autoscaling>, ApiError> {
    let edit = patch
        .0
        .into_iter()
        .map(|(t, p)| (t, p.map(AutoscalePolicy::from)))
        .collect();
    let app = api.paas.autoscaling_update(&caller, &name, edit).await?;
    Ok(Json(views(app.autoscaling)))
}
