//! Tests of scheduler expressions: OpenNebula's semantics, errors with their column, the
//! limits on length and nesting, and that long chains never recurse.

use super::*;
use proptest::prelude::*;

fn vars(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

fn holds(expr: &str, v: &HashMap<String, Vec<String>>) -> bool {
    Requirements::parse(expr).expect("parses").eval(v)
}

#[test]
fn requirements_follow_opennebula() {
    let v = vars(&[
        ("CLUSTER_ID", &["0"]),
        ("NAME", &["node12"]),
        ("HYPERVISOR", &["kvm"]),
        ("FREE_CPU", &["350"]),
        ("CURRENT_VMS", &["3", "5", "9"]),
        ("PCI", &["a,b , c"]),
    ]);
    assert!(holds("(CLUSTER_ID = 0) & !(PUBLIC_CLOUD = YES)", &v));
    assert!(holds("", &v) && holds("   ", &v));
    assert!(holds("NAME = \"node*\"", &v) && holds("NAME = node1?", &v));
    assert!(!holds("NAME = \"other*\"", &v));
    assert!(holds("NAME = node[0-9]2", &v) && !holds("NAME = node[!1]2", &v));
    assert!(holds("FREE_CPU > 300", &v) && !holds("FREE_CPU < 300", &v));
    assert!(holds("FREE_CPU = 350.0", &v), "numbers compare numerically");
    assert!(holds("CURRENT_VMS = 5", &v) && !holds("CURRENT_VMS != 5", &v));
    assert!(holds("CURRENT_VMS != 4", &v));
    assert!(holds("PCI @> b", &v) && !holds("PCI @> d", &v));
    assert!(!holds("UNKNOWN = 1", &v) && !holds("UNKNOWN != 1", &v));
    // One precedence level, left-associative: (a | b) & c.
    assert!(!holds("CLUSTER_ID = 0 | HYPERVISOR = kvm & NAME = x", &v));
    assert!(holds("NAME = x & HYPERVISOR = y | CLUSTER_ID = 0", &v));
    assert!(holds("!!(CLUSTER_ID = 0)", &v));
    assert!(holds("CLUSTER_ID > -1", &v));
}

#[test]
fn ranks_are_arithmetic() {
    let v = vars(&[
        ("FREE_CPU", &["100"]),
        ("RUNNING_VMS", &["4"]),
        ("S", &["x"]),
    ]);
    let rank = |e: &str| Rank::parse(e).expect("parses").eval(&v);
    assert_eq!(rank("FREE_CPU"), 100.0);
    assert_eq!(rank("-RUNNING_VMS"), -4.0);
    assert_eq!(rank("FREE_CPU - 2 * RUNNING_VMS"), 92.0);
    assert_eq!(rank("(FREE_CPU - 2) * RUNNING_VMS"), 392.0);
    assert_eq!(rank("10 - 4 - 3"), 3.0);
    assert_eq!(rank("FREE_CPU / 0"), 0.0);
    assert_eq!(rank("MISSING + S + 1"), 1.0);
    assert_eq!(rank(""), 0.0);
}

#[test]
fn errors_give_the_column() {
    let e = Requirements::parse("CLUSTER_ID = 0 & )").expect_err("bad");
    assert!(matches!(e, ExprError::Syntax { column: 18, .. }), "{e}");
    assert!(e.to_string().contains("unexpected ')'"), "{e}");
    assert!(Requirements::parse("A =").is_err());
    assert!(Requirements::parse("A = 1 B = 2").is_err());
    assert!(Requirements::parse("(A = 1").is_err());
    assert!(Requirements::parse("A >= 1").is_err(), "there is no >=");
    assert!(Rank::parse("1 +").is_err());
    assert!(Rank::parse("A = 1").is_err());
    let deep = format!("{}A = 1{}", "(".repeat(500), ")".repeat(500));
    assert!(Requirements::parse(&deep).is_err());
    assert!(Rank::parse(&"-".repeat(10_000)).is_err());
}

/// `n` terms of `term` joined by `op`.
fn joined(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

/// Runs `f` on a thread with a 256 KiB stack: an expression that recursed once per term
/// would overflow it (and abort the test binary).
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no panic");
}

#[test]
fn long_chains_are_refused_cleanly() {
    on_small_stack(|| {
        // 50,000 terms: too many bytes or too many terms, whichever is seen first.
        for op in [" & ", " | ", "&", "|"] {
            let e = Requirements::parse(&joined("ID=1", op, 50_000)).expect_err("too long");
            assert!(matches!(e, ExprError::TooLong { .. }), "{e}");
            assert!(e.to_string().starts_with("expression too long: "), "{e}");
        }
        for op in [" + ", " * ", "-", " / "] {
            let e = Rank::parse(&joined("1", op, 50_000)).expect_err("too long");
            assert!(matches!(e, ExprError::TooLong { .. }), "{e}");
        }
        // Short terms: the terms are counted.
        let e = Requirements::parse(&joined("A=1", "&", 5_000)).expect_err("too long");
        assert_eq!(
            e,
            ExprError::TooLong {
                found: 5_000,
                max: MAX_TERMS,
                unit: "terms"
            }
        );
        assert_eq!(
            e.to_string(),
            "expression too long: 5000 terms, at most 4096"
        );
        let e = Rank::parse(&joined("1", "+", 50_000)).expect_err("too long");
        assert_eq!(
            e.to_string(),
            "expression too long: 50000 terms, at most 4096"
        );
        let e = Requirements::parse(&" ".repeat(MAX_LEN + 1)).expect_err("too long");
        assert_eq!(
            e.to_string(),
            format!(
                "expression too long: {} bytes, at most {MAX_LEN}",
                MAX_LEN + 1
            )
        );
        assert!(Rank::parse(&" ".repeat(MAX_LEN + 1)).is_err());
        // Exactly at the limits is accepted.
        assert!(Requirements::parse(&joined("ID=1", "&", MAX_TERMS)).is_ok());
        assert!(Requirements::parse(&joined("ID=1", "&", MAX_TERMS + 1)).is_err());
        assert!(Rank::parse(&joined("1", "+", MAX_TERMS)).is_ok());
        assert!(Requirements::parse(&" ".repeat(MAX_LEN)).is_ok());
    });
}

#[test]
fn chains_under_the_limit_parse_evaluate_and_drop_without_recursing() {
    on_small_stack(|| {
        let v = vars(&[("ID", &["1"]), ("X", &["2"])]);
        let all = Requirements::parse(&joined("ID=1", " & ", 4_000)).expect("parses");
        assert!(all.eval(&v));
        let any = Requirements::parse(&joined("ID=2", " | ", 4_000)).expect("parses");
        assert!(!any.eval(&v));
        let last = format!("{} | ID = 1", joined("ID=2", " | ", 3_999));
        assert!(Requirements::parse(&last).expect("parses").eval(&v));
        let mixed = format!("{} & ID = 2", joined("ID=1", " | ", 3_999));
        assert!(!Requirements::parse(&mixed).expect("parses").eval(&v));
        drop((all, any));

        let rank = |text: &str| Rank::parse(text).expect("parses").eval(&v);
        assert_eq!(rank(&joined("1", " + ", 4_000)), 4_000.0);
        assert_eq!(
            rank(&joined("X", " * ", 1_100)),
            0.0,
            "2^1024 is not finite"
        );
        assert_eq!(rank(&joined("X", " * ", 20)), 1_048_576.0);
        assert_eq!(rank(&format!("100 {}", "- 1 ".repeat(3_999))), -3_899.0);
        assert_eq!(rank(&format!("1 {}", "/ 0 ".repeat(3_000))), 0.0);
        assert_eq!(rank(&joined("X * 3 - 1", " + ", 1_000)), 5_000.0);

        // Nesting is bounded by MAX_DEPTH, and the deepest accepted fits the small stack.
        let depth = MAX_DEPTH - 1;
        let nested = format!("{}ID = 1{}", "(".repeat(depth), ")".repeat(depth));
        assert!(Requirements::parse(&nested).expect("parses").eval(&v));
        let negated = format!("{}ID = 1", "!".repeat(depth - 1));
        assert!(Requirements::parse(&negated).expect("parses").eval(&v));
        let minus = format!("{}X", "-".repeat(depth - 1));
        assert_eq!(rank(&minus), 2.0);
        let deep_chain = format!(
            "{}{}{}",
            "(".repeat(depth),
            joined("ID=1", " & ", 40),
            ")".repeat(depth)
        );
        assert!(Requirements::parse(&deep_chain).expect("parses").eval(&v));
    });
}

#[test]
fn chains_keep_one_left_associative_level() {
    let v = vars(&[("A", &["1"]), ("B", &["2"]), ("C", &["3"])]);
    // (A | B) & C, never A | (B & C).
    assert!(!holds("A = 1 | B = 9 & C = 9", &v));
    assert!(holds("A = 9 & B = 9 | C = 3", &v));
    assert!(holds("A = 1 & B = 2 & C = 3", &v) && !holds("A = 1 & B = 2 & C = 4", &v));
    assert!(holds("A = 0 | B = 0 | C = 3", &v) && !holds("A = 0 | B = 0 | C = 0", &v));
    assert!(holds("!(A = 1 & B = 9) & (C = 3 | A = 0)", &v));
    let rank = |e: &str| Rank::parse(e).expect("parses").eval(&v);
    assert_eq!(rank("1 - 2 * 3 + 4 / 2"), -3.0);
    assert_eq!(rank("C * B - A * 4 - 1"), 1.0);
    assert_eq!(rank("C - -B"), 5.0);
    assert_eq!(rank("24 / B / C * A"), 4.0);
    assert_eq!(rank("(1 + 2) * (C - (B - A))"), 6.0);
}

proptest! {
    #[test]
    fn no_input_panics(text in ".{0,80}", value in ".{0,12}") {
        let v = vars(&[("A", &[value.as_str()]), ("B", &["1", "2"])]);
        if let Ok(r) = Requirements::parse(&text) {
            let _ = r.eval(&v);
        }
        if let Ok(r) = Rank::parse(&text) {
            prop_assert!(r.eval(&v).is_finite());
        }
    }

    #[test]
    fn operator_soup_never_panics(text in "[A-B0-9 =!<>@&|()+*/\"-]{0,60}") {
        let v = vars(&[("A", &["3"]), ("B", &["x"])]);
        if let Ok(r) = Requirements::parse(&text) {
            let _ = r.eval(&v);
        }
        if let Ok(r) = Rank::parse(&text) {
            prop_assert!(r.eval(&v).is_finite());
        }
    }
}
