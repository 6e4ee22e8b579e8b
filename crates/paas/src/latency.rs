//! A small fixed-bucket latency histogram for the router's requests of an app in one
//! minute: [`BOUNDS_MS`] upper bounds (1 ms to 30 s, roughly ×1.5–2 apart) and one bucket
//! past the last, so one minute of one app costs the same few hundred bytes whatever the
//! traffic. Percentiles are read by linear interpolation inside the bucket they fall in,
//! so they are exact to within a bucket's width.

/// The buckets' upper bounds, in milliseconds (a last bucket holds what is longer).
pub const BOUNDS_MS: [f64; 22] = [
    1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 500.0,
    750.0, 1000.0, 2000.0, 5000.0, 10000.0, 30000.0,
];

/// How many buckets a histogram has.
const BUCKETS: usize = BOUNDS_MS.len() + 1;

/// Request durations counted per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    counts: [u32; BUCKETS],
}

impl Latency {
    /// Counts one duration, in milliseconds.
    pub fn record(&mut self, ms: f64) {
        let i = BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BOUNDS_MS.len());
        self.counts[i] = self.counts[i].saturating_add(1);
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &Latency) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| u64::from(*c)).sum()
    }

    /// The `q`th quantile (0 < q ≤ 1) in milliseconds, or `None` when nothing was counted.
    /// Past the last bound, the last bound is said (the histogram knows no more).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut below = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            let count = u64::from(*count);
            if count == 0 {
                continue;
            }
            if (below + count) as f64 >= rank {
                let Some(upper) = BOUNDS_MS.get(i) else {
                    return BOUNDS_MS.last().copied();
                };
                let lower = if i == 0 { 0.0 } else { BOUNDS_MS[i - 1] };
                let within = (rank - below as f64) / count as f64;
                return Some(lower + (upper - lower) * within);
            }
            below += count;
        }
        BOUNDS_MS.last().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_counted_has_no_percentiles() {
        let h = Latency::default();
        assert_eq!(h.count(), 0);
        assert_eq!(h.quantile(0.5), None);
    }

    #[test]
    fn percentiles_fall_in_the_right_bucket() {
        let mut h = Latency::default();
        // 98 fast requests (4 ms: the 3–5 ms bucket) and 2 slow ones (400 ms).
        for _ in 0..98 {
            h.record(4.0);
        }
        h.record(400.0);
        h.record(400.0);
        let p50 = h.quantile(0.5).expect("p50");
        let p99 = h.quantile(0.99).expect("p99");
        assert!((3.0..=5.0).contains(&p50), "{p50}");
        assert!((300.0..=500.0).contains(&p99), "{p99}");
        assert!(p50 <= p99);
        assert_eq!(h.count(), 100);
    }

    #[test]
    fn a_single_duration_is_its_own_percentiles_within_a_bucket() {
        let mut h = Latency::default();
        h.record(12.0);
        let p50 = h.quantile(0.5).expect("p50");
        let p99 = h.quantile(0.99).expect("p99");
        assert!((10.0..=15.0).contains(&p50) && (10.0..=15.0).contains(&p99));
        assert!(p50 <= p99);
    }

    #[test]
    fn the_extremes_are_bounded() {
        let mut h = Latency::default();
        h.record(0.0);
        h.record(120_000.0);
        assert!(h.quantile(0.01).expect("low") <= 1.0);
        assert_eq!(h.quantile(1.0), Some(30_000.0));
    }

    #[test]
    fn merging_adds_counts() {
        let mut a = Latency::default();
        let mut b = Latency::default();
        a.record(1.0);
        b.record(1000.0);
        b.record(1000.0);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert!(a.quantile(0.9).expect("p90") > 750.0);
    }
}
