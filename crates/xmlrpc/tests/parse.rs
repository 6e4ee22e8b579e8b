//! Parsing: every type, entities and CDATA, untyped values, empty params, faults, and each
//! rejection with its error.

use nubo_xmlrpc::{
    DecodeError, MAX_DEPTH, MethodCall, MethodResponse, Value, parse_call, parse_response,
};

/// A call to `m` with `params` (raw `<param>` contents) spliced in.
fn call_with(params: &[&str]) -> String {
    let params: String = params
        .iter()
        .map(|p| format!("<param>{p}</param>"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>m</methodName><params>{params}</params></methodCall>"
    )
}

/// The single parameter of a call whose only `<param>` holds `value` (a `<value>` element).
fn one(value: &str) -> Result<Value, DecodeError> {
    let mut call = parse_call(call_with(&[value]).as_bytes())?;
    assert_eq!(call.params.len(), 1);
    Ok(call.params.remove(0))
}

fn ok(value: &str) -> Value {
    match one(value) {
        Ok(v) => v,
        Err(e) => panic!("{value}: {e}"),
    }
}

fn err(value: &str) -> DecodeError {
    match one(value) {
        Ok(v) => panic!("{value} parsed as {v:?}"),
        Err(e) => e,
    }
}

fn call_err(body: &str) -> DecodeError {
    match parse_call(body.as_bytes()) {
        Ok(c) => panic!("{body} parsed as {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn integers() {
    assert_eq!(ok("<value><int>42</int></value>"), Value::Int(42));
    assert_eq!(ok("<value><i4>-42</i4></value>"), Value::Int(-42));
    assert_eq!(ok("<value><int> +7 </int></value>"), Value::Int(7));
    assert_eq!(ok("<value><int>\n\t-0\r\n</int></value>"), Value::Int(0));
    assert_eq!(
        ok("<value><i4>2147483647</i4></value>"),
        Value::Int(i32::MAX)
    );
    assert_eq!(
        ok("<value><i4>-2147483648</i4></value>"),
        Value::Int(i32::MIN)
    );
    assert_eq!(ok("<value><i8>-1</i8></value>"), Value::I8(-1));
    assert_eq!(
        ok("<value><i8>9223372036854775807</i8></value>"),
        Value::I8(i64::MAX)
    );
}

#[test]
fn bad_integers() {
    let e = err("<value><int>2147483648</int></value>");
    assert!(
        matches!(
            &e,
            DecodeError::InvalidValue {
                kind: "int",
                reason: "out of range",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("out of range"), "{e}");
    let e = err("<value><i8>9223372036854775808</i8></value>");
    assert!(matches!(
        e,
        DecodeError::InvalidValue {
            kind: "i8",
            reason: "out of range",
            ..
        }
    ));
    for bad in ["", " ", "1.5", "abc", "+-1", "1 2", "0x10"] {
        let e = err(&format!("<value><i4>{bad}</i4></value>"));
        assert!(
            matches!(e, DecodeError::InvalidValue { kind: "i4", .. }),
            "{bad:?}: {e:?}"
        );
    }
    assert!(matches!(
        err("<value><int/></value>"),
        DecodeError::InvalidValue {
            reason: "empty",
            ..
        }
    ));
}

#[test]
fn booleans() {
    assert_eq!(ok("<value><boolean>1</boolean></value>"), Value::Bool(true));
    assert_eq!(
        ok("<value><boolean>0</boolean></value>"),
        Value::Bool(false)
    );
    assert_eq!(
        ok("<value><boolean> true </boolean></value>"),
        Value::Bool(true)
    );
    assert_eq!(
        ok("<value><boolean>false</boolean></value>"),
        Value::Bool(false)
    );
    for bad in ["2", "yes", "", "TRUE "] {
        let e = err(&format!("<value><boolean>{bad}</boolean></value>"));
        assert!(
            matches!(
                e,
                DecodeError::InvalidValue {
                    kind: "boolean",
                    ..
                }
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn doubles() {
    assert_eq!(
        ok("<value><double>1.5</double></value>"),
        Value::Double(1.5)
    );
    assert_eq!(
        ok("<value><double> -0.25 </double></value>"),
        Value::Double(-0.25)
    );
    assert_eq!(ok("<value><double>3</double></value>"), Value::Double(3.0));
    let e = err("<value><double>one</double></value>");
    assert!(matches!(
        e,
        DecodeError::InvalidValue { kind: "double", .. }
    ));
}

#[test]
fn strings_keep_content_exactly() {
    assert_eq!(ok("<value><string>hi</string></value>"), Value::from("hi"));
    assert_eq!(
        ok("<value><string>  a \n b  </string></value>"),
        Value::from("  a \n b  ")
    );
    assert_eq!(
        ok("<value><string>a\r\nb</string></value>"),
        Value::from("a\r\nb")
    );
    assert_eq!(ok("<value><string></string></value>"), Value::from(""));
    assert_eq!(ok("<value><string/></value>"), Value::from(""));
    assert_eq!(
        ok("<value><string>héllo ☃ 🦀</string></value>"),
        Value::from("héllo ☃ 🦀")
    );
}

#[test]
fn entities_and_cdata_are_decoded() {
    assert_eq!(
        ok("<value><string>&lt;a&gt; &amp; &quot;q&quot; &apos;s&apos;</string></value>"),
        Value::from("<a> & \"q\" 's'")
    );
    assert_eq!(
        ok("<value><string>&#60;&#x3E;&#13;&#x1F980;</string></value>"),
        Value::from("<>\r🦀")
    );
    assert_eq!(
        ok("<value><string>x<![CDATA[<TEMPLATE><![CDATA[a]]]]><![CDATA[>]]>&amp;</string></value>"),
        Value::from("x<TEMPLATE><![CDATA[a]]>&")
    );
    assert_eq!(
        ok("<value><![CDATA[ raw <b> ]]></value>"),
        Value::from(" raw <b> ")
    );
    assert_eq!(
        ok("<value><string>a<!-- note -->b</string></value>"),
        Value::from("ab")
    );
}

#[test]
fn bad_references() {
    let e = err("<value><string>&nbsp;</string></value>");
    assert!(
        matches!(&e, DecodeError::UnknownEntity { name, .. } if name == "nbsp"),
        "{e:?}"
    );
    for bad in ["&#0;", "&#xD800;", "&#x110000;", "&#xZZ;", "&#;"] {
        let e = err(&format!("<value><string>{bad}</string></value>"));
        assert!(
            matches!(e, DecodeError::InvalidCharRef { .. }),
            "{bad}: {e:?}"
        );
    }
    let e = err("<value><string>a & b</string></value>");
    assert!(matches!(e, DecodeError::Xml { .. }), "{e:?}");
}

#[test]
fn untyped_values_are_strings() {
    assert_eq!(ok("<value>plain</value>"), Value::from("plain"));
    assert_eq!(ok("<value>  spaced  </value>"), Value::from("  spaced  "));
    assert_eq!(ok("<value></value>"), Value::from(""));
    assert_eq!(ok("<value/>"), Value::from(""));
    assert_eq!(ok("<value>a&amp;b</value>"), Value::from("a&b"));
    // Whitespace around a typed element is not content.
    assert_eq!(ok("<value>\n  <i4>1</i4>\n</value>"), Value::Int(1));
    let e = err("<value>x<i4>1</i4></value>");
    assert!(matches!(e, DecodeError::UnexpectedText { .. }), "{e:?}");
}

#[test]
fn date_time_base64_nil() {
    assert_eq!(
        ok("<value><dateTime.iso8601>20250102T03:04:05</dateTime.iso8601></value>"),
        Value::DateTime("20250102T03:04:05".into())
    );
    assert_eq!(
        ok("<value><base64>aGVsbG8=</base64></value>"),
        Value::Base64(b"hello".to_vec())
    );
    assert_eq!(
        ok("<value><base64>aGVs\n bG8</base64></value>"),
        Value::Base64(b"hello".to_vec())
    );
    assert_eq!(ok("<value><base64/></value>"), Value::Base64(vec![]));
    let e = err("<value><base64>!!!</base64></value>");
    assert!(matches!(
        e,
        DecodeError::InvalidValue { kind: "base64", .. }
    ));
    assert_eq!(ok("<value><nil/></value>"), Value::Nil);
    assert_eq!(ok("<value><nil></nil></value>"), Value::Nil);
    let e = err("<value><nil>x</nil></value>");
    assert!(matches!(e, DecodeError::InvalidValue { kind: "nil", .. }));
}

#[test]
fn arrays_and_structs() {
    assert_eq!(
        ok(
            "<value><array><data><value><i4>1</i4></value><value>two</value><value/></data></array></value>"
        ),
        Value::Array(vec![Value::Int(1), Value::from("two"), Value::from("")])
    );
    assert_eq!(
        ok("<value><array><data/></array></value>"),
        Value::Array(vec![])
    );
    assert_eq!(ok("<value><array/></value>"), Value::Array(vec![]));
    assert_eq!(
        ok(
            "<value>\n <struct>\n  <member>\n   <name>a b</name>\n   <value><boolean>1</boolean></value>\n  </member>\n  \
            <member><name>n</name><value><struct></struct></value></member>\n </struct>\n</value>"
        ),
        Value::Struct(vec![
            ("a b".into(), Value::Bool(true)),
            ("n".into(), Value::Struct(vec![])),
        ])
    );
    assert_eq!(ok("<value><struct/></value>"), Value::Struct(vec![]));
    let e = err("<value><struct><member><value>1</value></member></struct></value>");
    assert!(
        matches!(
            e,
            DecodeError::UnexpectedElement {
                expected: "<name>",
                ..
            }
        ),
        "{e:?}"
    );
    let e = err("<value><array><value>1</value></array></value>");
    assert!(
        matches!(
            e,
            DecodeError::UnexpectedElement {
                expected: "<data>",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn calls() {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodCall>\n  <methodName>one.vm.info</methodName>\n  \
                <params>\n    <param>\n      <value><string>oneadmin:pw</string></value>\n    </param>\n    \
                <param><value><int>9</int></value></param>\n  </params>\n</methodCall>\n";
    assert_eq!(
        parse_call(body.as_bytes()),
        Ok(MethodCall {
            method: "one.vm.info".into(),
            params: vec![Value::from("oneadmin:pw"), Value::Int(9)],
        })
    );
}

#[test]
fn empty_or_absent_params() {
    let expected = Ok(MethodCall {
        method: "one.system.version".into(),
        params: vec![],
    });
    for body in [
        "<methodCall><methodName>one.system.version</methodName></methodCall>",
        "<methodCall><methodName>one.system.version</methodName><params/></methodCall>",
        "<methodCall><methodName>one.system.version</methodName><params>\n</params></methodCall>",
        "\u{feff}<!-- hi --><methodCall><methodName>one.system.version</methodName></methodCall><!-- bye -->\n",
    ] {
        assert_eq!(parse_call(body.as_bytes()), expected, "{body}");
    }
}

#[test]
fn responses() {
    let body = "<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><array><data>\
                <value><boolean>1</boolean></value><value><string>&lt;VM/&gt;</string></value>\
                <value><i4>0</i4></value></data></array></value></param></params></methodResponse>";
    assert_eq!(
        parse_response(body.as_bytes()),
        Ok(MethodResponse::Success(Value::Array(vec![
            Value::Bool(true),
            Value::from("<VM/>"),
            Value::Int(0)
        ])))
    );
}

#[test]
fn faults() {
    let body = "<?xml version=\"1.0\"?><methodResponse><fault><value><struct>\
                <member><name>faultString</name><value>no such method</value></member>\
                <member><name>faultCode</name><value><int>-506</int></value></member>\
                </struct></value></fault></methodResponse>";
    assert_eq!(
        parse_response(body.as_bytes()),
        Ok(MethodResponse::Fault {
            code: -506,
            message: "no such method".into()
        })
    );
    let fault = |inner: &str| {
        parse_response(
            format!("<methodResponse><fault><value>{inner}</value></fault></methodResponse>")
                .as_bytes(),
        )
    };
    assert_eq!(
        fault("<string>x</string>"),
        Err(DecodeError::InvalidFault {
            reason: "value is not a struct"
        })
    );
    assert_eq!(
        fault("<struct><member><name>faultString</name><value>x</value></member></struct>"),
        Err(DecodeError::InvalidFault {
            reason: "missing faultCode"
        })
    );
    assert_eq!(
        fault("<struct><member><name>faultCode</name><value><i4>1</i4></value></member></struct>"),
        Err(DecodeError::InvalidFault {
            reason: "missing faultString"
        })
    );
    assert_eq!(
        fault("<struct><member><name>faultCode</name><value>1</value></member></struct>"),
        Err(DecodeError::InvalidFault {
            reason: "faultCode is not an int"
        })
    );
}

#[test]
fn response_must_hold_one_param() {
    assert_eq!(
        parse_response(b"<methodResponse><params></params></methodResponse>"),
        Err(DecodeError::ResponseParamCount { count: 0 })
    );
    assert_eq!(
        parse_response(
            b"<methodResponse><params><param><value/></param><param><value/></param></params></methodResponse>"
        ),
        Err(DecodeError::ResponseParamCount { count: 2 })
    );
}

#[test]
fn rejects_doctype_and_entity_declarations() {
    let e = call_err(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\
         <methodCall><methodName>&lol2;</methodName></methodCall>",
    );
    assert!(matches!(e, DecodeError::Doctype { position: 21 }), "{e:?}");
    assert!(e.to_string().contains("document type"), "{e}");
}

#[test]
fn rejects_invalid_utf8() {
    let mut body = b"<methodCall><methodName>m</methodName><params><param><value>".to_vec();
    let at = body.len();
    body.extend_from_slice(b"\xff\xfe</value></param></params></methodCall>");
    let e = parse_call(&body).err();
    assert_eq!(e, Some(DecodeError::InvalidUtf8 { offset: at }));
    assert!(e.is_some_and(|e| e.to_string().contains("utf-8")));
}

#[test]
fn rejects_unknown_elements() {
    let e = err("<value><integer>1</integer></value>");
    assert!(
        matches!(&e, DecodeError::UnknownType { name, .. } if name == "integer"),
        "{e:?}"
    );
    assert!(e.to_string().contains("<integer>"), "{e}");
    let e = err("<value><ex:nil/></value>");
    assert!(matches!(e, DecodeError::UnknownType { .. }), "{e:?}");
    let e = err("<value><string><b>x</b></string></value>");
    assert!(
        matches!(
            e,
            DecodeError::UnexpectedElement {
                expected: "text",
                ..
            }
        ),
        "{e:?}"
    );
    let e = call_err("<methodCall><methodName>m</methodName><extra/></methodCall>");
    assert!(matches!(e, DecodeError::UnexpectedElement { .. }), "{e:?}");
    let e = call_err(
        "<methodCall><methodName>m</methodName><params><param><int>1</int></param></params></methodCall>",
    );
    assert!(
        matches!(
            e,
            DecodeError::UnexpectedElement {
                expected: "<value>",
                ..
            }
        ),
        "{e:?}"
    );
    let e = call_err("<methodResponse/>");
    assert!(
        matches!(
            e,
            DecodeError::UnexpectedElement {
                expected: "<methodCall>",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn rejects_missing_method_name() {
    assert_eq!(
        call_err("<methodCall><params/></methodCall>"),
        DecodeError::MissingMethodName
    );
    assert_eq!(call_err("<methodCall/>"), DecodeError::MissingMethodName);
    assert_eq!(
        call_err("<methodCall><methodName></methodName></methodCall>"),
        DecodeError::EmptyMethodName
    );
}

#[test]
fn rejects_trailing_garbage() {
    let good = "<methodCall><methodName>m</methodName></methodCall>";
    for tail in ["x", "<methodCall/>", "<?pi?>"] {
        let e = call_err(&format!("{good}{tail}"));
        assert!(
            matches!(
                e,
                DecodeError::TrailingContent { position: 51 }
                    | DecodeError::ProcessingInstruction { position: 51 }
            ),
            "{tail}: {e:?}"
        );
    }
    let e = call_err(&format!("{good}</extra>"));
    assert!(matches!(e, DecodeError::Xml { .. }), "{e:?}");
}

#[test]
fn rejects_malformed_documents() {
    for body in ["", "   ", "<!-- only a comment -->"] {
        assert_eq!(
            call_err(body),
            DecodeError::Empty {
                expected: "<methodCall>"
            },
            "{body:?}"
        );
    }
    let e = call_err("<methodCall><methodName>m</methodName>");
    assert!(
        matches!(
            e,
            DecodeError::UnexpectedEof { .. } | DecodeError::Xml { .. }
        ),
        "{e:?}"
    );
    let e = call_err("<methodCall><methodName>m</methodCall>");
    assert!(matches!(e, DecodeError::Xml { .. }), "{e:?}");
    let e = call_err("hello<methodCall/>");
    assert!(matches!(e, DecodeError::UnexpectedText { .. }), "{e:?}");
    let e = call_err("<methodCall><?xml version=\"1.0\"?><methodName>m</methodName></methodCall>");
    assert!(
        matches!(e, DecodeError::ProcessingInstruction { .. }),
        "{e:?}"
    );
    let e = call_err("<methodCall>stray<methodName>m</methodName></methodCall>");
    assert!(matches!(e, DecodeError::UnexpectedText { .. }), "{e:?}");
}

/// `n` arrays nested inside one another, the innermost empty.
fn nested_arrays(n: usize) -> String {
    let mut s = String::with_capacity(n * 60);
    s.push_str("<methodCall><methodName>m</methodName><params><param><value>");
    for _ in 0..n {
        s.push_str("<array><data><value>");
    }
    s.push_str("<i4>1</i4>");
    for _ in 0..n {
        s.push_str("</value></data></array>");
    }
    s.push_str("</value></param></params></methodCall>");
    s
}

#[test]
fn nesting_up_to_the_limit_is_fine() {
    let call = parse_call(nested_arrays(MAX_DEPTH).as_bytes());
    let mut v = match call {
        Ok(mut c) => c.params.remove(0),
        Err(e) => panic!("{e}"),
    };
    let mut depth = 0;
    while let Value::Array(mut items) = v {
        depth += 1;
        v = items.remove(0);
    }
    assert_eq!((depth, v), (MAX_DEPTH, Value::Int(1)));
}

#[test]
fn rejects_deep_nesting_without_overflowing_the_stack() {
    let e = call_err(&nested_arrays(MAX_DEPTH + 1));
    assert!(
        matches!(
            e,
            DecodeError::TooDeep {
                limit: MAX_DEPTH,
                ..
            }
        ),
        "{e:?}"
    );
    let e = call_err(&nested_arrays(100_000));
    assert!(
        matches!(
            e,
            DecodeError::TooDeep {
                limit: MAX_DEPTH,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("nested deeper than 64"), "{e}");

    let mut structs = String::from("<methodCall><methodName>m</methodName><params><param><value>");
    for _ in 0..100_000 {
        structs.push_str("<struct><member><name>k</name><value>");
    }
    let e = call_err(&structs);
    assert!(matches!(e, DecodeError::TooDeep { .. }), "{e:?}");
}

#[test]
fn errors_say_where() {
    let e = call_err(
        "<methodCall><methodName>m</methodName><params><param><value><i4>x</i4></value></param></params></methodCall>",
    );
    assert_eq!(
        e.to_string(),
        "invalid <i4> value \"x\" at byte 60: not an integer"
    );
}
