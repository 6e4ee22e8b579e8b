//! Nubo's Prometheus metrics (docs/metrics.md): one registry per nubod holding what is
//! counted as it happens (API calls of every front end, the scheduler's placements, the
//! router's requests), and the cloud's state (hosts, VMs, apps and their instances) turned
//! into gauges when scraped, from a [`CloudView`] that nubod reads from the core and the
//! PaaS. Rendered as OpenMetrics text or as Prometheus' text format 0.0.4 ([`Format`]).
//!
//! Every label value is bounded: operations come from the front ends' own tables or from
//! route templates, and anything else is [`UNKNOWN`] or [`UNMATCHED`].

pub mod access;
mod api;
mod buckets;
mod cloud;
mod layer;
mod router;
mod scheduler;
mod text;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::registry::Registry;

pub use api::{Interface, Operation, UNKNOWN, UNMATCHED};
pub use cloud::{CloudView, HostUse, HostView, InstanceView, VmUsage, VmView};
pub use text::Format;

/// Why the metrics could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Writing the exposition failed.
    #[error("cannot write the metrics exposition")]
    Encode(#[from] std::fmt::Error),
}

/// The metrics of one nubod; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    api: api::ApiMetrics,
    scheduler: scheduler::SchedulerMetrics,
    router: router::RouterMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every family registered and nothing counted yet.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let api = api::ApiMetrics::register(&mut registry);
        let scheduler = scheduler::SchedulerMetrics::register(&mut registry);
        let router = router::RouterMetrics::register(&mut registry);
        Metrics {
            inner: Arc::new(Inner {
                registry,
                api,
                scheduler,
                router,
            }),
        }
    }

    /// Counts one API call: `operation` as its front end named it (none: [`UNMATCHED`]),
    /// the HTTP status it was answered with, and how long answering took.
    pub fn observe_call(
        &self,
        interface: Interface,
        operation: Option<&Operation>,
        status: u16,
        took: Duration,
    ) {
        self.inner.api.observe(interface, operation, status, took);
    }

    /// Counts one VM placed by the scheduler, `waited` after it was first seen pending.
    pub fn observe_placement(&self, waited: Duration) {
        self.inner.scheduler.observe(waited);
    }

    /// Counts one request the router answered for `app`.
    pub fn observe_router(&self, app: &str, status: u16, took: Duration) {
        self.inner.router.observe(app, status, took);
    }

    /// The exposition: everything counted, then the cloud's state as `view` shows it.
    pub fn render(&self, view: &CloudView, format: Format) -> Result<String, MetricsError> {
        let mut out = String::new();
        encode_registry(&mut out, &self.inner.registry)?;
        encode_registry(&mut out, &cloud::registry(view))?;
        encode_eof(&mut out)?;
        Ok(match format {
            Format::OpenMetrics => out,
            Format::Prometheus => text::to_prometheus(&out),
        })
    }
}

/// The HTTP status class of `status` (`2xx`, …), a bounded label value.
pub(crate) fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_are_bounded() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(0), "other");
        assert_eq!(status_class(999), "other");
    }

    #[test]
    fn families_without_series_are_left_out() {
        let text = Metrics::new()
            .render(&CloudView::default(), Format::OpenMetrics)
            .expect("render");
        for family in [
            "# TYPE nubo_scheduler_placement_duration_seconds histogram",
            "nubo_scheduler_placement_duration_seconds_count 0",
            "# TYPE nubo_scheduler_pending_vms gauge",
            "nubo_apps 0.0",
        ] {
            assert!(text.contains(family), "{family} missing from\n{text}");
        }
        // A family with labels has no series until something is counted.
        assert!(!text.contains("nubo_api_requests"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
