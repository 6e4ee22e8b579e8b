//! Fuzzing `parse_call` and `parse_response` (issue 12): random bytes, random text, and
//! documents built from XML-RPC's own pieces (odd scalars, huge numbers, entities and
//! character references, CDATA, comments, unknown types, nesting around [`MAX_DEPTH`]),
//! mutated. Properties: no input panics or overflows the stack; an error is a
//! [`DecodeError`] answered with the parse fault and a short message (texts quoted from a
//! hostile body are shortened); a body that parses reads back the same after being written
//! (parse(write(parse(b))) == parse(b)); values written parse back to themselves.
//!
//! Every test is named `fuzz_…`; `PROPTEST_CASES` overrides the number of cases, so
//! `PROPTEST_CASES=1000000 cargo test -p nubo-xmlrpc --release fuzz_` is a long run.

use nubo_testkit::Tape;
use nubo_testkit::cases;
use nubo_xmlrpc::{
    DecodeError, MAX_DEPTH, MethodCall, MethodResponse, Value, fault, parse_call, parse_response,
    write_call, write_response,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// Longest error message accepted, in bytes: the fixed text plus a few shortened quotes.
const MAX_MESSAGE: usize = 600;

/// Runs `f` on a thread with a 1 MiB stack (the 64 levels allowed take about 640 KiB in a
/// debug build, under 64 KiB in release), so that recursion per level of input would
/// overflow it (and abort the test binary) long before the input ends.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no panic")
}

/// Equality that tells `0.0` from `-0.0` and takes every NaN as equal.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
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

/// The checks every error must pass: the parse fault, and a message of bounded length
/// whatever the body held.
fn check_error(e: &DecodeError, body_len: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.fault_code(), fault::PARSE);
    let message = e.to_string();
    prop_assert!(
        message.len() <= MAX_MESSAGE,
        "a {}-byte body gave a {}-byte message: {:.300}…",
        body_len,
        message.len(),
        message
    );
    Ok(())
}

/// Parses `body` both ways; checks errors, and that whatever parses reads back the same
/// once written.
fn check_body(body: &[u8]) -> Result<(), TestCaseError> {
    match parse_call(body) {
        Ok(call) => {
            let written = write_call(&call);
            let back = parse_call(written.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e} reading back {written}")))?;
            prop_assert_eq!(&back.method, &call.method);
            prop_assert_eq!(back.params.len(), call.params.len());
            for (b, c) in back.params.iter().zip(&call.params) {
                prop_assert!(same(b, c), "{:?} read back as {:?}", c, b);
            }
        }
        Err(e) => check_error(&e, body.len())?,
    }
    match parse_response(body) {
        Ok(resp) => {
            let written = write_response(&resp);
            let back = parse_response(written.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e} reading back {written}")))?;
            match (&resp, &back) {
                (MethodResponse::Success(a), MethodResponse::Success(b)) => {
                    prop_assert!(same(a, b), "{:?} read back as {:?}", a, b);
                }
                _ => prop_assert_eq!(&resp, &back),
            }
        }
        Err(e) => check_error(&e, body.len())?,
    }
    Ok(())
}

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz ";
const DIGITS: &[u8] = b"0123456789";

/// Character data as it may appear in a body: plain, escaped, referenced, in CDATA, with
/// comments, or broken.
fn raw_text(t: &mut Tape) -> String {
    const PIECES: &[&str] = &[
        "&lt;&gt;&amp;&quot;&apos;",
        "&#65;&#x42;&#x1F980;",
        "&#x110000;",
        "&#0;",
        "&#11;",
        "&#xFFFE;",
        "&#;",
        "&#x;",
        "&#99999999999999999999;",
        "&bogus;",
        "&amp",
        "<![CDATA[<x>&amp;]]>",
        "<![CDATA[unclosed",
        "<!-- c -->",
        "<!-- unclosed",
        "]]>",
        "\r\n\t",
        "é☃🦀\u{FFFD}",
        "\u{0}\u{b}\u{FFFF}",
        "<",
        "&",
    ];
    let mut out = String::new();
    for _ in 0..t.below(8) {
        if t.below(3) != 0 {
            let n = t.below(7);
            out.push_str(&t.word(LOWER, n));
            if t.below(4) == 0 {
                out.push_str(t.pick(&PIECES[..2]));
            }
            continue;
        }
        match t.below(PIECES.len() + 3) {
            0 => {
                let n = t.below(7);
                out.push_str(&t.word(LOWER, n));
            }
            1 => out.push(t.char()),
            2 => {
                let n = 50 + t.below(150);
                out.push_str(&format!("&{};", t.word(LOWER, n)));
            }
            i => out.push_str(PIECES[i - 3]),
        }
    }
    out
}

/// The content of a scalar `<value>`, valid or not: what clients send and what a hostile
/// one might.
fn raw_scalar(t: &mut Tape) -> String {
    const FIXED: &[&str] = &[
        "<i4> +12 \n</i4>",
        "<int>2147483648</int>",
        "<i8>-9223372036854775809</i8>",
        "<int></int>",
        "<int>0x10</int>",
        "<boolean>0</boolean>",
        "<boolean>true</boolean>",
        "<boolean> false </boolean>",
        "<boolean>2</boolean>",
        "<boolean></boolean>",
        "<double>1e400</double>",
        "<double>-0</double>",
        "<double>NaN</double>",
        "<double>inf</double>",
        "<double>-infinity</double>",
        "<double>.</double>",
        "<double>1e</double>",
        "<base64>aGVsbG8=</base64>",
        "<base64>aGVsbG8</base64>",
        "<base64>aGV\nsbG8=</base64>",
        "<base64>!!</base64>",
        "<dateTime.iso8601>20260101T00:00:00</dateTime.iso8601>",
        "<dateTime.iso8601> x </dateTime.iso8601>",
        "<nil/>",
        "<nil>x</nil>",
        "<nil> </nil>",
        "<string/>",
        "<unknown>1</unknown>",
        "<int><i4>1</i4></int>",
    ];
    if t.below(2) == 0 {
        // Well-formed scalars.
        return match t.below(6) {
            0 => format!("<int>{}</int>", t.next() as i32),
            1 => format!("<boolean>{}</boolean>", t.below(2)),
            2 => format!("<double>{}</double>", f64::from(t.next()) / 7.0),
            3 => format!("<i8>{}</i8>", i64::from(t.next()) << 16),
            4 => "<nil/>".to_owned(),
            _ => {
                let n = t.below(12);
                format!("<string>{}</string>", t.word(LOWER, n))
            }
        };
    }
    match t.below(FIXED.len() + 7) {
        0 => format!("<int>{}</int>", t.next() as i32),
        1 => format!(
            "<i8>{}</i8>",
            (u64::from(t.next()) << 32 | u64::from(t.next())) as i64
        ),
        2 => {
            let n = 20 + t.below(100);
            format!("<int>{}</int>", t.word(DIGITS, n))
        }
        3 => format!(
            "<double>{}</double>",
            f64::from_bits(u64::from(t.next()) << 32 | u64::from(t.next()))
        ),
        4 => format!("<string>{}</string>", raw_text(t)),
        5 => raw_text(t),
        6 => {
            let n = 1 + t.below(80);
            let name = t.word(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", n);
            format!("<{name}>1</{name}>")
        }
        i => FIXED[i - 7].to_owned(),
    }
}

/// The content of a `<value>`: a raw scalar, or arrays and structs of them (at most
/// `depth` levels more).
fn raw_value(t: &mut Tape, depth: usize) -> String {
    if depth == 0 || t.below(2) != 0 {
        return raw_scalar(t);
    }
    match t.below(4) {
        0 => {
            let items: String = (0..t.below(5))
                .map(|_| format!("<value>{}</value>", raw_value(t, depth - 1)))
                .collect();
            format!("<array><data>{items}</data></array>")
        }
        1 => {
            let members: String = (0..t.below(5))
                .map(|_| {
                    let name = raw_text(t);
                    format!(
                        "<member><name>{name}</name><value>{}</value></member>",
                        raw_value(t, depth - 1)
                    )
                })
                .collect();
            format!("<struct>{members}</struct>")
        }
        2 => "<array/>".to_owned(),
        _ => "<array><data/></array>".to_owned(),
    }
}

/// A whole `<methodCall>` or `<methodResponse>` around raw values, with the prologs and
/// epilogs clients send (or should not).
fn raw_document(t: &mut Tape) -> String {
    let prolog = t.pick(&[
        "",
        "",
        "",
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\"?>",
        "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<!-- hi -->",
        "<!DOCTYPE x [<!ENTITY e \"boom\">]>",
        "<?pi x?>",
        "  \n",
    ]);
    let epilog = t.pick(&[
        "",
        "",
        "",
        "",
        "\n",
        "<!-- bye -->",
        "<x/>",
        "text",
        "<?pi?>",
    ]);
    let method = match t.below(6) {
        0 => String::new(),
        1 => raw_text(t),
        _ => "one.vm.info".to_owned(),
    };
    let count = if t.below(2) == 0 { 1 } else { t.below(4) };
    let params: String = (0..count)
        .map(|_| format!("<param><value>{}</value></param>", raw_value(t, 8)))
        .collect();
    if t.below(2) == 0 {
        format!(
            "{prolog}<methodCall><methodName>{method}</methodName>\
             <params>{params}</params></methodCall>{epilog}"
        )
    } else {
        format!("{prolog}<methodResponse><params>{params}</params></methodResponse>{epilog}")
    }
}

/// Documents drawn from a random tape.
fn documents() -> impl Strategy<Value = String> {
    vec(any::<u32>(), 0..400).prop_map(|words| raw_document(&mut Tape::new(&words)))
}

/// Applies `edits` (drawn from a tape) to `doc`: deletions, insertions of XML-RPC's and
/// XML's tokens, byte replacements, truncations and duplicated runs.
fn mutate(doc: &str, edits: &[u32]) -> Vec<u8> {
    const TOKENS: &[&str] = &[
        "<",
        ">",
        "/",
        "&",
        "&#",
        "&#x",
        ";",
        "\"",
        "]]>",
        "<![CDATA[",
        "<!--",
        "-->",
        "<!DOCTYPE x>",
        "<?pi?>",
        "<value>",
        "</value>",
        "<array><data>",
        "</data></array>",
        "<struct><member>",
        "<name>n</name>",
        "<i4>",
        "</i4>",
        "<params>",
        "</params>",
        "\u{0}",
        "\u{feff}",
        "\u{FFFF}",
        "é",
        " x=\"1\"",
    ];
    let mut t = Tape::new(edits);
    let mut bytes = doc.as_bytes().to_vec();
    for _ in 0..edits.len() / 3 {
        let len = bytes.len();
        let at = t.below(len + 1);
        match t.below(5) {
            0 => {
                let n = 1 + t.below(16);
                bytes.drain(at..(at + n).min(len));
            }
            1 => {
                let token = t.pick(TOKENS);
                bytes.splice(at..at, token.bytes());
            }
            2 if at < len => bytes[at] = t.next() as u8,
            3 => bytes.truncate(at),
            _ => {
                let n = 1 + t.below(64);
                let piece: Vec<u8> = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, piece);
            }
        }
    }
    bytes
}

/// Values the writer can write (strings without characters XML cannot carry, which it
/// replaces), with the extremes of every type.
fn value() -> impl Strategy<Value = Value> {
    let text = "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]{0,24}";
    let leaf = prop_oneof![
        prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX)].prop_map(Value::Int),
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX)].prop_map(Value::I8),
        any::<bool>().prop_map(Value::Bool),
        text.prop_map(Value::String),
        prop_oneof![
            any::<f64>(),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(5e-324),
            Just(f64::MAX)
        ]
        .prop_map(Value::Double),
        "[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}".prop_map(Value::DateTime),
        vec(any::<u8>(), 0..48).prop_map(Value::Base64),
        Just(Value::Nil),
    ];
    leaf.prop_recursive(4, 24, 4, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((text, inner), 0..4).prop_map(Value::Struct),
        ]
    })
}

/// `depth` arrays/structs, one inside the other (`kinds` chooses each), around an int.
fn nested(depth: usize, kinds: &[bool]) -> String {
    let mut open = String::new();
    let mut close = Vec::new();
    for i in 0..depth {
        if kinds.get(i % kinds.len().max(1)).copied().unwrap_or(true) {
            open.push_str("<array><data><value>");
            close.push("</value></data></array>");
        } else {
            open.push_str("<struct><member><name>m</name><value>");
            close.push("</value></member></struct>");
        }
    }
    close.reverse();
    format!(
        "<methodCall><methodName>m</methodName><params><param><value>{open}<int>1</int>{}\
         </value></param></params></methodCall>",
        close.concat()
    )
}

#[test]
fn fuzz_depth_limit_is_exact_and_never_recursed_past() {
    on_small_stack(|| {
        for kinds in [[true, true], [false, false], [true, false]] {
            assert!(parse_call(nested(MAX_DEPTH, &kinds).as_bytes()).is_ok());
            let e = parse_call(nested(MAX_DEPTH + 1, &kinds).as_bytes()).expect_err("deep");
            assert!(
                matches!(
                    e,
                    DecodeError::TooDeep {
                        limit: MAX_DEPTH,
                        ..
                    }
                ),
                "{e}"
            );
            // Far deeper than any stack: refused at the limit, the rest never read.
            let e = parse_call(nested(200_000, &kinds).as_bytes()).expect_err("deep");
            assert!(matches!(e, DecodeError::TooDeep { .. }), "{e}");
        }
    });
}

#[test]
fn fuzz_quoted_input_is_shortened_in_messages() {
    let long = "a".repeat(100_000);
    for body in [
        format!("<{long}/>"),
        format!("<methodCall><{long}/></methodCall>"),
        format!("<methodCall><methodName>m</methodName><{long}/></methodCall>"),
        format!(
            "<methodCall><methodName>m</methodName><params><param><value><{long}>1</{long}>\
             </value></param></params></methodCall>"
        ),
        format!(
            "<methodCall><methodName>m</methodName><params><param><value><string>x<{long}/>\
             </string></value></param></params></methodCall>"
        ),
        format!("<methodCall><methodName>m<{long}/></methodName></methodCall>"),
        format!("</{long}>"),
        format!("<methodCall><methodName>m</methodName></{long}>"),
        format!(
            "<methodCall><methodName>m</methodName><params><param><value><int>{}</int>\
             </value></param></params></methodCall>",
            "9".repeat(100_000)
        ),
        format!(
            "<methodCall><methodName>m</methodName><params><param><value><string>&{long};\
             </string></value></param></params></methodCall>"
        ),
        format!("<methodCall>{long}</methodCall>"),
    ] {
        let call = parse_call(body.as_bytes()).expect_err("malformed");
        assert!(call.to_string().len() <= MAX_MESSAGE, "{:.200}", call);
        let resp = parse_response(body.as_bytes()).expect_err("malformed");
        assert!(resp.to_string().len() <= MAX_MESSAGE, "{:.200}", resp);
    }
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_bytes(body in vec(any::<u8>(), 0..1024)) {
        check_body(&body)?;
    }

    #[test]
    fn fuzz_text(body in any::<String>()) {
        check_body(body.as_bytes())?;
    }

    #[test]
    fn fuzz_documents(doc in documents()) {
        check_body(doc.as_bytes())?;
    }

    #[test]
    fn fuzz_mutated_documents(doc in documents(), edits in vec(any::<u32>(), 3..24)) {
        check_body(&mutate(&doc, &edits))?;
    }

    #[test]
    fn fuzz_round_trip(
        method in "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]{1,24}",
        params in vec(value(), 0..4),
    ) {
        let call = MethodCall { method, params };
        let text = write_call(&call);
        let back = parse_call(text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e} in {text}")))?;
        prop_assert_eq!(&back.method, &call.method);
        prop_assert_eq!(back.params.len(), call.params.len());
        for (b, c) in back.params.iter().zip(&call.params) {
            prop_assert!(same(b, c), "{:?} read back as {:?}", c, b);
        }
        let resp = MethodResponse::Success(Value::Array(call.params.clone()));
        let text = write_response(&resp);
        match parse_response(text.as_bytes()) {
            Ok(MethodResponse::Success(b)) => {
                prop_assert!(same(&b, &Value::Array(call.params)), "{:?}", b);
            }
            other => return Err(TestCaseError::fail(format!("{other:?} from {text}"))),
        }
    }
}

proptest! {
    #![proptest_config(cases(1024))]

    /// Nesting on both sides of the limit, in a thread whose stack is small.
    #[test]
    fn fuzz_nesting(depth in 0..(3 * MAX_DEPTH), kinds in vec(any::<bool>(), 1..8)) {
        let body = nested(depth, &kinds);
        let result = on_small_stack(move || parse_call(body.as_bytes()));
        match result {
            Ok(_) => prop_assert!(depth <= MAX_DEPTH, "{} levels accepted", depth),
            Err(DecodeError::TooDeep { limit, .. }) => {
                prop_assert_eq!(limit, MAX_DEPTH);
                prop_assert!(depth > MAX_DEPTH, "{} levels refused", depth);
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        }
    }
}
