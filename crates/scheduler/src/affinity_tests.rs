//! VM group rules in placement: a table of cases, and properties over random groups (no
//! host over-committed, every rule holds after any number of rounds).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;

use super::tests::{host, vm};
use super::*;

fn role(r: i32) -> RoleRef {
    RoleRef { group: 7, role: r }
}

/// An affinity of role `r` shaped by `f`.
fn aff(r: i32, f: impl FnOnce(&mut Affinity)) -> Option<Affinity> {
    let mut a = Affinity::new(role(r), format!("r{r}"));
    for other in 0..4 {
        a.names.insert(role(other), format!("r{other}"));
    }
    f(&mut a);
    Some(a)
}

fn member(id: i32, cpu: i64, affinity: Option<Affinity>) -> VmRequest {
    let mut v = vm(id, cpu, 1024);
    v.affinity = affinity;
    v
}

fn set(roles: &[i32]) -> BTreeSet<RoleRef> {
    roles.iter().map(|r| role(*r)).collect()
}

fn affined(r: i32) -> Option<Affinity> {
    aff(r, |a| a.affined = set(&[r]))
}

fn anti(r: i32) -> Option<Affinity> {
    aff(r, |a| a.anti_affined = set(&[r]))
}

/// Expected outcome: a host, or a piece of the message.
#[derive(Debug)]
enum Want {
    On(i32),
    Why(&'static str),
}

struct Case {
    name: &'static str,
    /// Hosts: (id, cpu, roles already there).
    hosts: Vec<(i32, i64, Vec<i32>)>,
    vms: Vec<VmRequest>,
    want: Vec<Want>,
}

#[test]
fn vm_group_rules_decide_where_vms_go() {
    use Want::{On, Why};
    let cases = vec![
        Case {
            name: "an anti-affined role spreads, and a 4th VM with 3 hosts waits",
            hosts: vec![(1, 800, vec![]), (2, 800, vec![]), (3, 800, vec![])],
            vms: (10..14).map(|i| member(i, 100, anti(0))).collect(),
            want: vec![
                On(1),
                On(2),
                On(3),
                Why("VM group 7 role \"r0\" POLICY=ANTI_AFFINED on 3"),
            ],
        },
        Case {
            name: "an affined role lands on one host, though the policy stripes",
            hosts: vec![(1, 800, vec![]), (2, 800, vec![]), (3, 800, vec![])],
            vms: (10..13).map(|i| member(i, 100, affined(0))).collect(),
            want: vec![On(1), On(1), On(1)],
        },
        Case {
            name: "an affined role joins the host where it runs",
            hosts: vec![(1, 800, vec![]), (2, 800, vec![0]), (3, 800, vec![])],
            vms: (10..12).map(|i| member(i, 100, affined(0))).collect(),
            want: vec![On(2), On(2)],
        },
        Case {
            name: "an affined role whose host is full waits",
            hosts: vec![(1, 800, vec![]), (2, 100, vec![0])],
            vms: vec![member(10, 200, affined(0))],
            want: vec![Why(
                "VM group 7 role \"r0\" AFFINED (its affined VMs run elsewhere) on 1",
            )],
        },
        Case {
            name: "an affined role running on a host that takes no VMs now waits",
            hosts: vec![(1, 800, vec![]), (2, 800, vec![])],
            vms: vec![member(
                10,
                100,
                aff(0, |a| {
                    a.affined = set(&[0]);
                    a.placed = set(&[0]);
                }),
            )],
            want: vec![Why("AFFINED (its affined VMs run elsewhere) on 2")],
        },
        Case {
            name: "an affined set no host fits together waits, all of it",
            hosts: vec![(1, 250, vec![]), (2, 250, vec![])],
            vms: (10..13).map(|i| member(i, 100, affined(0))).collect(),
            want: vec![
                Why(
                    "no host of 2 fits the 3 VMs of its affined roles together (not enough CPU on 2)",
                ),
                Why("not enough CPU on 2"),
                Why("not enough CPU on 2"),
            ],
        },
        Case {
            name: "HOST_AFFINED and HOST_ANTI_AFFINED",
            hosts: vec![(1, 800, vec![]), (2, 800, vec![]), (3, 800, vec![])],
            vms: vec![
                member(10, 100, aff(0, |a| a.host_affined = BTreeSet::from([3]))),
                member(
                    11,
                    100,
                    aff(1, |a| a.host_anti_affined = BTreeSet::from([1, 2])),
                ),
                member(12, 100, aff(2, |a| a.host_affined = BTreeSet::from([9]))),
            ],
            want: vec![
                On(3),
                On(3),
                Why("VM group 7 role \"r2\" HOST_AFFINED on 3"),
            ],
        },
        Case {
            name: "an AFFINED rule: a VM of role 1 goes where role 0 runs",
            hosts: vec![(1, 800, vec![]), (2, 800, vec![0]), (3, 800, vec![])],
            vms: vec![member(10, 100, aff(1, |a| a.affined = set(&[0, 1])))],
            want: vec![On(2)],
        },
        Case {
            name: "an AFFINED rule with nothing placed: both roles land together",
            hosts: vec![(1, 800, vec![]), (2, 800, vec![])],
            vms: vec![
                member(10, 100, aff(0, |a| a.affined = set(&[0, 1]))),
                member(11, 100, None),
                member(12, 100, aff(1, |a| a.affined = set(&[0, 1]))),
            ],
            want: vec![On(1), On(2), On(1)],
        },
        Case {
            name: "ANTI_AFFINED rules: roles keep away from each other",
            hosts: vec![(1, 800, vec![0]), (2, 800, vec![0]), (3, 800, vec![])],
            vms: vec![
                member(10, 100, aff(1, |a| a.anti_affined = set(&[0]))),
                member(11, 100, aff(0, |a| a.anti_affined = set(&[1]))),
                member(12, 100, aff(2, |a| a.anti_affined = set(&[0, 1]))),
            ],
            want: vec![
                On(3),
                On(1),
                Why(
                    "(VM group 7 ANTI_AFFINED rule of roles \"r2\" and \"r0\" on 2, \
                     VM group 7 ANTI_AFFINED rule of roles \"r2\" and \"r1\" on 1)",
                ),
            ],
        },
        Case {
            name: "affined VMs that may not meet are never placed",
            hosts: vec![(1, 800, vec![])],
            vms: vec![
                member(10, 100, aff(0, |a| a.affined = set(&[0, 1]))),
                member(
                    11,
                    100,
                    aff(1, |a| {
                        a.affined = set(&[0, 1]);
                        a.anti_affined = set(&[0]);
                    }),
                ),
            ],
            want: vec![
                Why("break the VM group 7 ANTI_AFFINED rule of roles \"r1\" and \"r0\""),
                Why("break the"),
            ],
        },
    ];
    for case in cases {
        let mut hosts: Vec<HostCandidate> = case
            .hosts
            .iter()
            .map(|(id, cpu, roles)| {
                let mut h = host(*id, *cpu, 1 << 30);
                h.roles = roles.iter().map(|r| role(*r)).collect();
                h
            })
            .collect();
        let got = place(&mut hosts, &case.vms, &Policy::Striping);
        assert_eq!(got.len(), case.want.len(), "{}", case.name);
        for (d, want) in got.iter().zip(&case.want) {
            match (want, &d.host) {
                (Want::On(h), Ok(got)) => assert_eq!(h, got, "{}: VM {}", case.name, d.vm),
                (Want::Why(part), Err(why)) => {
                    assert!(why.contains(part), "{}: VM {}: {why}", case.name, d.vm);
                }
                (want, got) => panic!("{}: VM {}: want {want:?}, got {got:?}", case.name, d.vm),
            }
        }
    }
}

/// A random VM group: per role a policy (0 none, 1 AFFINED, 2 ANTI_AFFINED), host lists,
/// and membership of the group's one AFFINED rule (1) or one ANTI_AFFINED rule (2). The
/// inputs are consistent as VM group validation makes them: no ANTI_AFFINED role in the
/// AFFINED rule, no role in both rules.
#[derive(Debug, Clone)]
struct Group {
    policy: Vec<u8>,
    rule: Vec<u8>,
    host_affined: Vec<BTreeSet<i32>>,
    host_anti_affined: Vec<BTreeSet<i32>>,
}

impl Group {
    fn affined_rule(&self) -> BTreeSet<i32> {
        (0..4)
            .filter(|r| self.rule[*r as usize] == 1 && self.policy[*r as usize] != 2)
            .collect()
    }

    fn anti_rule(&self) -> BTreeSet<i32> {
        let roles: BTreeSet<i32> = (0..4).filter(|r| self.rule[*r as usize] == 2).collect();
        if roles.len() > 1 {
            roles
        } else {
            BTreeSet::new()
        }
    }

    /// The roles VMs of `r` must run with (empty: none).
    fn affined_set(&self, r: i32) -> BTreeSet<i32> {
        let rule = self.affined_rule();
        let mut set = if rule.contains(&r) {
            rule
        } else {
            BTreeSet::new()
        };
        if self.policy[r as usize] == 1 {
            set.insert(r);
        }
        set
    }

    fn affinity(&self, r: i32) -> Affinity {
        let mut a = Affinity::new(role(r), format!("r{r}"));
        a.host_affined = self.host_affined[r as usize].clone();
        a.host_anti_affined = self.host_anti_affined[r as usize].clone();
        a.affined = self.affined_set(r).iter().map(|x| role(*x)).collect();
        if self.policy[r as usize] == 2 {
            a.anti_affined.insert(role(r));
        }
        let anti = self.anti_rule();
        if anti.contains(&r) {
            a.anti_affined
                .extend(anti.iter().filter(|x| **x != r).map(|x| role(*x)));
        }
        a
    }
}

fn group_strategy(hosts: i32) -> impl Strategy<Value = Group> {
    let hosts_subset = move || proptest::collection::btree_set(0..hosts, 0..3);
    (
        proptest::collection::vec(0u8..3, 4),
        proptest::collection::vec(0u8..3, 4),
        proptest::collection::vec(hosts_subset(), 4),
        proptest::collection::vec(hosts_subset(), 4),
    )
        .prop_map(|(policy, rule, host_affined, host_anti_affined)| Group {
            policy,
            rule,
            host_affined,
            host_anti_affined,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn vm_group_rules_always_hold_and_no_host_is_over_committed(
        (caps, group) in proptest::collection::vec((1i64..1600, 1i64..65536), 1..6)
            .prop_flat_map(|caps| {
                let n = caps.len() as i32;
                (Just(caps), group_strategy(n))
            }),
        rounds in proptest::collection::vec(
            proptest::collection::vec((1i64..400, 1i64..8192, 0i32..5), 0..12),
            1..4,
        ),
        packing in any::<bool>(),
    ) {
        let mut hosts: Vec<HostCandidate> = caps
            .iter()
            .enumerate()
            .map(|(i, (c, m))| host(i as i32, *c, *m))
            .collect();
        let policy = if packing { Policy::Packing } else { Policy::Striping };
        // Where each placed VM went, with its role (4 = no role).
        let mut placed: Vec<(i32, i32, i64, i64)> = Vec::new();
        let mut next_id = 0;
        for round in rounds {
            let before: BTreeSet<i32> = placed.iter().map(|p| p.1).collect();
            let vms: Vec<VmRequest> = round
                .iter()
                .map(|(c, m, r)| {
                    let mut v = vm(next_id, *c, *m);
                    next_id += 1;
                    if *r < 4 {
                        v.affinity = Some(group.affinity(*r));
                    }
                    v
                })
                .collect();
            let decisions = place(&mut hosts, &vms, &policy);
            let mut this_round: HashMap<i32, Vec<Option<i32>>> = HashMap::new();
            for (d, (v, (_, _, r))) in decisions.iter().zip(vms.iter().zip(&round)) {
                this_round.entry(*r).or_default().push(d.host.clone().ok());
                if let Ok(h) = d.host {
                    placed.push((h, *r, v.cpu, v.memory_kb));
                }
            }
            // An affined set none of whose VMs ran is placed all or nothing.
            for r in 0..4 {
                let set = group.affined_set(r);
                if set.is_empty() || set.iter().any(|x| before.contains(x)) {
                    continue;
                }
                let outcomes: Vec<Option<i32>> = set
                    .iter()
                    .flat_map(|x| this_round.get(x).cloned().unwrap_or_default())
                    .collect();
                let hosts_used: BTreeSet<Option<i32>> = outcomes.iter().copied().collect();
                prop_assert!(hosts_used.len() <= 1, "affined set {set:?} split: {outcomes:?}");
            }
        }
        // Capacity.
        let mut used: HashMap<i32, (i64, i64)> = HashMap::new();
        for (h, _, c, m) in &placed {
            let u = used.entry(*h).or_default();
            u.0 += c;
            u.1 += m;
        }
        for (h, (c, m)) in &used {
            let cap = caps[*h as usize];
            prop_assert!(*c <= cap.0, "cpu over-committed on {h}");
            prop_assert!(*m <= cap.1, "memory over-committed on {h}");
        }
        // Rules.
        let mut roles_on: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for (h, r, _, _) in &placed {
            roles_on.entry(*h).or_default().push(*r);
            if *r == 4 {
                continue;
            }
            let ha = &group.host_affined[*r as usize];
            prop_assert!(ha.is_empty() || ha.contains(h), "HOST_AFFINED of {r} broken on {h}");
            prop_assert!(!group.host_anti_affined[*r as usize].contains(h));
        }
        for (h, roles) in &roles_on {
            for r in 0..4 {
                if group.policy[r as usize] == 2 {
                    let n = roles.iter().filter(|x| **x == r).count();
                    prop_assert!(n <= 1, "{n} VMs of anti-affined role {r} on {h}");
                }
            }
            let anti = group.anti_rule();
            let present: BTreeSet<i32> = roles.iter().copied().filter(|x| anti.contains(x)).collect();
            prop_assert!(present.len() <= 1, "roles {present:?} of an ANTI_AFFINED rule on {h}");
        }
        for r in 0..4 {
            let set = group.affined_set(r);
            let on: BTreeSet<i32> = placed
                .iter()
                .filter(|p| set.contains(&p.1))
                .map(|p| p.0)
                .collect();
            prop_assert!(on.len() <= 1, "affined roles {set:?} on hosts {on:?}");
        }
    }
}
