//! Characters XML 1.0 cannot carry: both parsers refuse them in names and values, with the
//! position, and the XML writer only writes well-formed XML (such characters, in a template
//! built in code or stored earlier, become U+FFFD).

use nubo_template::{Attribute, ParseError, Template, Value};
use proptest::prelude::*;

use nubo_testkit::hostile_text;
use nubo_testkit::{well_formed, xml_1_0_char};

/// The line, columns and message of a text-form error.
fn text_error(input: &str) -> (usize, usize, usize, String) {
    match Template::parse_text(input) {
        Err(ParseError::Text {
            message,
            line,
            first_column,
            last_column,
        }) => (line, first_column, last_column, message),
        other => panic!("{input:?}: {other:?}"),
    }
}

/// The line, column and message of an XML-form error.
fn xml_error(input: &str) -> (usize, usize, String) {
    match Template::parse_xml(input) {
        Err(ParseError::Xml {
            message,
            line,
            column,
        }) => (line, column, message),
        other => panic!("{input:?}: {other:?}"),
    }
}

#[test]
fn the_text_form_refuses_them_in_values_with_their_position() {
    let message = |code: &str| {
        format!("syntax error, unexpected U+{code}, a character XML 1.0 does not allow")
    };
    assert_eq!(text_error("NAME=\"a\u{FFFE}\""), (1, 8, 8, message("FFFE")));
    assert_eq!(
        text_error("NAME=a\nDESCRIPTION=\"x\u{b}y\""),
        (2, 15, 15, message("000B"))
    );
    assert_eq!(text_error("NAME=a\u{FFFF}b"), (1, 7, 7, message("FFFF")));
    assert_eq!(
        text_error("DISK=[\n  IMAGE=\"é\u{1}\", SIZE=1 ]"),
        (2, 11, 11, message("0001"))
    );
    assert_eq!(
        Template::parse_text("NAME=\"a\u{FFFE}\"")
            .expect_err("refused")
            .to_string(),
        format!("Parse error: {} at line 1, columns 8:8", message("FFFE"))
    );
    // A character that starts no token was already an error; it names the character.
    let (line, first, _, stray) = text_error("A=1\n\u{b}");
    assert_eq!((line, first), (2, 1));
    assert!(stray.contains("'\\u{b}'"), "{stray}");
    // What XML allows still parses, a `&#11;` in the text form is just text.
    let t = Template::parse_text("D=\"\t\r\n\u{FFFD}\u{E000}😀&#11;\"").expect("parses");
    assert_eq!(t.get("D"), Some("\t\r\n\u{FFFD}\u{E000}😀&#11;"));
}

#[test]
fn the_xml_form_refuses_them_raw_or_referenced_with_their_position() {
    let cases = [
        ("<T><NAME>a\u{FFFE}</NAME></T>", 1, 11, "U+FFFE"),
        ("<T>\n<D><![CDATA[x\u{b}]]></D></T>", 2, 14, "U+000B"),
        ("<T><N\u{FFFF}>v</N\u{FFFF}></T>", 1, 6, "U+FFFF"),
        ("<T><V><K>\u{1f}</K></V></T>", 1, 10, "U+001F"),
        ("<T><DESCRIPTION>a&#11;b</DESCRIPTION></T>", 1, 18, "U+000B"),
        ("<T><D>&#xFFFE;</D></T>", 1, 7, "U+FFFE"),
        ("<T><V><K>&#65535;</K></V></T>", 1, 10, "U+FFFF"),
    ];
    for (input, line, column, code) in cases {
        assert_eq!(
            xml_error(input),
            (
                line,
                column,
                format!("character {code} is not allowed in XML 1.0")
            ),
            "{input:?}"
        );
        // `Template::parse` reads the same input as XML and refuses it too.
        assert!(Template::parse(input).is_err(), "{input:?}");
    }
    let t = Template::parse_xml("<T><D>&#9;&#10;&#13;&#xFFFD;&#x10000;</D></T>").expect("parses");
    assert_eq!(t.get("D"), Some("\t\n\r\u{FFFD}\u{10000}"));
}

#[test]
fn the_xml_writer_replaces_them() {
    let t = Template {
        attrs: vec![
            Attribute {
                name: "NAME".into(),
                value: Value::Single("a\u{FFFE}]]>\u{b}".into()),
            },
            Attribute {
                name: "V\u{FFFF}".into(),
                value: Value::Vector(vec![("K\u{0}".into(), "\u{1}".into())]),
            },
        ],
    };
    let xml = t.to_xml("TEMPLATE");
    well_formed(&xml).expect("well-formed");
    assert_eq!(
        xml,
        "<TEMPLATE><NAME><![CDATA[a\u{FFFD}]]]]><![CDATA[>\u{FFFD}]]></NAME>\
         <V\u{FFFD}><K\u{FFFD}><![CDATA[\u{FFFD}]]></K\u{FFFD}></V\u{FFFD}></TEMPLATE>"
    );
}

/// What the writer makes of a string: characters XML cannot carry as U+FFFD.
fn replaced(s: &str) -> String {
    s.chars()
        .map(|c| if xml_1_0_char(c) { c } else { '\u{FFFD}' })
        .collect()
}

/// A name: a letter, then letters, digits, `_` and characters XML cannot carry.
fn hostile_name() -> impl Strategy<Value = String> {
    let tail = prop_oneof![
        "[A-Z0-9_]{1,3}",
        Just("\u{b}".to_owned()),
        Just("\u{FFFE}".to_owned()),
        Just("\u{FFFF}".to_owned()),
        Just("\u{1}".to_owned()),
    ];
    ("[A-W]", prop::collection::vec(tail, 0..4)).prop_map(|(first, tail)| first + &tail.concat())
}

/// A template of distinct names (and distinct keys per vector), each with a
/// hostile value.
fn hostile_template() -> impl Strategy<Value = Template> {
    let value = prop_oneof![
        hostile_text().prop_map(Value::Single),
        prop::collection::vec((hostile_name(), hostile_text()), 0..4).prop_map(|pairs| {
            let mut seen = std::collections::HashSet::new();
            Value::Vector(
                pairs
                    .into_iter()
                    .filter(|(k, _)| seen.insert(replaced(k)))
                    .collect(),
            )
        }),
    ];
    prop::collection::vec((hostile_name(), value), 0..6).prop_map(|attrs| {
        let mut seen = std::collections::HashSet::new();
        Template {
            attrs: attrs
                .into_iter()
                .filter(|(n, _)| seen.insert(replaced(n)))
                .map(|(name, value)| Attribute { name, value })
                .collect(),
        }
    })
}

/// `t` as its XML form reads back: sorted by name and key as the writer
/// sorts them, then with characters replaced.
fn read_back(t: &Template) -> Template {
    let mut attrs = t.attrs.clone();
    attrs.sort_by(|a, b| a.name.cmp(&b.name));
    let attrs = attrs
        .into_iter()
        .map(|a| Attribute {
            name: replaced(&a.name),
            value: match a.value {
                Value::Single(v) => Value::Single(replaced(&v)),
                Value::Vector(mut pairs) => {
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                    Value::Vector(
                        pairs
                            .iter()
                            .map(|(k, v)| (replaced(k), replaced(v)))
                            .collect(),
                    )
                }
            },
        })
        .collect();
    Template { attrs }
}

proptest! {
    #![proptest_config(nubo_testkit::cases(4096))]

    #[test]
    fn the_xml_form_is_well_formed_and_reads_back(t in hostile_template()) {
        let xml = t.to_xml("TEMPLATE");
        prop_assert!(well_formed(&xml).is_ok(), "{:?} in {:?}", well_formed(&xml), xml);
        prop_assert_eq!(Template::parse_xml(&xml), Ok(read_back(&t)));
    }

    #[test]
    fn the_parsers_refuse_what_xml_cannot_carry(
        before in "[a-z]{0,5}",
        code in prop_oneof![0x0u32..0x9, Just(0xB), Just(0xC), 0xEu32..0x20, Just(0xFFFE), Just(0xFFFF)],
    ) {
        let c = char::from_u32(code).expect("a char");
        let text = format!("NAME=\"{before}{c}\"");
        let refused = Template::parse_text(&text);
        let column = 7 + before.len();
        prop_assert!(
            matches!(
                &refused,
                Err(ParseError::Text { line: 1, first_column, .. }) if *first_column == column
            ),
            "{:?}", refused
        );
        for xml in [
            format!("<T><NAME>{before}{c}</NAME></T>"),
            format!("<T><NAME><![CDATA[{before}{c}]]></NAME></T>"),
            format!("<T><NAME>{before}&#{code};</NAME></T>"),
            format!("<T><NAME>{before}&#x{code:x};</NAME></T>"),
        ] {
            let refused = Template::parse_xml(&xml);
            prop_assert!(matches!(refused, Err(ParseError::Xml { .. })), "{:?}", refused);
        }
    }
}
