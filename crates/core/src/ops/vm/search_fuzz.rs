//! Fuzzing `vmpool.info`'s search filter (`VmSearch`): any text users send, and any VM
//! template it is matched against. Properties: nothing panics; parsing stays within its
//! bounds; the LIKE matcher (Shift-And over the pieces between `%`s) agrees with the
//! textbook quadratic definition, and stays linear on patterns built to make a naive
//! matcher backtrack.
//!
//! `PROPTEST_CASES` overrides the number of cases (`cargo test -p nubo-core --lib
//! --release fuzz_search` for a long run).

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::model::{Cpu, Meta, VmOrigin};
use nubo_testkit::{cases, hostile_text};
use nubo_types::Permissions;
use nubo_types::states::{LcmState, VmState};

fn vm(template: Template, user: Template) -> Vm {
    Vm {
        meta: Meta::of_oneadmin(7, "web-7", Permissions::default()),
        state: VmState::Hold,
        lcm_state: LcmState::LcmInit,
        prev_state: VmState::Hold,
        prev_lcm_state: LcmState::LcmInit,
        resched: false,
        stime: 1,
        etime: 0,
        deploy_id: String::new(),
        last_poll: 0,
        template,
        user_template: user,
        history: Vec::new(),
        cpu: Cpu::ONE,
        vcpu: 1,
        memory_mb: 64,
        origin: VmOrigin::Fresh,
        op_seq: 0,
        migrating_from: None,
        pending: None,
        disk_snapshots: Vec::new(),
    }
}

/// The textbook definition of `text LIKE '%pattern%'` (dynamic programming).
fn like_reference(value: &str, text: &str) -> bool {
    let mut pattern = vec![Like_::Any];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        pattern.push(match c {
            '%' => Like_::Any,
            '_' => Like_::One,
            '\\' => Like_::Char(chars.next().unwrap_or('\\')),
            c => Like_::Char(c),
        });
    }
    pattern.push(Like_::Any);
    let text: Vec<char> = text.chars().collect();
    // can[j]: pattern[..i] matches text[..j].
    let mut can = vec![false; text.len() + 1];
    can[0] = true;
    for p in &pattern {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match p {
                Like_::Any => can[j] || (j > 0 && next[j - 1]),
                Like_::One => j > 0 && can[j - 1],
                Like_::Char(c) => j > 0 && can[j - 1] && text[j - 1] == *c,
            };
        }
        can = next;
    }
    can[text.len()]
}

#[derive(Clone, Copy)]
enum Like_ {
    Char(char),
    One,
    Any,
}

/// Texts over a small alphabet, so that patterns and texts meet often.
fn small() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![Just('a'), Just('b'), Just('%'), Just('_'), Just('\\')],
        0..12,
    )
    .prop_map(|c| c.into_iter().collect())
}

fn query_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("VM".to_owned()),
        Just("NAME".to_owned()),
        Just("TEMPLATE".to_owned()),
        Just("USER_TEMPLATE".to_owned()),
        Just("DISK".to_owned()),
        Just("*".to_owned()),
        Just("**".to_owned()),
        Just("[*]".to_owned()),
        Just("[0]".to_owned()),
        Just("[99999999999999999999]".to_owned()),
        Just("\"A B\"".to_owned()),
        Just(".".to_owned()),
        Just("=".to_owned()),
        Just("&".to_owned()),
        Just(" ".to_owned()),
        "[a-z%_\\\\]{0,4}",
        any::<char>().prop_map(String::from),
    ]
}

fn template() -> impl Strategy<Value = Template> {
    vec(
        (
            prop_oneof![Just("DISK"), Just("NIC"), Just("LABEL"), Just("A")],
            prop_oneof![
                "[a-z %_\"\\\\é]{0,6}".prop_map(Value::Single),
                vec(("[A-Z]{1,2}", "[a-z %_]{0,4}"), 0..3).prop_map(Value::Vector),
            ],
        ),
        0..4,
    )
    .prop_map(|attrs| Template {
        attrs: attrs
            .into_iter()
            .map(|(name, value)| nubo_template::Attribute {
                name: name.to_owned(),
                value,
            })
            .collect(),
    })
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_search_filters(
        pieces in vec(query_piece(), 0..10),
        raw in hostile_text(),
        t in template(),
        u in template(),
    ) {
        let vm = vm(t, u);
        for text in [pieces.concat(), raw] {
            match VmSearch::parse(&text) {
                Ok(Some(q)) => {
                    prop_assert!(!q.terms.is_empty() && q.terms.len() <= MAX_TERMS);
                    prop_assert!(q.terms.iter().all(|t| t.path.len() <= MAX_STEPS));
                    // Terms sharing a path share its text: the same as each term alone.
                    let alone = q.terms.iter().all(|t| {
                        VmSearch { terms: vec![t.clone()] }.matches(&vm)
                    });
                    prop_assert_eq!(q.matches(&vm), alone);
                }
                Ok(None) => prop_assert!(words(&text, '&').all(|t| words(t, '=').next().is_none())),
                Err(e) => prop_assert_eq!(e.code(), nubo_types::ErrorCode::Internal),
            }
        }
    }

    #[test]
    fn fuzz_search_like_agrees_with_its_definition(value in small(), text in "[ab%_\\\\]{0,16}") {
        let pattern = parse_like(&value);
        prop_assert!(pattern.is_ok());
        if let Ok(pattern) = pattern {
            prop_assert_eq!(like(&pattern, &text), like_reference(&value, &text), "{:?} in {:?}", value, text);
        }
    }
}

#[test]
fn fuzz_search_like_is_linear_on_backtracking_patterns() {
    // Patterns that make a backtracking matcher quadratic or worse, on a long text: the
    // automaton reads each character of the text once, updating at most WORDS bit words
    // (a backtracking matcher would make about 256 times as many steps).
    let text = "a".repeat(200_000);
    let run = MAX_PIECE_LEN - 1;
    for value in [
        format!("{}b", "a".repeat(run)),
        format!("{}b", "a%".repeat(1000)),
        format!("{}b", "_".repeat(run)),
        format!("{}b", "%_".repeat(1000)),
        format!("{}b", format!("{}%", "a".repeat(run)).repeat(8)),
    ] {
        let pattern = parse_like(&value);
        assert!(pattern.is_ok(), "{value}");
        if let Ok(pattern) = pattern {
            let mut steps = 0;
            assert!(!like_counted(&pattern, &text, &mut steps), "{value}");
            let bound = (text.len() * WORDS) as u64;
            assert!(steps <= bound, "{value}: {steps} steps, over {bound}");
        }
    }
}
