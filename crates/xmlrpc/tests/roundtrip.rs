//! Property tests: anything written parses back to the same thing, and no input makes the
//! parser panic.

use nubo_xmlrpc::{
    MethodCall, MethodResponse, Value, parse_call, parse_response, write_call, write_response,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// Text rich in XML-significant pieces, plus arbitrary Unicode.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<"),
        Just(">"),
        Just("&"),
        Just("&amp;"),
        Just("]]>"),
        Just("<![CDATA["),
        Just("\r"),
        Just("\r\n"),
        Just("\n"),
        Just("\t"),
        Just(" "),
        Just("\""),
        Just("'"),
        Just("é"),
        Just("☃"),
        Just("🦀"),
        Just("a"),
        Just("<value>"),
    ];
    prop_oneof![
        any::<String>(),
        vec(piece, 0..12).prop_map(|pieces| pieces.concat()),
    ]
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |d| d.is_finite()),
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(0.1),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(Value::Int),
        any::<i64>().prop_map(Value::I8),
        any::<bool>().prop_map(Value::Bool),
        text().prop_map(Value::String),
        finite_f64().prop_map(Value::Double),
        "[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}".prop_map(Value::DateTime),
        vec(any::<u8>(), 0..40).prop_map(Value::Base64),
        Just(Value::Nil),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((text(), inner), 0..6).prop_map(Value::Struct),
        ]
    })
}

/// Equality that also tells `0.0` from `-0.0`.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        (Value::Struct(xs), Value::Struct(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys)
                    .all(|((kx, x), (ky, y))| kx == ky && same(x, y))
        }
        _ => a == b,
    }
}

/// One edit to a document.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, &'static str),
    Replace(usize, u8),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop_oneof![
        Just("<"),
        Just(">"),
        Just("/"),
        Just("&"),
        Just("&#"),
        Just("&#x"),
        Just(";"),
        Just("]]>"),
        Just("<![CDATA["),
        Just("<!--"),
        Just("<!DOCTYPE x>"),
        Just("<?pi?>"),
        Just("<value>"),
        Just("</value>"),
        Just("<array><data>"),
        Just("<struct><member>"),
        Just("<i4>"),
        Just("\u{0}"),
        Just("\"'="),
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), token).prop_map(|(at, t)| Mutation::Insert(at, t)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(doc: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = doc.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Delete(at) if len > 0 => {
                bytes.remove(at % len);
            }
            Mutation::Insert(at, token) => {
                let at = at % (len + 1);
                bytes.splice(at..at, token.bytes());
            }
            Mutation::Replace(at, b) if len > 0 => bytes[at % len] = b,
            Mutation::Truncate(at) => bytes.truncate(at % (len + 1)),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn calls_round_trip(
        method in text().prop_filter("non-empty", |m| !m.is_empty()),
        params in vec(value(), 0..5),
    ) {
        let call = MethodCall { method, params };
        let text = write_call(&call);
        let parsed = parse_call(text.as_bytes());
        let back = match parsed {
            Ok(back) => back,
            Err(e) => return Err(TestCaseError::fail(format!("{e} in {text}"))),
        };
        prop_assert_eq!(&back.method, &call.method);
        prop_assert_eq!(back.params.len(), call.params.len());
        for (b, c) in back.params.iter().zip(&call.params) {
            prop_assert!(same(b, c), "{:?} != {:?}", b, c);
        }
    }

    #[test]
    fn responses_round_trip(v in value()) {
        let text = write_response(&MethodResponse::Success(v.clone()));
        match parse_response(text.as_bytes()) {
            Ok(MethodResponse::Success(back)) => prop_assert!(same(&back, &v), "{:?} != {:?}", back, v),
            other => return Err(TestCaseError::fail(format!("{other:?} from {text}"))),
        }
    }

    #[test]
    fn faults_round_trip(code in any::<i32>(), message in text()) {
        let fault = MethodResponse::Fault { code, message };
        let text = write_response(&fault);
        prop_assert_eq!(parse_response(text.as_bytes()), Ok(fault));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..512)) {
        let _ = parse_call(&body);
        let _ = parse_response(&body);
    }

    #[test]
    fn arbitrary_text_never_panics(body in any::<String>()) {
        let _ = parse_call(body.as_bytes());
        let _ = parse_response(body.as_bytes());
    }

    #[test]
    fn mutated_documents_never_panic(
        params in vec(value(), 0..3),
        mutations in vec(mutation(), 1..6),
    ) {
        let call = write_call(&MethodCall { method: "one.vm.info".into(), params: params.clone() });
        let _ = parse_call(&mutate(&call, &mutations));
        let _ = parse_response(&mutate(&call, &mutations));
        let resp = write_response(&MethodResponse::Success(Value::Array(params)));
        let _ = parse_response(&mutate(&resp, &mutations));
        let _ = parse_call(&mutate(&resp, &mutations));
    }
}
