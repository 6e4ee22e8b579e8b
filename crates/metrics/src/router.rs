//! The apps' router in nubod: requests by app and HTTP status class, and their latency
//! (until the response's head) by app. App names are bounded by the PaaS's apps: the
//! router names only apps it found for a request's host.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::status_class;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    app: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    app: String,
}

/// The router's families.
#[derive(Debug)]
pub(crate) struct RouterMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<AppLabels, Histogram, fn() -> Histogram>,
}

impl RouterMetrics {
    pub(crate) fn register(registry: &mut Registry) -> RouterMetrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<AppLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            crate::buckets::request,
        );
        registry.register(
            "nubo_router_requests",
            "Requests the apps' router answered, by app and HTTP status class",
            requests.clone(),
        );
        registry.register(
            "nubo_router_request_duration_seconds",
            "How long the apps' router took to answer requests (until the response's head), by app",
            latency.clone(),
        );
        RouterMetrics { requests, latency }
    }

    pub(crate) fn observe(&self, app: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                app: app.to_owned(),
                status: status_class(status),
            })
            .inc();
        self.latency
            .get_or_create(&AppLabels {
                app: app.to_owned(),
            })
            .observe(took.as_secs_f64());
    }
}
