//! Tests of [`Leases`]: runs split and join as addresses are taken and freed, the stored
//! JSON of single leases is the old one-entry-per-lease form, old bodies load into runs,
//! and a random sequence of operations agrees with a plain map of every address.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const VM3: LeaseOwner = LeaseOwner::Vm(3);
const NET9: LeaseOwner = LeaseOwner::Vnet(9);

fn runs(l: &Leases) -> Vec<(u32, u32, LeaseOwner)> {
    l.runs().map(|r| (r.start, r.size, r.owner)).collect()
}

#[test]
fn a_block_is_one_run_and_splits_when_freed_inside() {
    let mut l = Leases::new();
    assert!(l.take(10, 16_000_000, NET9));
    assert_eq!((l.len(), l.run_count()), (16_000_000, 1));
    assert_eq!(l.get(&10).map(|x| x.owner), Some(NET9));
    assert_eq!(l.get(&16_000_009).map(|x| x.owner), Some(NET9));
    assert!(!l.contains_key(&9) && !l.contains_key(&16_000_010));
    assert!(!l.take(5, 6, VM3), "overlaps the block");
    assert_eq!(l.len(), 16_000_000, "nothing taken");
    assert_eq!(l.remove(&20).map(|x| x.owner), Some(NET9));
    assert_eq!(runs(&l), vec![(10, 10, NET9), (21, 15_999_989, NET9)]);
    assert_eq!(
        l.free_owned(VM3, 0, u32::MAX),
        0,
        "another owner's block stays"
    );
    assert_eq!(l.free_owned(NET9, 15, 10), 9);
    assert_eq!(runs(&l), vec![(10, 5, NET9), (25, 15_999_985, NET9)]);
    assert_eq!(l.end(), 16_000_010);
    assert_eq!(l.free_owned(NET9, 0, u32::MAX), 15_999_990);
    assert!(l.is_empty() && l.end() == 0);
    assert_eq!(l.len(), 0);
}

#[test]
fn neighbours_of_one_owner_join() {
    let mut l = Leases::new();
    assert!(l.take(1, 1, VM3));
    assert!(l.take(3, 1, VM3));
    assert!(l.take(2, 1, VM3));
    assert_eq!(runs(&l), vec![(1, 3, VM3)]);
    assert!(l.take(4, 1, LeaseOwner::Hold));
    assert!(l.take(0, 1, NET9));
    assert_eq!(
        runs(&l),
        vec![(0, 1, NET9), (1, 3, VM3), (4, 1, LeaseOwner::Hold)]
    );
    assert_eq!(l.remove(&2).map(|x| x.owner), Some(VM3));
    assert_eq!(
        runs(&l),
        vec![
            (0, 1, NET9),
            (1, 1, VM3),
            (3, 1, VM3),
            (4, 1, LeaseOwner::Hold)
        ]
    );
    assert_eq!(l.remove(&2), None);
    assert_eq!(l.len(), 4);
    assert_eq!(
        l.iter().map(|(i, _)| i).collect::<Vec<_>>(),
        vec![0, 1, 3, 4]
    );
}

#[test]
fn free_blocks_are_found_in_gaps_below_the_limit() {
    let mut l = Leases::new();
    assert_eq!(l.free_block(10, 10), Some(0));
    assert_eq!(l.free_block(11, 10), None);
    assert_eq!(l.free_block(0, 10), None);
    assert!(l.take(2, 1, LeaseOwner::Hold));
    assert!(l.take(6, 1, LeaseOwner::Hold));
    assert_eq!(l.free_block(2, 10), Some(0));
    assert_eq!(l.free_block(3, 10), Some(3));
    assert_eq!(l.free_block(4, 10), None);
    assert_eq!(l.free_block(3, 9), Some(3));
    assert_eq!(l.free_block(3, 5), None, "3..6 does not fit under 5");
    assert!(l.is_free(7, 3) && !l.is_free(5, 2) && l.is_free(6, 0));
    assert!(!l.take(u32::MAX - 1, 2, VM3), "past the index space");
}

#[test]
fn single_leases_are_stored_in_the_old_form() {
    let mut l = Leases::new();
    assert!(l.take(2, 1, VM3));
    assert!(l.take(4, 1, LeaseOwner::Hold));
    let json = serde_json::to_string(&l).expect("json");
    assert_eq!(json, r#"{"2":{"owner":{"Vm":3}},"4":{"owner":"Hold"}}"#);
    assert!(l.take(100, 65_536, NET9));
    let json = serde_json::to_string(&l).expect("json");
    assert!(
        json.ends_with(r#""100":{"owner":{"Vnet":9},"size":65536}}"#),
        "{json}"
    );
    let back: Leases = serde_json::from_str(&json).expect("back");
    assert_eq!(back, l);
}

#[test]
fn old_bodies_with_one_entry_per_lease_load_as_runs() {
    // What a reservation of 100,000 addresses at index 5 was stored as, plus a VM's lease.
    let mut json = String::from(r#"{"1":{"owner":{"Vm":7}}"#);
    for i in 5..100_005u32 {
        json.push_str(&format!(r#","{i}":{{"owner":{{"Vnet":9}}}}"#));
    }
    json.push('}');
    let l: Leases = serde_json::from_str(&json).expect("old body");
    assert_eq!(
        runs(&l),
        vec![(1, 1, LeaseOwner::Vm(7)), (5, 100_000, NET9)]
    );
    assert_eq!(l.len(), 100_001);
    // Out of order and overlapping entries: the ones that cannot exist are dropped.
    let l: Leases = serde_json::from_str(
        r#"{"9":{"owner":"Hold"},"3":{"owner":"Hold","size":6},"4":{"owner":{"Vm":1}}}"#,
    )
    .expect("odd body");
    assert_eq!(runs(&l), vec![(3, 7, LeaseOwner::Hold)]);
    assert!(serde_json::from_str::<Leases>(r#"{"x":{"owner":"Hold"}}"#).is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Take(u32, u32, u8),
    Remove(u32),
    FreeOwned(u8, u32, u32),
}

fn owner(o: u8) -> LeaseOwner {
    match o % 4 {
        0 => LeaseOwner::Hold,
        1 => LeaseOwner::Vm(i32::from(o)),
        2 => LeaseOwner::Vnet(i32::from(o)),
        _ => LeaseOwner::VRouter(i32::from(o)),
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u32..64, 1u32..12, 0u8..6).prop_map(|(s, n, o)| Op::Take(s, n, o)),
        (0u32..80).prop_map(Op::Remove),
        (0u8..6, 0u32..64, 0u32..40).prop_map(|(o, s, n)| Op::FreeOwned(o, s, n)),
    ]
}

proptest! {
    #[test]
    fn runs_agree_with_a_map_of_every_address(ops in prop::collection::vec(op(), 1..60)) {
        let mut l = Leases::new();
        let mut model: BTreeMap<u32, LeaseOwner> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Take(s, n, o) => {
                    let free = (s..s + n).all(|i| !model.contains_key(&i));
                    prop_assert_eq!(l.take(s, n, owner(o)), free);
                    if free {
                        model.extend((s..s + n).map(|i| (i, owner(o))));
                    }
                }
                Op::Remove(i) => {
                    prop_assert_eq!(l.remove(&i).map(|x| x.owner), model.remove(&i));
                }
                Op::FreeOwned(o, s, n) => {
                    let before = model.len();
                    model.retain(|i, w| !(*w == owner(o) && (s..s + n).contains(i)));
                    prop_assert_eq!(l.free_owned(owner(o), s, n), before - model.len());
                }
            }
            let all: Vec<(u32, LeaseOwner)> = l.iter().map(|(i, x)| (i, x.owner)).collect();
            let expected: Vec<(u32, LeaseOwner)> = model.iter().map(|(i, w)| (*i, *w)).collect();
            prop_assert_eq!(all, expected);
            prop_assert_eq!(l.len(), model.len());
            // Canonical: no two touching runs of one owner.
            let r: Vec<LeaseRun> = l.runs().collect();
            for pair in r.windows(2) {
                prop_assert!(pair[0].end() < u64::from(pair[1].start) || pair[0].owner != pair[1].owner);
            }
            for size in 1..8 {
                let first = (0..=80 - size).find(|s| (*s..*s + size).all(|i| !model.contains_key(&i)));
                prop_assert_eq!(l.free_block(size, 80), first);
            }
            let back: Leases = serde_json::from_str(&serde_json::to_string(&l).expect("json")).expect("back");
            prop_assert_eq!(back, l.clone());
        }
    }
}
