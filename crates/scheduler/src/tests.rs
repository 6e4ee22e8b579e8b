//! Table-driven placement tests and properties (never over-commit; rules always hold).

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;

pub(crate) fn host(id: i32, cpu: i64, mem: i64) -> HostCandidate {
    HostCandidate {
        id,
        name: format!("h{id}"),
        cluster_id: 0,
        max_cpu: cpu,
        max_mem: mem,
        cpu_usage: 0,
        mem_usage: 0,
        free_cpu_monitored: cpu,
        vms: Vec::new(),
        attributes: HashMap::new(),
        roles: BTreeSet::new(),
    }
}

pub(crate) fn vm(id: i32, cpu: i64, mem: i64) -> VmRequest {
    VmRequest {
        id,
        cpu,
        memory_kb: mem,
        requirements: Vec::new(),
        rank: None,
        avoid_host: None,
        affinity: None,
    }
}

/// A role of group 1 with these host lists.
fn host_rules(id: i32, affined: &[i32], anti: &[i32]) -> Option<Affinity> {
    let mut a = Affinity::new(RoleRef { group: 1, role: id }, format!("r{id}"));
    a.host_affined = affined.iter().copied().collect();
    a.host_anti_affined = anti.iter().copied().collect();
    Some(a)
}

fn hosts_of(decisions: &[Decision]) -> Vec<Result<i32, String>> {
    decisions.iter().map(|d| d.host.clone()).collect()
}

#[test]
fn policies_choose_as_opennebula_does() {
    struct Case {
        name: &'static str,
        policy: Policy,
        expect: Vec<i32>,
    }
    let cases = [
        Case {
            name: "striping spreads",
            policy: Policy::Striping,
            expect: vec![1, 2, 1, 2],
        },
        Case {
            name: "packing fills",
            policy: Policy::Packing,
            expect: vec![1, 1, 1, 1],
        },
        Case {
            name: "custom rank: highest id",
            policy: Policy::Custom(Rank::parse("ID").expect("rank")),
            expect: vec![2, 2, 2, 2],
        },
    ];
    for case in cases {
        let mut hosts = vec![host(1, 800, 8 << 20), host(2, 800, 8 << 20)];
        let vms: Vec<VmRequest> = (0..4).map(|i| vm(i, 100, 1 << 20)).collect();
        let got = hosts_of(&place(&mut hosts, &vms, &case.policy));
        let want: Vec<Result<i32, String>> = case.expect.into_iter().map(Ok).collect();
        assert_eq!(got, want, "{}", case.name);
    }
}

#[test]
fn requirements_rank_and_rules_decide() {
    let mut hosts = vec![
        host(1, 800, 1 << 30),
        host(2, 800, 1 << 30),
        host(3, 800, 1 << 30),
    ];
    hosts[1].attributes.insert("GPU".into(), vec!["YES".into()]);
    let mut needs_gpu = vm(10, 100, 1);
    needs_gpu
        .requirements
        .push(Requirements::parse("GPU = YES").expect("req"));
    let mut avoid = vm(11, 100, 1);
    avoid.avoid_host = Some(1);
    avoid.rank = Some(Rank::parse("-ID").expect("rank"));
    let mut only = vm(12, 100, 1);
    only.affinity = host_rules(0, &[3], &[]);
    let mut not = vm(13, 100, 1);
    not.affinity = host_rules(1, &[], &[1, 2, 3]);
    let got = hosts_of(&place(
        &mut hosts,
        &[needs_gpu, avoid, only, not],
        &Policy::Striping,
    ));
    assert_eq!(got[..3], [Ok(2), Ok(2), Ok(3)]);
    let why = got[3].clone().expect_err("no host");
    assert!(
        why.contains("VM group 1 role \"r1\" HOST_ANTI_AFFINED on 3"),
        "{why}"
    );
}

#[test]
fn a_vm_too_big_for_every_host_says_why() {
    let mut hosts = vec![host(1, 100, 1024)];
    let d = place(
        &mut hosts,
        &[vm(1, 200, 10), vm(2, 50, 4096)],
        &Policy::Striping,
    );
    assert!(
        d[0].host
            .clone()
            .expect_err("cpu")
            .contains("not enough CPU")
    );
    assert!(
        d[1].host
            .clone()
            .expect_err("mem")
            .contains("not enough memory")
    );
    let d = place(&mut [], &[vm(1, 1, 1)], &Policy::Striping);
    assert!(
        d[0].host
            .clone()
            .expect_err("none")
            .contains("No host available")
    );
}

#[test]
fn sizes_that_would_overflow_never_fit() {
    // A host already nearly full to the brim of i64, and requests at the edge of i64:
    // a sum that would overflow never fits (plain sums panic in debug, wrap in release).
    let mut full = host(1, i64::MAX, i64::MAX);
    full.cpu_usage = i64::MAX - 10;
    full.mem_usage = i64::MAX - 10;
    let mut hosts = vec![full];
    let d = place(
        &mut hosts,
        &[vm(1, i64::MAX, 1), vm(2, 1, i64::MAX)],
        &Policy::Packing,
    );
    assert!(
        d[0].host
            .clone()
            .expect_err("cpu")
            .contains("not enough CPU")
    );
    assert!(
        d[1].host
            .clone()
            .expect_err("mem")
            .contains("not enough memory")
    );
    let mut hosts = vec![host(1, 100, 100)];
    hosts[0].cpu_usage = 50;
    let d = place(&mut hosts, &[vm(1, i64::MAX, 1)], &Policy::Packing);
    assert!(d[0].host.is_err(), "{d:?}");
}

proptest! {
    #[test]
    fn no_host_is_ever_over_committed_and_rules_always_hold(
        caps in proptest::collection::vec((1i64..1600, 1i64..65536), 1..8),
        sizes in proptest::collection::vec((1i64..400, 1i64..8192, 0u8..4), 0..60),
        packing in any::<bool>(),
    ) {
        let mut hosts: Vec<HostCandidate> = caps
            .iter()
            .enumerate()
            .map(|(i, (c, m))| host(i as i32, *c, *m))
            .collect();
        let vms: Vec<VmRequest> = sizes
            .iter()
            .enumerate()
            .map(|(i, (c, m, rule))| {
                let mut v = vm(i as i32, *c, *m);
                match rule {
                    1 => v.affinity = host_rules(0, &[], &[0]),
                    2 => v.affinity = host_rules(1, &[0], &[]),
                    _ => {}
                }
                v
            })
            .collect();
        let policy = if packing { Policy::Packing } else { Policy::Striping };
        let decisions = place(&mut hosts, &vms, &policy);
        let mut used: HashMap<i32, (i64, i64)> = HashMap::new();
        for (d, v) in decisions.iter().zip(&vms) {
            if let Ok(h) = d.host {
                let u = used.entry(h).or_default();
                u.0 += v.cpu;
                u.1 += v.memory_kb;
                if let Some(a) = &v.affinity {
                    prop_assert!(!a.host_anti_affined.contains(&h));
                    prop_assert!(a.host_affined.is_empty() || a.host_affined.contains(&h));
                }
            }
        }
        for h in &hosts {
            let (c, m) = used.get(&h.id).copied().unwrap_or_default();
            let original = &caps[h.id as usize];
            prop_assert!(c <= original.0, "cpu over-committed on {}", h.id);
            prop_assert!(m <= original.1, "memory over-committed on {}", h.id);
        }
    }
}
