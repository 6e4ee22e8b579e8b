//! CAMP sensors (`sensors_uri` of assemblies and components): readings of the PaaS's
//! monitoring (`Paas::app_metrics`, `crates/paas/src/app_metrics.rs`) as sensor resources
//! (`type: sensor`, with `documentation`, `target_resource`, `sensor_type`, `value` and
//! `timestamp`). An assembly's sensors are the app's totals, a component's its process
//! type's. The request sensors read the router, which sends requests to `web` instances
//! only: a component of another type has none (`value` null), as the latencies have none
//! without requests. Reading them takes what reading the app takes (USE). The extension
//! attribute `rest_uri` names the REST resource of the same figures.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use nubo_core::Caller;
use nubo_paas::app_metrics::{AppMetrics, Requests};
use serde_json::{Value, json};

use crate::auth::Authed;
use crate::error::CampError;
use crate::subject::Subject;
use crate::{Base, Camp, shown};

/// A sensor: (name, sensor_type, description).
type Sensor = (&'static str, &'static str, &'static str);

/// Every sensor of an assembly and of a component.
pub const SENSORS: &[Sensor] = &[
    (
        "request_rate",
        "org.nubo:RequestsPerSecond",
        "Requests the router answered per second, over the minute under way and the one \
         before it",
    ),
    (
        "error_rate",
        "org.nubo:ErrorShare",
        "The share of those requests answered with a 5xx status, 0 to 1",
    ),
    (
        "latency_p50",
        "org.nubo:Milliseconds",
        "The median time to a response's head, in milliseconds (null without requests)",
    ),
    (
        "latency_p99",
        "org.nubo:Milliseconds",
        "The 99th percentile of the time to a response's head, in milliseconds (null \
         without requests)",
    ),
    (
        "instances_desired",
        "org.nubo:InstanceCount",
        "Instances wanted (0 for a stopped process type)",
    ),
    (
        "instances_up",
        "org.nubo:InstanceCount",
        "Instances up and passing their checks",
    ),
    (
        "cpu",
        "org.nubo:CpuPercent",
        "CPU the instances use, in percent of one core, summed (their VMs' last monitoring \
         sample)",
    ),
    (
        "memory",
        "org.nubo:Bytes",
        "Memory the instances use, in bytes, summed (their VMs' last monitoring sample)",
    ),
    (
        "restarts",
        "org.nubo:RestartCount",
        "How many times instances were started again after their process ended (since \
         nubod started)",
    ),
];

/// A time (seconds since the epoch) as CAMP's Timestamp: ISO 8601 in UTC.
pub fn timestamp(epoch: i64) -> String {
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    let (y, m, d) = nubo_core::calendar::civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The figures of a subject: what its sensors read.
struct Figures {
    requests: Option<Requests>,
    desired: u32,
    up: u32,
    cpu_percent: f64,
    memory_bytes: u64,
    restarts: u32,
}

fn figures(metrics: AppMetrics, subject: &Subject) -> Figures {
    match subject.process_type() {
        None => Figures {
            requests: Some(metrics.requests),
            desired: metrics.desired,
            up: metrics.up,
            cpu_percent: metrics.cpu_percent,
            memory_bytes: metrics.memory_bytes,
            restarts: metrics.restarts,
        },
        Some(kind) => match metrics
            .process_types
            .into_iter()
            .find(|t| t.process_type == kind)
        {
            Some(t) => Figures {
                requests: t.requests,
                desired: t.desired,
                up: t.up,
                cpu_percent: t.cpu_percent,
                memory_bytes: t.memory_bytes,
                restarts: t.restarts,
            },
            None => Figures {
                requests: (kind == "web").then_some(metrics.requests),
                desired: 0,
                up: 0,
                cpu_percent: 0.0,
                memory_bytes: 0,
                restarts: 0,
            },
        },
    }
}

fn reading(f: &Figures, name: &str) -> Value {
    let requests = f.requests.as_ref();
    match name {
        "request_rate" => json!(requests.map(|r| r.requests_per_second)),
        "error_rate" => json!(requests.map(|r| r.error_share)),
        "latency_p50" => json!(requests.and_then(|r| r.latency_p50_ms)),
        "latency_p99" => json!(requests.and_then(|r| r.latency_p99_ms)),
        "instances_desired" => json!(f.desired),
        "instances_up" => json!(f.up),
        "cpu" => json!(f.cpu_percent),
        "memory" => json!(f.memory_bytes),
        "restarts" => json!(f.restarts),
        _ => Value::Null,
    }
}

fn sensor_uri(base: &Base, subject: &Subject, name: &str) -> String {
    format!("{}/sensors/{name}", subject.uri(base))
}

fn read(camp: &Camp, caller: &Caller, subject: &Subject) -> Result<(Figures, i64), CampError> {
    let metrics = camp.paas.app_metrics(caller, &subject.app().name)?;
    let at = metrics.at;
    Ok((figures(metrics, subject), at))
}

fn view(base: &Base, subject: &Subject, sensor: &Sensor, f: &Figures, at: i64) -> Value {
    let (name, sensor_type, description) = sensor;
    json!({
        "uri": sensor_uri(base, subject, name),
        "name": name,
        "type": "sensor",
        "description": description,
        "documentation": base.url("/api/v1/openapi.json"),
        "target_resource": subject.uri(base),
        "sensor_type": sensor_type,
        "value": reading(f, name),
        "timestamp": timestamp(at),
        "rest_uri": metrics_uri(base, subject),
    })
}

/// The REST resource the figures come from.
fn metrics_uri(base: &Base, subject: &Subject) -> String {
    base.url(&format!("/api/v1/apps/{}/metrics", subject.app().name))
}

fn list_view(base: &Base, subject: &Subject) -> Value {
    let links: Vec<Value> = SENSORS
        .iter()
        .map(|(name, _, _)| json!({"href": sensor_uri(base, subject, name), "target_name": name}))
        .collect();
    json!({
        "uri": format!("{}/sensors", subject.uri(base)),
        "name": format!("Sensors of {}", subject.label()),
        "type": "sensors",
        "description": "What it does now, from the PaaS's monitoring",
        "target_resource": subject.uri(base),
        "sensor_links": links,
        "rest_uri": metrics_uri(base, subject),
    })
}

fn one(
    camp: &Camp,
    caller: &Caller,
    base: &Base,
    subject: &Subject,
    name: &str,
    uri: &Uri,
) -> Result<Response, CampError> {
    let sensor = SENSORS.iter().find(|s| s.0 == name).ok_or_else(|| {
        CampError::not_found(format!("{} has no sensor {name:?}", subject.label()))
    })?;
    let (f, at) = read(camp, caller, subject)?;
    let v = view(base, subject, sensor, &f, at);
    Ok(shown(v, uri))
}

/// `GET /camp/v1_1/assemblies/{id}/sensors`.
pub async fn assembly_list(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, CampError> {
    let subject = Subject::assembly(&camp, &caller, &id)?;
    let v = list_view(&base, &subject);
    Ok(shown(v, &uri))
}

/// `GET /camp/v1_1/components/{id}/sensors`.
pub async fn component_list(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, CampError> {
    let subject = Subject::component(&camp, &caller, &id)?;
    let v = list_view(&base, &subject);
    Ok(shown(v, &uri))
}

/// `GET /camp/v1_1/assemblies/{id}/sensors/{name}`.
pub async fn assembly_show(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, CampError> {
    let subject = Subject::assembly(&camp, &caller, &id)?;
    one(&camp, &caller, &base, &subject, &name, &uri)
}

/// `GET /camp/v1_1/components/{id}/sensors/{name}`.
pub async fn component_show(
    State(camp): State<Camp>,
    base: Base,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, CampError> {
    let subject = Subject::component(&camp, &caller, &id)?;
    one(&camp, &caller, &base, &subject, &name, &uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_in_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_796_641_832), "2026-12-07T11:10:32Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn sensor_names_are_unique_and_typed() {
        let mut names: Vec<_> = SENSORS.iter().map(|s| s.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SENSORS.len());
        assert!(SENSORS.iter().all(|s| s.1.starts_with("org.nubo:")));
    }

    #[test]
    fn a_type_without_requests_reads_null_and_counts_read_numbers() {
        let f = Figures {
            requests: None,
            desired: 2,
            up: 1,
            cpu_percent: 1.5,
            memory_bytes: 1024,
            restarts: 3,
        };
        assert_eq!(reading(&f, "request_rate"), Value::Null);
        assert_eq!(reading(&f, "latency_p99"), Value::Null);
        assert_eq!(reading(&f, "instances_desired"), json!(2));
        assert_eq!(reading(&f, "instances_up"), json!(1));
        assert_eq!(reading(&f, "cpu"), json!(1.5));
        assert_eq!(reading(&f, "memory"), json!(1024));
        assert_eq!(reading(&f, "restarts"), json!(3));
    }
}
