//! The scheduler: how long each VM waited from being seen pending to being placed (the
//! queue's length is read from the state when scraped, [`crate::CloudView`]).

use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The scheduler's families.
#[derive(Debug)]
pub(crate) struct SchedulerMetrics {
    placement: Histogram,
}

impl SchedulerMetrics {
    pub(crate) fn register(registry: &mut Registry) -> SchedulerMetrics {
        let placement = crate::buckets::placement();
        registry.register(
            "nubo_scheduler_placement_duration_seconds",
            "How long each VM the scheduler placed waited, from the scheduler first seeing it pending to its placement being committed",
            placement.clone(),
        );
        SchedulerMetrics { placement }
    }

    pub(crate) fn observe(&self, waited: Duration) {
        self.placement.observe(waited.as_secs_f64());
    }
}
