//! Fuzzing scheduled actions (issue 12): the `SCHED_ACTION` vectors users give to
//! `vm.schedadd`, `vm.schedupdate` and `vm.allocate`, checked by `normalize`, and the times
//! the timer computes from them (`due_at`, `next_run`) for a VM started at any time.
//! Properties: nothing panics or overflows, whatever TIME, REPEAT, DAYS and END_VALUE hold;
//! a checked action names a known ACTION and a TIME, and keeps the fields in shared.xsd's
//! order; every time computed comes after the one it follows.
//!
//! `PROPTEST_CASES` overrides the number of cases (`cargo test -p nubo-core --lib
//! --release fuzz_sched` for a long run).

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use nubo_testkit::cases;

/// A number as users write them, and past `i64`.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-5i64..400).prop_map(|n| n.to_string()),
        (1_700_000_000i64..1_900_000_000).prop_map(|n| n.to_string()),
        Just(i64::MAX.to_string()),
        Just(i64::MIN.to_string()),
        Just("9223372036854775808".to_owned()),
        Just(String::new()),
        Just("x".to_owned()),
        Just(" 5".to_owned()),
    ]
}

fn time() -> impl Strategy<Value = String> {
    prop_oneof![
        number(),
        number().prop_map(|n| format!("+{n}")),
        Just("+9223372036854775807".to_owned()),
        Just("++1".to_owned()),
    ]
}

fn days() -> impl Strategy<Value = String> {
    vec(number(), 0..4).prop_map(|d| d.join(","))
}

/// A `SCHED_ACTION` vector: any of its fields, any value, any order.
fn action() -> impl Strategy<Value = Pairs> {
    let field = prop_oneof![
        prop_oneof![
            Just("hold"),
            Just("Poweroff"),
            Just("snapshot-create"),
            Just("explode"),
            Just("")
        ]
        .prop_map(|a| ("ACTION".to_owned(), a.to_owned())),
        time().prop_map(|t| ("TIME".to_owned(), t)),
        prop_oneof![
            Just("-1"),
            Just("0"),
            Just("1"),
            Just("2"),
            Just("3"),
            Just("4")
        ]
        .prop_map(|r| ("REPEAT".to_owned(), r.to_owned())),
        number().prop_map(|r| ("REPEAT".to_owned(), r)),
        days().prop_map(|d| ("DAYS".to_owned(), d)),
        number().prop_map(|e| ("END_TYPE".to_owned(), e)),
        number().prop_map(|e| ("END_VALUE".to_owned(), e)),
        number().prop_map(|d| ("DONE".to_owned(), d)),
        number().prop_map(|w| ("WARNING".to_owned(), w)),
        ".{0,8}".prop_map(|a| ("ARGS".to_owned(), a)),
    ];
    (
        prop_oneof![Just("hold"), Just("terminate-hard"), Just("resched")],
        time(),
        vec(field, 0..8),
    )
        .prop_map(|(a, t, mut rest)| {
            let mut p = vec![("ACTION".to_owned(), a.to_owned()), ("TIME".to_owned(), t)];
            p.append(&mut rest);
            p
        })
}

const FIELDS: [&str; 13] = [
    "ID",
    "PARENT_ID",
    "TYPE",
    "ACTION",
    "ARGS",
    "TIME",
    "REPEAT",
    "DAYS",
    "END_TYPE",
    "END_VALUE",
    "DONE",
    "MESSAGE",
    "WARNING",
];

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_sched_actions(
        p in action(),
        stime in prop_oneof![Just(0i64), 1_700_000_000i64..1_900_000_000, any::<i64>()],
        ran_at in prop_oneof![1_700_000_000i64..1_900_000_000, any::<i64>()],
    ) {
        let mut checked = p.clone();
        if normalize(&mut checked, 3, 7).is_ok() {
            let keys: Vec<&str> = checked.iter().map(|(k, _)| k.as_str()).collect();
            prop_assert_eq!(keys, FIELDS.to_vec());
            prop_assert!(ACTIONS.contains(&get(&checked, "ACTION").unwrap_or_default()));
            // As the timer reads it, for a VM started at any time.
            if let Some(due) = due_at(&checked, stime) {
                let repeat = int(&checked, "REPEAT").unwrap_or(-1);
                if let Some(next) = next_run(&checked, due, ran_at, repeat) {
                    prop_assert!(next > ran_at && next > due, "{} after {} / {}", next, due, ran_at);
                }
            }
        }
        // The timer also meets actions stored before these checks.
        let _ = due_at(&p, stime);
        for repeat in -1..=4 {
            let _ = next_run(&p, stime, ran_at, repeat);
        }
        let _ = new_time_resets(&p);
    }
}
