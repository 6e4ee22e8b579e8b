//! The histograms' bucket bounds (seconds).

use prometheus_client::metrics::histogram::Histogram;

/// Request latencies: half a millisecond to a minute.
const REQUEST: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Waits in the scheduler's queue: a few milliseconds to ten minutes.
const PLACEMENT: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 600.0,
];

/// A histogram of request latencies.
pub(crate) fn request() -> Histogram {
    Histogram::new(REQUEST)
}

/// A histogram of placement waits.
pub(crate) fn placement() -> Histogram {
    Histogram::new(PLACEMENT)
}
