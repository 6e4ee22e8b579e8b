//! `/apps/{app}/metrics`, `/apps/{app}/metrics/history` and `/apps/{app}/events`: an
//! app's monitoring — what its instances use (CPU, memory, restarts, instances desired
//! and up) and how the router's requests go (rate, 5xx, latency p50/p99), now and per
//! minute over the last 24 hours — and its events (builds, deployments, rollbacks,
//! crashes, scaling, health changes) as a typed list.

use axum::Json;
use axum::extract::State;
use nubo_paas::app_events::{AppEvent, EVENTS_MAX};
use nubo_paas::app_metrics::{
    AppMetrics, HISTORY_MAX, HistoryQuery, InstanceMetrics, MetricsPoint, ProcessTypeMetrics,
    RESOLUTION_MAX, Requests, TypePoint,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Api;
use crate::auth::Authed;
use crate::extract::{Param, QueryParams};
use crate::problem::{ApiError, Problem};

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(get_metrics))
        .routes(routes!(get_metrics_history))
        .routes(routes!(get_events))
}

/// The router's requests of an app over some seconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestsView {
    /// Requests answered.
    pub requests: u64,
    /// Of them, answered with a 5xx status (the app's own, or the router's 502/503/504).
    pub errors_5xx: u64,
    /// The seconds they were counted over.
    pub seconds: u32,
    /// Requests per second.
    pub requests_per_second: f64,
    /// 5xx answers per second.
    pub errors_per_second: f64,
    /// The share of requests answered 5xx (0 to 1).
    pub error_share: f64,
    /// Median time to the response's head, in ms (absent without requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile of the time to the response's head, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<f64>,
}

impl From<&Requests> for RequestsView {
    fn from(r: &Requests) -> Self {
        RequestsView {
            requests: r.requests,
            errors_5xx: r.errors_5xx,
            seconds: r.seconds,
            requests_per_second: r.requests_per_second,
            errors_per_second: r.errors_per_second,
            error_share: r.error_share,
            latency_p50_ms: r.latency_p50_ms,
            latency_p99_ms: r.latency_p99_ms,
        }
    }
}

/// One instance now.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceMetricsView {
    /// Its name (`shop-web-1`).
    pub name: String,
    /// Its VM's id.
    pub vm_id: i32,
    /// Its process type.
    pub process_type: String,
    /// Its index within the type.
    pub index: u32,
    /// The release it runs.
    pub release: u32,
    /// `starting`, `up`, `unhealthy`, `crashed`, `stopping`, `failed` or `unknown`.
    pub state: String,
    /// CPU at its VM's last monitoring sample (percent of one core); absent before one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// Memory at that sample (bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// When that sample was taken (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled_at: Option<i64>,
    /// Restarts after its process ended (since nubod started).
    pub restarts: u32,
}

impl From<&InstanceMetrics> for InstanceMetricsView {
    fn from(i: &InstanceMetrics) -> Self {
        InstanceMetricsView {
            name: i.name.clone(),
            vm_id: i.vm,
            process_type: i.process_type.clone(),
            index: i.index,
            release: i.release,
            state: i.state.clone(),
            cpu_percent: i.cpu_percent,
            memory_bytes: i.memory_bytes,
            sampled_at: i.sampled_at,
            restarts: i.restarts,
        }
    }
}

/// One process type now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessTypeMetricsView {
    /// The type.
    pub process_type: String,
    /// Instances the formation wants (0 when the type is stopped).
    pub desired: u32,
    /// Instances up.
    pub up: u32,
    /// CPU of its instances, summed (percent of one core).
    pub cpu_percent: f64,
    /// Memory of its instances, summed (bytes).
    pub memory_bytes: u64,
    /// Restarts of its instances after a crash.
    pub restarts: u32,
    /// The router's requests (`web` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestsView>,
}

impl From<&ProcessTypeMetrics> for ProcessTypeMetricsView {
    fn from(t: &ProcessTypeMetrics) -> Self {
        ProcessTypeMetricsView {
            process_type: t.process_type.clone(),
            desired: t.desired,
            up: t.up,
            cpu_percent: t.cpu_percent,
            memory_bytes: t.memory_bytes,
            restarts: t.restarts,
            requests: t.requests.as_ref().map(RequestsView::from),
        }
    }
}

/// An app now.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppMetricsView {
    /// The app.
    pub app: String,
    /// When read (seconds since the epoch).
    pub at: i64,
    /// Instances wanted, all types.
    pub desired: u32,
    /// Instances up, all types.
    pub up: u32,
    /// CPU of all its instances (percent of one core).
    pub cpu_percent: f64,
    /// Memory of all its instances (bytes).
    pub memory_bytes: u64,
    /// Restarts of its instances after a crash.
    pub restarts: u32,
    /// The router's requests over the minute under way and the one before.
    pub requests: RequestsView,
    /// Per process type.
    pub process_types: Vec<ProcessTypeMetricsView>,
    /// Per instance.
    pub instances: Vec<InstanceMetricsView>,
}

impl From<&AppMetrics> for AppMetricsView {
    fn from(m: &AppMetrics) -> Self {
        AppMetricsView {
            app: m.app.clone(),
            at: m.at,
            desired: m.desired,
            up: m.up,
            cpu_percent: m.cpu_percent,
            memory_bytes: m.memory_bytes,
            restarts: m.restarts,
            requests: (&m.requests).into(),
            process_types: m.process_types.iter().map(Into::into).collect(),
            instances: m.instances.iter().map(Into::into).collect(),
        }
    }
}

/// A process type over a point's minutes.
#[derive(Debug, Serialize, ToSchema)]
pub struct TypePointView {
    /// The type.
    pub process_type: String,
    /// Mean CPU of its instances (percent of one core, summed over instances).
    pub cpu_percent: f64,
    /// Mean memory of its instances (bytes, summed over instances).
    pub memory_bytes: u64,
    /// Instances up at the last sample.
    pub up: u32,
    /// Instances wanted at the last sample.
    pub desired: u32,
    /// Restarts of its instances at the last sample.
    pub restarts: u32,
}

impl From<&TypePoint> for TypePointView {
    fn from(t: &TypePoint) -> Self {
        TypePointView {
            process_type: t.process_type.clone(),
            cpu_percent: t.cpu_percent,
            memory_bytes: t.memory_bytes,
            up: t.up,
            desired: t.desired,
            restarts: t.restarts,
        }
    }
}

/// An app over `minutes` minutes from `at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsPointView {
    /// The first minute (seconds since the epoch).
    pub at: i64,
    /// How many minutes the point covers.
    pub minutes: u32,
    /// The router's requests in them.
    pub requests: RequestsView,
    /// Mean CPU of all its instances (percent of one core).
    pub cpu_percent: f64,
    /// Mean memory of all its instances (bytes).
    pub memory_bytes: u64,
    /// Instances up at the last sample.
    pub up: u32,
    /// Instances wanted at the last sample.
    pub desired: u32,
    /// Per process type.
    pub process_types: Vec<TypePointView>,
}

impl From<&MetricsPoint> for MetricsPointView {
    fn from(p: &MetricsPoint) -> Self {
        MetricsPointView {
            at: p.at,
            minutes: p.minutes,
            requests: (&p.requests).into(),
            cpu_percent: p.cpu_percent,
            memory_bytes: p.memory_bytes,
            up: p.up,
            desired: p.desired,
            process_types: p.process_types.iter().map(Into::into).collect(),
        }
    }
}

/// One event of an app.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppEventView {
    /// When (seconds since the epoch).
    pub time: i64,
    /// When, as the app's log wrote it (UTC, ms).
    pub at: String,
    /// `build`, `deploy`, `rollback`, `crash`, `scale`, `health`, `config` or `other`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    /// What happened.
    pub message: String,
}

impl From<&AppEvent> for AppEventView {
    fn from(e: &AppEvent) -> Self {
        AppEventView {
            time: e.time,
            at: e.at.clone(),
            kind: e.kind.as_str().to_owned(),
            message: e.message.clone(),
        }
    }
}

/// Which history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    /// The last so many minutes (default 60, at most 1440).
    #[param(minimum = 1, maximum = 1440)]
    minutes: Option<u32>,
    /// Only from this time on (seconds since the epoch).
    since: Option<i64>,
    /// Minutes per point (1 to 60, default 1).
    #[param(minimum = 1, maximum = 60)]
    resolution: Option<u32>,
}

/// Which events.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EventParams {
    /// Only events from this time on (seconds since the epoch).
    since: Option<i64>,
    /// The last so many events (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// The app's figures now: totals, per process type and per instance.
#[utoipa::path(get, path = "/apps/{app}/metrics", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "The app's figures", body = AppMetricsView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_metrics(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<AppMetricsView>, ApiError> {
    Ok(Json((&api.paas.app_metrics(&caller, &name)?).into()))
}

/// The app's figures per minute (or per `resolution` minutes), oldest first; minutes
/// without any figure (nubod not running) have no point. Kept in memory for 24 hours.
#[utoipa::path(get, path = "/apps/{app}/metrics/history", tag = "apps",
    params(("app" = String, Path, description = "The app's name"), HistoryParams),
    responses(
        (status = 200, description = "The points", body = Vec<MetricsPointView>),
        (status = 400, description = "Bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_metrics_history(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    QueryParams(params): QueryParams<HistoryParams>,
) -> Result<Json<Vec<MetricsPointView>>, ApiError> {
    if params.minutes.is_some_and(|m| m == 0 || m > HISTORY_MAX) {
        return Err(ApiError::bad_request(format!(
            "minutes is 1 to {HISTORY_MAX}"
        )));
    }
    if params
        .resolution
        .is_some_and(|r| r == 0 || r > RESOLUTION_MAX)
    {
        return Err(ApiError::bad_request(format!(
            "resolution is 1 to {RESOLUTION_MAX}"
        )));
    }
    let query = HistoryQuery {
        minutes: params.minutes,
        since: params.since,
        resolution: params.resolution,
    };
    let points = api.paas.app_metrics_history(&caller, &name, &query)?;
    Ok(Json(points.iter().map(Into::into).collect()))
}

/// The app's events (builds, deployments, rollbacks, crashes, scaling, health changes,
/// config changes), oldest first: the platform's lines of its log, typed.
#[utoipa::path(get, path = "/apps/{app}/events", tag = "apps",
    params(("app" = String, Path, description = "The app's name"), EventParams),
    responses(
        (status = 200, description = "The events", body = Vec<AppEventView>),
        (status = 400, description = "Bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_events(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    QueryParams(params): QueryParams<EventParams>,
) -> Result<Json<Vec<AppEventView>>, ApiError> {
    if params.limit.is_some_and(|l| l == 0 || l > EVENTS_MAX) {
        return Err(ApiError::bad_request(format!("limit is 1 to {EVENTS_MAX}")));
    }
    let events = api
        .paas
        .app_events(&caller, &name, params.since, params.limit)
        .await?;
    Ok(Json(events.iter().map(Into::into).collect()))
}

#[cfg(test)]
mod tests {
    /// The documented bounds are the enforced ones.
    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        let doc = serde_json::to_value(crate::openapi()).expect("the document is JSON");
        let param = |path: &str, name: &str| {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .find(|p| p["name"] == name)
                .expect("the parameter")
                .clone()
        };
        let minutes = param("/apps/{app}/metrics/history", "minutes");
        assert_eq!(
            minutes["schema"]["maximum"],
            u64::from(super::HISTORY_MAX),
            "{minutes}"
        );
        let resolution = param("/apps/{app}/metrics/history", "resolution");
        assert_eq!(
            resolution["schema"]["maximum"],
            u64::from(super::RESOLUTION_MAX)
        );
        let limit = param("/apps/{app}/events", "limit");
        assert_eq!(limit["schema"]["maximum"], super::EVENTS_MAX as u64);
    }
}
