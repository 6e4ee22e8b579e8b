//! Characters XML 1.0 cannot carry: a call holding one (raw or as a character reference) is
//! refused with a parse error, and everything the writer produces, whatever its strings hold,
//! is a well-formed document that reads back with those characters as U+FFFD.

use nubo_xmlrpc::{
    DecodeError, MethodCall, MethodResponse, Value, failure, fault, parse_call, parse_response,
    write_call, write_response,
};
use proptest::collection::vec;
use proptest::prelude::*;

use nubo_testkit::hostile_text;
use nubo_testkit::{well_formed, xml_1_0_char};

/// A call to `one.template.allocate` whose second parameter is `value` (raw XML).
fn call(value: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>one.template.allocate</methodName>\
         <params><param><value><string>oneadmin:pw</string></value></param>\
         <param><value>{value}</value></param></params></methodCall>"
    )
}

/// The error of decoding `body`, which must be refused.
fn refused(body: &str) -> DecodeError {
    match parse_call(body.as_bytes()) {
        Ok(c) => panic!("{body:?} parsed as {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn references_to_characters_xml_cannot_carry_are_refused() {
    for (reference, code) in [
        ("&#11;", 0xB),
        ("&#xb;", 0xB),
        ("&#1;", 0x1),
        ("&#x1F;", 0x1F),
        ("&#xFFFE;", 0xFFFE),
        ("&#65535;", 0xFFFF),
    ] {
        for value in [
            format!("<string>NAME=\"a\" DESCRIPTION=\"x{reference}y\"</string>"),
            format!("x{reference}"),
            format!("<struct><member><name>k{reference}</name><value>v</value></member></struct>"),
            format!("<array><data><value><string>{reference}</string></value></data></array>"),
        ] {
            let e = refused(&call(&value));
            assert!(
                matches!(e, DecodeError::NotXmlChar { code: c, .. } if c == code),
                "{value}: {e:?}"
            );
            assert_eq!(e.fault_code(), fault::PARSE);
            assert!(
                e.to_string()
                    .contains(&format!("character U+{code:04X} at byte ")),
                "{e}"
            );
        }
    }
    // The references XML allows still decode.
    let ok = parse_call(
        call("<string>&#9;&#10;&#13;&#xD7FF;&#xE000;&#xFFFD;&#x10000;</string>").as_bytes(),
    )
    .expect("allowed references");
    assert_eq!(
        ok.params[1],
        Value::from("\t\n\r\u{D7FF}\u{E000}\u{FFFD}\u{10000}")
    );
}

#[test]
fn raw_characters_xml_cannot_carry_are_refused_anywhere() {
    for c in [
        '\u{0}', '\u{1}', '\u{b}', '\u{c}', '\u{1f}', '\u{FFFE}', '\u{FFFF}',
    ] {
        for value in [
            format!("<string>NAME=\"a{c}\"</string>"),
            format!("<string><![CDATA[a{c}]]></string>"),
            format!("a{c}"),
            format!("<i4>1</i4><!-- {c} -->"),
        ] {
            let body = call(&value);
            let e = refused(&body);
            let position = body.find(c).expect("in the body") as u64;
            assert_eq!(
                e,
                DecodeError::NotXmlChar {
                    code: u32::from(c),
                    position
                },
                "{value:?}"
            );
        }
    }
    let method =
        "<?xml version=\"1.0\"?><methodCall><methodName>one.vm\u{FFFF}</methodName></methodCall>";
    assert!(matches!(
        refused(method),
        DecodeError::NotXmlChar { code: 0xFFFF, .. }
    ));
}

#[test]
fn the_fault_for_a_refused_call_is_well_formed() {
    for body in [call("<string>a&#11;</string>"), call("a\u{FFFF}")] {
        let e = refused(&body);
        let reply = write_response(&MethodResponse::Fault {
            code: e.fault_code(),
            message: format!("Cannot parse the XML-RPC request: {e}"),
        });
        well_formed(&reply).expect("well-formed fault");
        match parse_response(reply.as_bytes()) {
            Ok(MethodResponse::Fault { code, message }) => {
                assert_eq!(code, fault::PARSE);
                assert!(message.contains("is not allowed in XML 1.0"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn strings_are_written_with_replacement_characters() {
    let reply = write_response(&failure(
        "[one.template.allocate] NAME \"a\u{FFFE}\u{b}\" is taken",
        2048,
        -1,
    ));
    well_formed(&reply).expect("well-formed failure");
    assert!(
        reply.contains("NAME \"a\u{FFFD}\u{FFFD}\" is taken"),
        "{reply}"
    );
    let reply = write_response(&MethodResponse::Success(Value::EscapedString(
        "&lt;A&gt;\u{FFFF}\u{0}&lt;/A&gt;".into(),
    )));
    well_formed(&reply).expect("well-formed escaped string");
    assert!(reply.contains("<string>&lt;A&gt;\u{FFFD}\u{FFFD}&lt;/A&gt;</string>"));
}

fn hostile_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        hostile_text().prop_map(Value::String),
        any::<i32>().prop_map(Value::Int),
        Just(Value::Nil),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((hostile_text(), inner), 0..4).prop_map(Value::Struct),
        ]
    })
}

/// `s` as it reads back: every character XML cannot carry replaced by U+FFFD.
fn text(s: &str) -> String {
    s.chars()
        .map(|c| if xml_1_0_char(c) { c } else { '\u{FFFD}' })
        .collect()
}

/// `v` as it reads back.
fn as_read_back(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(text(s)),
        Value::Array(items) => Value::Array(items.iter().map(as_read_back).collect()),
        Value::Struct(members) => Value::Struct(
            members
                .iter()
                .map(|(k, v)| (text(k), as_read_back(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(nubo_testkit::cases(4096))]

    #[test]
    fn written_responses_are_well_formed(v in hostile_value()) {
        let reply = write_response(&MethodResponse::Success(v.clone()));
        prop_assert!(well_formed(&reply).is_ok(), "{:?} in {}", well_formed(&reply), reply);
        prop_assert_eq!(
            parse_response(reply.as_bytes()),
            Ok(MethodResponse::Success(as_read_back(&v)))
        );
    }

    #[test]
    fn written_faults_and_failures_are_well_formed(code in any::<i32>(), message in hostile_text()) {
        let fault = write_response(&MethodResponse::Fault { code, message: message.clone() });
        prop_assert!(well_formed(&fault).is_ok(), "{:?} in {}", well_formed(&fault), fault);
        prop_assert_eq!(
            parse_response(fault.as_bytes()),
            Ok(MethodResponse::Fault { code, message: text(&message) })
        );
        let failure = write_response(&failure(&message, 1024, code));
        prop_assert!(well_formed(&failure).is_ok(), "{:?} in {}", well_formed(&failure), failure);
    }

    #[test]
    fn written_calls_are_well_formed(
        method in hostile_text().prop_filter("non-empty", |m| !m.is_empty()),
        params in vec(hostile_value(), 0..3),
    ) {
        let written = write_call(&MethodCall { method: method.clone(), params: params.clone() });
        prop_assert!(well_formed(&written).is_ok(), "{:?} in {}", well_formed(&written), written);
        let back = parse_call(written.as_bytes());
        prop_assert!(back.is_ok(), "{:?}", back);
        if let Ok(back) = back {
            prop_assert_eq!(back.method, text(&method));
            prop_assert_eq!(back.params, params.iter().map(as_read_back).collect::<Vec<_>>());
        }
    }

    /// Any character XML cannot carry, spliced raw or as a reference into a call's string,
    /// gets the call refused.
    #[test]
    fn calls_holding_a_non_xml_char_are_refused(
        before in "[a-zA-Z0-9 ]{0,8}",
        code in prop_oneof![0x1u32..0x9, Just(0xB), Just(0xC), 0xEu32..0x20, Just(0xFFFE), Just(0xFFFF)],
        as_reference in any::<bool>(),
        hex in any::<bool>(),
    ) {
        let c = char::from_u32(code).expect("a char");
        let spliced = match (as_reference, hex) {
            (false, _) => c.to_string(),
            (true, false) => format!("&#{code};"),
            (true, true) => format!("&#x{code:X};"),
        };
        let body = call(&format!("<string>{before}{spliced}</string>"));
        let refused = parse_call(body.as_bytes());
        prop_assert!(
            matches!(refused, Err(DecodeError::NotXmlChar { code: c, .. }) if c == code),
            "{:?}", refused
        );
    }
}
