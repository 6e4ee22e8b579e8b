//! Property tests: no input makes a parser panic, and both wire forms
//! carry any template there and back.
//!
//! Values are generated from every printable character plus `\t`, `\n` and
//! `\r`, quotes, backslashes and brackets included, with leading and
//! trailing whitespace allowed: both writers keep whitespace exactly (the
//! text form quotes every value, the XML form puts it in CDATA). Values
//! holding `]]>` are left out of the text property only, since the text
//! parser refuses them by design; the XML writer splits them over two CDATA
//! sections and they read back.

use nubo_template::{Attribute, Template, Value};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[A-Z_][A-Z0-9_]{0,10}".prop_filter("names starting with XML get a prefix", |n| {
        !n.starts_with("XML")
    })
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~\t\n\ré€😀]{0,24}",
        "[ \"\\\\\\[\\]=,#\n]{0,12}",
        ("[ -~]{0,8}", "[ -~]{0,8}").prop_map(|(a, b)| format!("{a}]]>{b}")),
    ]
}

fn text_value() -> impl Strategy<Value = String> {
    value().prop_filter("the text form refuses ]]>", |v| !v.contains("]]>"))
}

fn attribute(value: BoxedStrategy<String>) -> impl Strategy<Value = Attribute> {
    let single = (name(), value.clone()).prop_map(|(name, v)| Attribute {
        name,
        value: Value::Single(v),
    });
    let vector =
        (name(), prop::collection::vec((name(), value), 0..5)).prop_map(|(name, pairs)| {
            // Parsers keep one value per key, so generate distinct keys.
            let mut seen = std::collections::HashSet::new();
            let pairs = pairs
                .into_iter()
                .filter(|(k, _)| seen.insert(k.clone()))
                .collect();
            Attribute {
                name,
                value: Value::Vector(pairs),
            }
        });
    prop_oneof![single, vector]
}

fn template(value: BoxedStrategy<String>) -> impl Strategy<Value = Template> {
    prop::collection::vec(attribute(value), 0..8).prop_map(|attrs| Template { attrs })
}

/// `t` in the order `write_xml` puts it: attributes stably sorted by name,
/// vector keys stably sorted.
fn sorted(t: &Template) -> Template {
    let mut t = t.clone();
    t.attrs.sort_by(|a, b| a.name.cmp(&b.name));
    for a in &mut t.attrs {
        if let Value::Vector(pairs) = &mut a.value {
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
    t
}

/// Strings built from the pieces both grammars care about.
fn noise() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<A>"),
        Just("</A>"),
        Just("<B/>"),
        Just("<T>"),
        Just("</T>"),
        Just("<![CDATA["),
        Just("]]>"),
        Just("&amp;"),
        Just("&#x41;"),
        Just("&bad;"),
        Just("<!DOCTYPE"),
        Just("\""),
        Just("\\"),
        Just("["),
        Just("]"),
        Just("="),
        Just(","),
        Just("#"),
        Just(" "),
        Just("\n"),
        Just("\r\n"),
        Just("X"),
        Just("1"),
        Just("é"),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|p| p.concat())
}

/// Parses with every entry point; a successful parse must also survive a
/// trip through the writers.
fn check_no_panic(input: &str) -> Result<(), TestCaseError> {
    let _ = Template::parse(input);
    if let Ok(t) = Template::parse_text(input) {
        prop_assert_eq!(Template::parse_text(&t.to_text()), Ok(t.clone()));
        prop_assert_eq!(Template::parse_xml(&t.to_xml("T")), Ok(sorted(&t)));
    }
    if let Ok(t) = Template::parse_xml(input) {
        prop_assert_eq!(Template::parse_xml(&t.to_xml("T")), Ok(sorted(&t)));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_string_never_panics(input in any::<String>()) {
        check_no_panic(&input)?;
    }

    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_no_panic(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn grammar_noise_never_panics(input in noise()) {
        check_no_panic(&input)?;
        check_no_panic(&format!("A={input}"))?;
        check_no_panic(&format!("V=[K={input}"))?;
        check_no_panic(&format!("<T><A>{input}</A></T>"))?;
    }

    #[test]
    fn text_round_trip(t in template(text_value().boxed())) {
        prop_assert_eq!(Template::parse_text(&t.to_text()), Ok(t.clone()));
        prop_assert_eq!(Template::parse(&t.to_text()), Ok(t.clone()));
    }

    #[test]
    fn xml_round_trip(t in template(value().boxed())) {
        let out = t.to_xml("TEMPLATE");
        prop_assert_eq!(Template::parse_xml(&out), Ok(sorted(&t)));
        prop_assert_eq!(Template::parse(&out), Ok(sorted(&t)));
    }

    #[test]
    fn xml_output_is_sorted_template(t in template(value().boxed())) {
        // Writing is a function of the sorted template alone.
        prop_assert_eq!(t.to_xml("T"), sorted(&t).to_xml("T"));
    }
}
