//! Fuzzing the XML-RPC front end's parameter readers (issue 12): `Params` over any list of
//! decoded values (every type, extreme numbers, nested arrays and structs), read at any
//! position with every reader a handler uses. Properties: nothing panics; a reader answers
//! the value of its type, the default past the end, or a fault: -502 for a missing
//! mandatory parameter, -501 for a wrong type (never a boolean for an integer or the
//! reverse).
//!
//! `PROPTEST_CASES` overrides the number of cases (`cargo test -p nubo-frontend-xmlrpc
//! --release fuzz_` for a long run).

use nubo_xmlrpc::{Value, fault};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::params::{CallError, Params};
use nubo_testkit::cases;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop_oneof![any::<i32>(), Just(0), Just(1), Just(-1)].prop_map(Value::Int),
        prop_oneof![
            any::<i64>(),
            Just(i64::from(i32::MAX) + 1),
            Just(i64::from(i32::MIN)),
            Just(7)
        ]
        .prop_map(Value::I8),
        any::<bool>().prop_map(Value::Bool),
        ".{0,8}".prop_map(Value::String),
        any::<f64>().prop_map(Value::Double),
        Just(Value::DateTime("20260101T00:00:00".to_owned())),
        vec(any::<u8>(), 0..4).prop_map(Value::Base64),
        Just(Value::Nil),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((".{0,4}", inner), 0..3).prop_map(Value::Struct),
        ]
    })
}

/// The fault code of a reader's error (core errors are not the readers').
fn code(e: &CallError) -> Option<i32> {
    match e {
        CallError::Fault(code, _) => Some(*code),
        CallError::Core(..) => None,
    }
}

fn is_int(v: &Value) -> bool {
    match v {
        Value::Int(_) => true,
        Value::I8(n) => i32::try_from(*n).is_ok(),
        _ => false,
    }
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_xmlrpc_params(values in vec(value(), 0..12), i in 0usize..14) {
        let p = Params::new(values.clone());
        let got = values.get(i);
        let expect = |missing_ok: bool, fits: bool| if got.is_none() {
            if missing_ok { None } else { Some(fault::MISSING) }
        } else if fits {
            None
        } else {
            Some(fault::TYPE)
        };
        prop_assert_eq!(p.int(i).err().as_ref().and_then(code), expect(false, got.is_some_and(is_int)));
        prop_assert_eq!(
            p.bool(i).err().as_ref().and_then(code),
            expect(false, matches!(got, Some(Value::Bool(_))))
        );
        prop_assert_eq!(
            p.str(i).err().as_ref().and_then(code),
            expect(false, matches!(got, Some(Value::String(_))))
        );
        prop_assert_eq!(p.int_or(i, 5).err().as_ref().and_then(code), expect(true, got.is_some_and(is_int)));
        prop_assert_eq!(
            p.bool_or(i, true).err().as_ref().and_then(code),
            expect(true, matches!(got, Some(Value::Bool(_))))
        );
        prop_assert_eq!(
            p.str_or(i, "d").err().as_ref().and_then(code),
            expect(true, matches!(got, Some(Value::String(_))))
        );
        let ints = matches!(got, Some(Value::Array(items)) if items.iter().all(is_int));
        prop_assert_eq!(p.int_array_or(i).err().as_ref().and_then(code), expect(true, ints));
        if got.is_none() {
            prop_assert_eq!(p.int_or(i, 5).ok(), Some(5));
            prop_assert_eq!(p.int_array_or(i).ok(), Some(Vec::new()));
        }
        match p.perms(i) {
            Ok(bits) => {
                for (k, bit) in bits.iter().enumerate() {
                    prop_assert_eq!(p.int(i + k).ok(), Some(*bit));
                }
            }
            Err(e) => prop_assert!(matches!(code(&e), Some(fault::MISSING | fault::TYPE))),
        }
    }
}
