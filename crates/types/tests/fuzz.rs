//! Fuzzing the ACL rule parsers (issue 12): `acl::parse_rule` (the text form
//! `@1 VM+IMAGE/* CREATE *` that `acl.addrule` and the CLI take) and `acl::parse_hex` (the
//! hex specs of `acl.addrule`), on random text and on rules built from their pieces.
//!
//! Properties: nothing panics; a rule that parses is valid (`validate`) and reads back the
//! same from its written form; every valid rule written reads back; hex specs round-trip.
//!
//! Every test is named `fuzz_…`; `PROPTEST_CASES` overrides the number of cases, so
//! `PROPTEST_CASES=1000000 cargo test -p nubo-types --release fuzz_` is a long run.

use nubo_testkit::cases;
use nubo_types::ObjectKind;
use nubo_types::acl::{
    ALL_ID, CLUSTER_ID, GROUP_ID, INDIVIDUAL_ID, format_rule, parse_hex, parse_rule, validate,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// A user, resource-id or zone spec as text, valid or not.
fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop_oneof![Just("#"), Just("@"), Just("%")], any::<u32>())
            .prop_map(|(p, n)| format!("{p}{n}")),
        Just("*".to_owned()),
        Just("#4294967296".to_owned()),
        Just("#-1".to_owned()),
        Just("#".to_owned()),
        Just("**".to_owned()),
        Just("é".to_owned()),
        Just("#+1".to_owned()),
        ".{0,6}",
    ]
}

/// A resource: kinds joined by `+`, `/`, an id spec.
fn resource_text() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        (0..ObjectKind::ALL.len()).prop_map(|i| ObjectKind::ALL[i].acl_name().to_owned()),
        (0..ObjectKind::ALL.len()).prop_map(|i| ObjectKind::ALL[i].acl_name().to_ascii_lowercase()),
        Just(String::new()),
        Just("FOO".to_owned()),
    ];
    (
        vec(kind, 0..4),
        prop_oneof![Just("/"), Just(""), Just("//")],
        id_text(),
    )
        .prop_map(|(kinds, slash, id)| format!("{}{slash}{id}", kinds.join("+")))
}

fn rights_text() -> impl Strategy<Value = String> {
    let right = prop_oneof![
        Just("USE"),
        Just("MANAGE"),
        Just("ADMIN"),
        Just("CREATE"),
        Just("use"),
        Just(""),
        Just("JUMP"),
    ];
    vec(right, 0..5).prop_map(|r| r.join("+"))
}

fn rule_text() -> impl Strategy<Value = String> {
    (
        id_text(),
        resource_text(),
        rights_text(),
        prop_oneof![Just(String::new()), id_text()],
        prop_oneof![Just(" "), Just("  "), Just("\t"), Just(" \n ")],
        prop_oneof![Just(String::new()), Just(" extra".to_owned())],
    )
        .prop_map(|(u, r, ri, z, sep, extra)| {
            let mut parts = vec![u, r, ri];
            if !z.is_empty() {
                parts.push(z);
            }
            format!("{}{extra}", parts.join(sep))
        })
}

/// A valid rule's four specs.
fn valid_rule() -> impl Strategy<Value = (u64, u64, u64, u64)> {
    let id = |kinds: Vec<u64>| {
        (0..kinds.len(), any::<u32>()).prop_map(move |(i, n)| {
            let kind = kinds[i];
            if kind == ALL_ID {
                ALL_ID
            } else {
                kind | u64::from(n)
            }
        })
    };
    let kinds: Vec<u64> = ObjectKind::ALL
        .iter()
        .map(|k| k.acl_bit())
        .filter(|b| *b != 0)
        .collect();
    let resource_kinds =
        vec(0..kinds.len(), 1..4).prop_map(move |ix| ix.iter().fold(0, |acc, i| acc | kinds[*i]));
    (
        id(vec![INDIVIDUAL_ID, GROUP_ID, CLUSTER_ID, ALL_ID]),
        (
            resource_kinds,
            id(vec![INDIVIDUAL_ID, GROUP_ID, CLUSTER_ID, ALL_ID]),
        )
            .prop_map(|(k, i)| k | i),
        1u64..16,
        id(vec![INDIVIDUAL_ID, ALL_ID]),
    )
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_acl_rule_text(text in prop_oneof![rule_text(), ".{0,40}"]) {
        if let Ok((u, r, ri, z)) = parse_rule(&text) {
            prop_assert_eq!(validate(u, r, ri, z), Ok(()));
            let written = format_rule(u, r, ri, z);
            prop_assert_eq!(parse_rule(&written), Ok((u, r, ri, z)), "{} from {}", written, text);
        }
    }

    #[test]
    fn fuzz_acl_rule_round_trip((u, r, ri, z) in valid_rule()) {
        // A user spec of `%cid` is valid for OpenNebula too; every valid rule round-trips.
        if validate(u, r, ri, z).is_ok() {
            let written = format_rule(u, r, ri, z);
            prop_assert_eq!(parse_rule(&written), Ok((u, r, ri, z)), "{}", written);
        }
    }

    #[test]
    fn fuzz_acl_hex(text in ".{0,24}", n in any::<u64>()) {
        let _ = parse_hex(&text);
        prop_assert_eq!(parse_hex(&format!("{n:#x}")), Some(n));
        prop_assert_eq!(parse_hex(&format!(" {n:X} ")), Some(n));
        prop_assert_eq!(parse_hex(&format!("0X{n:x}")), Some(n));
    }
}
