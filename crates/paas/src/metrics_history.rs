//! The memory behind an app's monitoring ([`crate::app_metrics`]): per app, one slot per
//! minute over the last [`HISTORY_MINUTES`] (24 hours) of the router's requests
//! ([`Traffic`]: counts and a [`Latency`] histogram) and, per process type (at most
//! [`TYPES_MAX`]), of what its instances used ([`Usage`]). Each series is a [`Ring`] of
//! fixed size allocated when the app is first seen, so an app costs the same whatever its
//! traffic; its series go when the app does. Kept in memory only: a restarted nubod starts
//! with empty series.

use std::collections::{BTreeMap, HashMap};

use crate::latency::Latency;

/// How many minutes each series keeps: 24 hours.
pub const HISTORY_MINUTES: usize = 1440;
/// The most process types of an app whose history is kept (the others are shown now,
/// not over time).
pub const TYPES_MAX: usize = 10;

/// One minute of the router's requests of an app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Requests answered.
    pub requests: u32,
    /// Of them, answered with a 5xx status (the app's or the router's own 502/503/504).
    pub errors: u32,
    /// How long the answers' heads took.
    pub latency: Latency,
}

impl Traffic {
    /// Adds another minute's requests to these.
    pub fn merge(&mut self, other: &Traffic) {
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
        self.latency.merge(&other.latency);
    }
}

/// What a process type's instances used in one minute, from the samples taken in it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// The sum over samples of the CPU its instances used (percent of one core).
    pub cpu_sum: f64,
    /// The sum over samples of the memory its instances used (bytes).
    pub memory_sum: f64,
    /// How many samples were taken.
    pub samples: u32,
    /// Instances up at the last sample.
    pub up: u32,
    /// Instances wanted at the last sample.
    pub desired: u32,
    /// Restarts after a crash of its instances at the last sample.
    pub restarts: u32,
}

impl Usage {
    /// Adds a later minute's samples to these (the counts become the later ones).
    pub fn merge(&mut self, later: &Usage) {
        self.cpu_sum += later.cpu_sum;
        self.memory_sum += later.memory_sum;
        self.samples = self.samples.saturating_add(later.samples);
        self.up = later.up;
        self.desired = later.desired;
        self.restarts = later.restarts;
    }

    /// The mean CPU over the samples (percent of one core).
    pub fn cpu(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.cpu_sum / f64::from(self.samples)
        }
    }

    /// The mean memory over the samples (bytes).
    pub fn memory(&self) -> u64 {
        if self.samples == 0 {
            0
        } else {
            (self.memory_sum / f64::from(self.samples)).round() as u64
        }
    }
}

/// One value per minute over the last [`HISTORY_MINUTES`]: minute `m` (minutes since the
/// epoch) lives in slot `m mod HISTORY_MINUTES`, and a slot holding an older minute is
/// cleared when a newer one is written there, so old minutes fall away by themselves.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    slots: Vec<Option<(i64, T)>>,
}

impl<T: Default + Clone> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            slots: vec![None; HISTORY_MINUTES],
        }
    }
}

impl<T: Default + Clone> Ring<T> {
    fn slot(minute: i64) -> usize {
        // HISTORY_MINUTES fits an i64 and the remainder is below it.
        minute.rem_euclid(HISTORY_MINUTES as i64) as usize
    }

    /// The value of `minute`, made (cleared) when its slot held another minute.
    pub fn at(&mut self, minute: i64) -> &mut T {
        let slot = &mut self.slots[Self::slot(minute)];
        if slot.as_ref().is_some_and(|(m, _)| *m != minute) {
            *slot = None;
        }
        &mut slot.get_or_insert_with(|| (minute, T::default())).1
    }

    /// The value of `minute`, if it is still kept.
    pub fn get(&self, minute: i64) -> Option<&T> {
        match &self.slots[Self::slot(minute)] {
            Some((m, value)) if *m == minute => Some(value),
            _ => None,
        }
    }

    /// The minutes kept from `from` to `to` (both included), oldest first.
    pub fn range(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, &T)> {
        let from = from.max(to - HISTORY_MINUTES as i64 + 1);
        (from..=to).filter_map(move |m| self.get(m).map(|v| (m, v)))
    }
}

/// The series of one app.
#[derive(Debug, Clone, Default)]
pub struct AppSeries {
    /// The router's requests.
    pub traffic: Ring<Traffic>,
    /// What each process type used.
    pub types: BTreeMap<String, Ring<Usage>>,
}

/// One point of history: the traffic of its minutes and each type's usage.
pub type Point = (Traffic, BTreeMap<String, Usage>);

impl AppSeries {
    /// The minutes from `from` to `to` (both included) that have any figure, merged into
    /// points of `step` minutes each (keyed by their first minute, a multiple of `step`),
    /// oldest first.
    pub fn points(&self, from: i64, to: i64, step: i64) -> BTreeMap<i64, Point> {
        let step = step.max(1);
        let point_of = |m: i64| m.div_euclid(step) * step;
        let mut points: BTreeMap<i64, Point> = BTreeMap::new();
        for (m, t) in self.traffic.range(from, to) {
            points.entry(point_of(m)).or_default().0.merge(t);
        }
        for (kind, ring) in &self.types {
            for (m, u) in ring.range(from, to) {
                points
                    .entry(point_of(m))
                    .or_default()
                    .1
                    .entry(kind.clone())
                    .or_default()
                    .merge(u);
            }
        }
        points
    }
}

/// Every app's series, by app id.
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    pub(crate) apps: HashMap<i64, Box<AppSeries>>,
}

impl Monitor {
    /// Counts one request of app `app` answered with `status` after `ms` milliseconds in
    /// `minute`.
    pub(crate) fn request(&mut self, app: i64, minute: i64, status: u16, ms: f64) {
        let t = self.apps.entry(app).or_default().traffic.at(minute);
        t.requests = t.requests.saturating_add(1);
        if status >= 500 {
            t.errors = t.errors.saturating_add(1);
        }
        t.latency.record(ms);
    }

    /// Adds one sample of a process type's instances to `minute`: `cpu` (percent of a
    /// core) and `memory` (bytes) summed over its instances. A type past [`TYPES_MAX`]
    /// is not kept.
    pub(crate) fn usage(&mut self, app: i64, kind: &str, minute: i64, sample: Usage) {
        let series = self.apps.entry(app).or_default();
        if !series.types.contains_key(kind) && series.types.len() >= TYPES_MAX {
            return;
        }
        let u = series.types.entry(kind.to_owned()).or_default().at(minute);
        u.cpu_sum += sample.cpu_sum;
        u.memory_sum += sample.memory_sum;
        u.samples = u.samples.saturating_add(1);
        u.up = sample.up;
        u.desired = sample.desired;
        u.restarts = sample.restarts;
    }

    /// Forgets the series of apps that are gone, and of process types an app no longer
    /// has.
    pub(crate) fn retain(&mut self, alive: &BTreeMap<i64, Vec<String>>) {
        self.apps.retain(|id, _| alive.contains_key(id));
        for (id, series) in &mut self.apps {
            if let Some(types) = alive.get(id) {
                series.types.retain(|kind, _| types.contains(kind));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_keeps_the_last_day_and_wraps() {
        let mut ring: Ring<u32> = Ring::default();
        let start = 29_000_000;
        for m in start..start + HISTORY_MINUTES as i64 + 10 {
            *ring.at(m) = 1;
        }
        let last = start + HISTORY_MINUTES as i64 + 9;
        // The first ten minutes were overwritten by the last ten.
        assert_eq!(ring.get(start), None);
        assert_eq!(ring.get(start + 9), None);
        assert_eq!(ring.get(start + 10), Some(&1));
        assert_eq!(ring.get(last), Some(&1));
        assert_eq!(ring.range(0, last).count(), HISTORY_MINUTES);
        let first = ring.range(0, last).next().map(|(m, _)| m);
        assert_eq!(first, Some(start + 10));
        // A slot reused for a newer minute starts from zero.
        *ring.at(last + 1) += 5;
        assert_eq!(ring.get(last + 1), Some(&5));
        assert_eq!(ring.get(start + 10), None);
    }

    #[test]
    fn a_gap_leaves_no_stale_minutes() {
        let mut ring: Ring<u32> = Ring::default();
        *ring.at(100) = 7;
        // A day and a bit later, the same slot holds another minute.
        let later = 100 + HISTORY_MINUTES as i64;
        assert_eq!(ring.get(later), None);
        assert_eq!(ring.range(later - 5, later).count(), 0);
        assert_eq!(
            ring.range(50, 150)
                .map(|(m, v)| (m, *v))
                .collect::<Vec<_>>(),
            vec![(100, 7)]
        );
    }

    #[test]
    fn requests_are_counted_per_minute_with_their_errors() {
        let mut m = Monitor::default();
        m.request(1, 10, 200, 3.0);
        m.request(1, 10, 500, 40.0);
        m.request(1, 10, 404, 4.0);
        m.request(1, 11, 503, 1.0);
        let s = &m.apps[&1];
        let t = s.traffic.get(10).copied().unwrap_or_default();
        assert_eq!((t.requests, t.errors, t.latency.count()), (3, 1, 3));
        assert_eq!(s.traffic.get(11).map(|t| t.errors), Some(1));
    }

    #[test]
    fn points_merge_minutes_at_a_coarser_resolution() {
        let mut m = Monitor::default();
        let usage = |cpu: f64, up: u32| Usage {
            cpu_sum: cpu,
            memory_sum: 100.0,
            up,
            desired: 2,
            ..Usage::default()
        };
        // Minutes 58 and 59 (one point of an hour from 0), 60 and 61 (the next).
        for (minute, requests) in [(58, 2), (59, 3), (60, 5), (61, 7)] {
            for _ in 0..requests {
                m.request(1, minute, 200, 2.0);
            }
        }
        m.request(1, 61, 502, 900.0);
        m.usage(1, "web", 59, usage(10.0, 1));
        m.usage(1, "web", 60, usage(20.0, 1));
        m.usage(1, "web", 61, usage(40.0, 2));
        let s = &m.apps[&1];
        let per_minute = s.points(0, 61, 1);
        assert_eq!(
            per_minute.keys().copied().collect::<Vec<_>>(),
            [58, 59, 60, 61]
        );
        assert!(per_minute[&58].1.is_empty());
        let hourly = s.points(0, 61, 60);
        assert_eq!(hourly.keys().copied().collect::<Vec<_>>(), [0, 60]);
        let (t, types) = &hourly[&60];
        assert_eq!((t.requests, t.errors, t.latency.count()), (13, 1, 13));
        let web = types["web"];
        // The mean of its samples, the counts of the last one.
        assert_eq!(
            (web.cpu(), web.memory(), web.up, web.desired),
            (30.0, 100, 2, 2)
        );
        assert_eq!(hourly[&0].0.requests, 5);
        // Only what is asked for.
        let last = s.points(61, 61, 1);
        assert_eq!(last.len(), 1);
        assert_eq!(last[&61].0.requests, 8);
    }

    #[test]
    fn usage_averages_its_samples_and_types_are_bounded() {
        let mut m = Monitor::default();
        let sample = |cpu: f64| Usage {
            cpu_sum: cpu,
            memory_sum: 1000.0,
            up: 2,
            desired: 2,
            ..Usage::default()
        };
        m.usage(1, "web", 5, sample(10.0));
        m.usage(1, "web", 5, sample(30.0));
        let u = m.apps[&1].types["web"].get(5).copied().unwrap_or_default();
        assert_eq!((u.cpu(), u.memory(), u.samples, u.up), (20.0, 1000, 2, 2));
        for i in 0..TYPES_MAX + 3 {
            m.usage(1, &format!("t{i}"), 5, sample(1.0));
        }
        assert_eq!(m.apps[&1].types.len(), TYPES_MAX);
        let alive = BTreeMap::from([(1, vec!["web".to_owned()])]);
        m.retain(&alive);
        assert_eq!(m.apps[&1].types.len(), 1);
        m.retain(&BTreeMap::new());
        assert!(m.apps.is_empty());
    }
}
