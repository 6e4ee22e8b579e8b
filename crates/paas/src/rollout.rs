//! The pace of a deployment: which missing instances the reconciler may start in a round,
//! which old ones it may retire, and whether the deployment has ended. Pure decisions over
//! what runs, so the rules are tested without containers:
//!
//! - `rolling` (and a promoted `canary`): while instances of an older release (or restart
//!   generation) of a type remain, at most `max_in_flight` new instances of the type are
//!   starting at once; an old one is retired once its successor passes its check. Types
//!   other than `web` are replaced once `web` is done.
//! - `recreate`: every old instance is retired first; new ones start when none is left.
//! - `canary` (not promoted): one new `web` instance starts beside every old one (the
//!   router gives it its share of requests); nothing else moves.
//!
//! Without older instances (a first deploy, a scale-up) every missing instance starts at
//! once.

use crate::deployments::{Deployment, RolloutPolicy, Strategy};

/// One instance of the app as the rollout sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Its process type.
    pub kind: String,
    /// Its index within the type.
    pub index: u32,
    /// Whether it runs the current release and restart generation.
    pub current: bool,
    /// Whether it passed its check long enough ago to take its predecessor's traffic.
    pub ready: bool,
}

/// How the deployment under way (or the app's policy without one) moves instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pace {
    /// The policy.
    pub policy: RolloutPolicy,
    /// Whether a canary waits for its promotion.
    pub canary_waiting: bool,
}

impl Pace {
    /// The pace of `deployment` under way, else of the app's own policy.
    pub fn of(deployment: Option<&Deployment>, app_policy: RolloutPolicy) -> Pace {
        match deployment {
            Some(d) => Pace {
                policy: d.policy,
                canary_waiting: d.canary_waiting(),
            },
            None => Pace {
                policy: app_policy,
                canary_waiting: false,
            },
        }
    }

    /// Whether old instances are all retired before new ones start.
    pub fn recreates(&self) -> bool {
        self.policy.strategy == Strategy::Recreate
    }

    /// Which of the type's missing indices (ascending) may start now.
    pub fn may_start(&self, kind: &str, missing: &[u32], members: &[Member]) -> Vec<u32> {
        let of_kind = |m: &&Member| m.kind == kind;
        let old_of_kind = members.iter().filter(of_kind).any(|m| !m.current);
        if !old_of_kind {
            return missing.to_vec();
        }
        if self.recreates() {
            return Vec::new();
        }
        if self.canary_waiting {
            let canary_running = members.iter().filter(of_kind).any(|m| m.current);
            return if kind == "web" && !canary_running {
                missing.iter().take(1).copied().collect()
            } else {
                Vec::new()
            };
        }
        let web_rolling = members.iter().any(|m| m.kind == "web" && !m.current);
        if kind != "web" && web_rolling {
            return Vec::new();
        }
        let in_flight = members
            .iter()
            .filter(of_kind)
            .filter(|m| m.current && !m.ready)
            .count();
        let room = (self.policy.max_in_flight as usize).saturating_sub(in_flight);
        missing.iter().take(room).copied().collect()
    }

    /// Whether an old instance of `kind` at `index` goes now, its successor `successor_ready`
    /// or not (retiring what is scaled away or failed is the caller's).
    pub fn retires_old(&self, successor_ready: bool) -> bool {
        if self.recreates() {
            return true;
        }
        !self.canary_waiting && successor_ready
    }
}

/// Whether what runs is what the formation wants: each wanted `(kind, quantity)` has a
/// ready current instance at every index, and no old instance is left.
pub(crate) fn settled(wanted: &[(String, u32)], members: &[Member]) -> bool {
    members.iter().all(|m| m.current)
        && wanted.iter().all(|(kind, quantity)| {
            (1..=*quantity).all(|index| {
                members
                    .iter()
                    .any(|m| &m.kind == kind && m.index == index && m.current && m.ready)
            })
        })
}

/// A canary's routes: `canary` and `old` repeated so that a round robin over the list
/// sends `percent` of the requests to the canary (all to one side when the other has none).
pub(crate) fn weighted<T: Copy>(canary: &[T], old: &[T], percent: u8) -> Vec<T> {
    if canary.is_empty() || old.is_empty() {
        return canary.iter().chain(old).copied().collect();
    }
    let percent = usize::from(percent.min(100));
    let mut out = Vec::with_capacity(100);
    out.extend(canary.iter().cycle().take(percent));
    out.extend(old.iter().cycle().take(100 - percent));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(kind: &str, index: u32, current: bool, ready: bool) -> Member {
        Member {
            kind: kind.into(),
            index,
            current,
            ready,
        }
    }

    fn pace(strategy: Strategy, max_in_flight: u32, canary_waiting: bool) -> Pace {
        Pace {
            policy: RolloutPolicy {
                strategy,
                max_in_flight,
                canary_percent: 10,
            },
            canary_waiting,
        }
    }

    #[test]
    fn a_first_deploy_starts_everything_at_once() {
        let p = pace(Strategy::Rolling, 1, false);
        assert_eq!(p.may_start("web", &[1, 2, 3, 4], &[]), vec![1, 2, 3, 4]);
        let r = pace(Strategy::Recreate, 1, false);
        assert_eq!(r.may_start("web", &[1, 2], &[]), vec![1, 2]);
    }

    #[test]
    fn rolling_keeps_max_in_flight_new_instances_starting() {
        let p = pace(Strategy::Rolling, 1, false);
        let old: Vec<Member> = (1..=4).map(|i| member("web", i, false, true)).collect();
        assert_eq!(p.may_start("web", &[1, 2, 3, 4], &old), vec![1]);
        let mut members = old.clone();
        members.push(member("web", 1, true, false));
        assert!(p.may_start("web", &[2, 3, 4], &members).is_empty());
        members.pop();
        members.push(member("web", 1, true, true));
        assert_eq!(p.may_start("web", &[2, 3, 4], &members), vec![2]);
        let two = pace(Strategy::Rolling, 2, false);
        assert_eq!(two.may_start("web", &[1, 2, 3, 4], &old), vec![1, 2]);
    }

    #[test]
    fn rolling_replaces_other_types_after_web() {
        let p = pace(Strategy::Rolling, 1, false);
        let members = vec![
            member("web", 1, false, true),
            member("web", 1, true, false),
            member("worker", 1, false, true),
        ];
        assert!(p.may_start("worker", &[1], &members).is_empty());
        let done = vec![
            member("web", 1, true, true),
            member("worker", 1, false, true),
        ];
        assert_eq!(p.may_start("worker", &[1], &done), vec![1]);
    }

    #[test]
    fn recreate_waits_for_the_old_to_go_and_retires_them_at_once() {
        let p = pace(Strategy::Recreate, 1, false);
        let members = vec![member("web", 1, false, true), member("web", 2, false, true)];
        assert!(p.may_start("web", &[1, 2], &members).is_empty());
        assert!(p.retires_old(false));
    }

    #[test]
    fn a_waiting_canary_is_one_web_instance_beside_the_old() {
        let p = pace(Strategy::Canary, 1, true);
        let old: Vec<Member> = (1..=3).map(|i| member("web", i, false, true)).collect();
        assert_eq!(p.may_start("web", &[1, 2, 3], &old), vec![1]);
        let mut members = old.clone();
        members.push(member("web", 1, true, true));
        assert!(p.may_start("web", &[2, 3], &members).is_empty());
        assert!(!p.retires_old(true));
        let promoted = pace(Strategy::Canary, 1, false);
        assert_eq!(promoted.may_start("web", &[2, 3], &members), vec![2]);
        assert!(promoted.retires_old(true));
    }

    #[test]
    fn a_canary_takes_its_share_of_a_round_robin() {
        let list = weighted(&['c'], &['a', 'b', 'd'], 10);
        assert_eq!(list.len(), 100);
        assert_eq!(list.iter().filter(|x| **x == 'c').count(), 10);
        assert_eq!(list.iter().filter(|x| **x == 'a').count(), 30);
        assert_eq!(weighted(&['c'], &[], 10), vec!['c']);
        assert_eq!(weighted::<char>(&[], &['a'], 10), vec!['a']);
    }

    #[test]
    fn settled_needs_every_index_ready_and_no_old_instance() {
        let wanted = vec![("web".to_owned(), 2)];
        let ready = vec![member("web", 1, true, true), member("web", 2, true, true)];
        assert!(settled(&wanted, &ready));
        let mut old_left = ready.clone();
        old_left.push(member("web", 3, false, true));
        assert!(!settled(&wanted, &old_left));
        let not_ready = vec![member("web", 1, true, true), member("web", 2, true, false)];
        assert!(!settled(&wanted, &not_ready));
        assert!(!settled(&wanted, &ready[..1]));
        assert!(settled(&[], &[]));
    }
}
