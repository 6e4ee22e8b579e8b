//! Unit tests of the public API: both parsers, both writers, and the
//! attribute operations, one rule per test.

use crate::{Attribute, ParseError, Template, Value};

fn text(input: &str) -> Template {
    Template::parse_text(input).expect("parses")
}

fn xml(input: &str) -> Template {
    Template::parse_xml(input).expect("parses")
}

fn single(name: &str, value: &str) -> Attribute {
    Attribute {
        name: name.to_owned(),
        value: Value::Single(value.to_owned()),
    }
}

fn vector(name: &str, pairs: &[(&str, &str)]) -> Attribute {
    Attribute {
        name: name.to_owned(),
        value: Value::Vector(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
    }
}

fn tmpl(attrs: Vec<Attribute>) -> Template {
    Template { attrs }
}

/// The (line, first column, last column) of a text error, and its message.
fn text_error(input: &str) -> (usize, usize, usize, String) {
    match Template::parse_text(input) {
        Err(ParseError::Text {
            message,
            line,
            first_column,
            last_column,
        }) => (line, first_column, last_column, message),
        other => panic!("expected a text error for {input:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- text form

#[test]
fn simple_attributes() {
    assert_eq!(
        text("NAME = vm1\nCPU=0.5\nmemory =  128  \n"),
        tmpl(vec![
            single("NAME", "vm1"),
            single("CPU", "0.5"),
            single("MEMORY", "128"),
        ])
    );
}

#[test]
fn several_attributes_on_one_line() {
    assert_eq!(
        text("CPU=1 MEMORY=128\tVCPU = 2"),
        tmpl(vec![
            single("CPU", "1"),
            single("MEMORY", "128"),
            single("VCPU", "2"),
        ])
    );
}

#[test]
fn quoted_values_keep_spaces_and_delimiters() {
    assert_eq!(
        text(r#"DESC = "  a = b, [c] # d  ""#),
        tmpl(vec![single("DESC", "  a = b, [c] # d  ")])
    );
}

#[test]
fn escapes_in_quotes() {
    assert_eq!(
        text(r#"A="say \"hi\"" B="back\\slash" C="C:\dir\n""#),
        tmpl(vec![
            single("A", r#"say "hi""#),
            single("B", r"back\slash"),
            single("C", r"C:\dir\n"),
        ])
    );
}

#[test]
fn unquoted_values_are_verbatim() {
    assert_eq!(
        text(r#"P=C:\dir X=a"b"#),
        tmpl(vec![single("P", r"C:\dir"), single("X", r#"a"b"#)])
    );
}

#[test]
fn multiline_quoted_value() {
    let t = text("SCRIPT=\"line1\nline2\n\"\nNEXT=1\n");
    assert_eq!(t.get("SCRIPT"), Some("line1\nline2\n"));
    assert_eq!(t.get("NEXT"), Some("1"));
}

#[test]
fn empty_values() {
    assert_eq!(
        text("A=\nB =   \nC=\"\"\nD="),
        tmpl(vec![
            single("A", ""),
            single("B", ""),
            single("C", ""),
            single("D", ""),
        ])
    );
}

#[test]
fn vectors() {
    let t =
        text("DISK = [ IMAGE_ID = 3, target=\"vda\" ,\n  cache = none ]\nNIC=[NETWORK=\"net 1\"]");
    assert_eq!(
        t,
        tmpl(vec![
            vector(
                "DISK",
                &[("IMAGE_ID", "3"), ("TARGET", "vda"), ("CACHE", "none")]
            ),
            vector("NIC", &[("NETWORK", "net 1")]),
        ])
    );
}

#[test]
fn vectors_across_lines() {
    let t = text("DISK =\t[\n  IMAGE_ID = 3\n  ,\n  # a comment\n  SIZE = \"10\"\n\n]\n");
    assert_eq!(
        t,
        tmpl(vec![vector("DISK", &[("IMAGE_ID", "3"), ("SIZE", "10")])])
    );
}

#[test]
fn vector_empty_values() {
    assert_eq!(
        text("V=[A=, B=\"\", C=\n, D=]"),
        tmpl(vec![vector(
            "V",
            &[("A", ""), ("B", ""), ("C", ""), ("D", "")]
        )])
    );
}

#[test]
fn vector_repeated_key_keeps_first() {
    assert_eq!(
        text("V=[A=1, B=2, a=3]"),
        tmpl(vec![vector("V", &[("A", "1"), ("B", "2")])])
    );
}

#[test]
fn empty_vectors() {
    assert_eq!(
        text("A=[]\nB = [ \n ]\n"),
        tmpl(vec![vector("A", &[]), vector("B", &[])])
    );
}

#[test]
fn comments_and_blank_lines() {
    let t = text("# header\n\n   # indented\nA=1 # trailing\n\t\nB=\"#not a comment\"\n# last");
    assert_eq!(
        t,
        tmpl(vec![single("A", "1"), single("B", "#not a comment")])
    );
}

#[test]
fn crlf_input() {
    assert_eq!(
        text("A=1\r\nB = [ X = 2,\r\n Y = 3 ]\r\n"),
        tmpl(vec![
            single("A", "1"),
            vector("B", &[("X", "2"), ("Y", "3")]),
        ])
    );
}

#[test]
fn one_prefix() {
    let t = text("1CPU=1\nxml_thing=2\nXMLRPC=3\n_PRIVATE=4\nV=[1A=5]");
    let names: Vec<&str> = t.attrs.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["ONE_1CPU", "ONE_XML_THING", "ONE_XMLRPC", "_PRIVATE", "V"]
    );
    // A vector key starting with a digit gets the prefix too: oned keeps `1A` and then
    // writes `<1A>`, which no XML parser reads (found by fuzzing, issue 12).
    assert_eq!(
        t.vectors("V").next(),
        Some(&[("ONE_1A".to_owned(), "5".to_owned())][..])
    );
    assert!(t.to_xml("T").contains("<ONE_1A>"));
}

#[test]
fn repeated_names_are_kept() {
    let t = text("DISK=[ID=0]\nNAME=a\nDISK=[ID=1]\nNAME=b");
    assert_eq!(t.attrs.len(), 4);
    assert_eq!(t.get("NAME"), Some("a"));
    let ids: Vec<_> = t.vectors("disk").filter_map(|v| v.first()).collect();
    assert_eq!(
        ids,
        [
            &("ID".to_owned(), "0".to_owned()),
            &("ID".to_owned(), "1".to_owned())
        ]
    );
}

#[test]
fn blank_input_is_empty() {
    assert!(text("").is_empty());
    assert!(text(" \n\t# only a comment\n").is_empty());
    assert!(Template::parse("  \n ").expect("parses").is_empty());
}

#[test]
fn cdata_terminator_is_refused() {
    for input in ["A=\"x]]>y\"", "V=[K=\"]]>\"]", "A=\"a\nb]]>\""] {
        let (_, _, _, message) = text_error(input);
        assert!(message.contains("]]>"), "{input:?}: {message}");
    }
}

// ------------------------------------------------------------- text errors

#[test]
fn error_display_shape() {
    let err = Template::parse_text("CPU=1\nMEMORY").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "Parse error: syntax error, unexpected $end, expecting EQUAL or EQUAL_EMPTY \
         at line 2, columns 7:7"
    );
}

#[test]
fn error_missing_equal() {
    assert_eq!(
        text_error("A=1\nB C=2"),
        (
            2,
            3,
            3,
            "syntax error, unexpected VARIABLE, expecting EQUAL or EQUAL_EMPTY".to_owned()
        )
    );
}

#[test]
fn error_unterminated_quote() {
    let (line, first, last, message) = text_error("A=1\n  B = \"abc\ndef");
    assert_eq!((line, first, last), (2, 7, 7));
    assert!(message.contains("unterminated"), "{message}");
}

#[test]
fn error_unbalanced_brackets() {
    let (line, first, _, message) = text_error("DISK=[A=1,\nB=2");
    assert_eq!((line, first), (2, 4));
    assert!(message.contains("unexpected $end"), "{message}");

    let (line, first, _, message) = text_error("A=1]");
    assert_eq!((line, first), (1, 4));
    assert!(message.contains("unexpected CBRACKET"), "{message}");

    let (_, _, _, message) = text_error("A=[B=1,]");
    assert!(message.contains("unexpected CBRACKET"), "{message}");
}

#[test]
fn error_nested_vector() {
    let (line, first, _, message) = text_error("A=[B=[C=1]]");
    assert_eq!((line, first), (1, 6));
    assert!(message.contains("nested"), "{message}");
}

#[test]
fn error_missing_name() {
    let (_, first, _, message) = text_error("=1");
    assert_eq!(first, 1);
    assert!(
        message.contains("unexpected EQUAL, expecting VARIABLE"),
        "{message}"
    );

    let (_, _, _, message) = text_error("A=1,B=2");
    assert!(message.contains("unexpected COMMA"), "{message}");

    let (_, _, _, message) = text_error("A==1");
    assert!(
        message.contains("unexpected EQUAL, expecting STRING"),
        "{message}"
    );
}

#[test]
fn error_columns_count_characters() {
    // "é" is two bytes but one column.
    let (line, first, last, message) = text_error("A=\"é\" -x=1");
    assert_eq!((line, first, last), (1, 7, 7));
    assert!(message.contains("'-'"), "{message}");

    let (line, first, last, _) = text_error("A=1\nLONGNAME");
    assert_eq!((line, first, last), (2, 9, 9));

    let (line, first, last, _) = text_error("A=1\nLONGNAME LONG2=3");
    assert_eq!((line, first, last), (2, 10, 14));
}

// ----------------------------------------------------------------- xml form

#[test]
fn xml_pyone_style() {
    let t = xml(
        "<TEMPLATE><NAME><![CDATA[x]]></NAME><DISK><IMAGE_ID><![CDATA[3]]></IMAGE_ID>\
         <target>vda</target></DISK></TEMPLATE>",
    );
    assert_eq!(
        t,
        tmpl(vec![
            single("NAME", "x"),
            vector("DISK", &[("IMAGE_ID", "3"), ("TARGET", "vda")]),
        ])
    );
}

#[test]
fn xml_pretty_printed() {
    let t = xml(
        "<?xml version=\"1.0\"?>\n<!-- c -->\n<ANY_ROOT a=\"1\">\n  <name>\n    <![CDATA[x y]]>\n  </name>\n  \
         <DISK>\n    <IMAGE_ID>3</IMAGE_ID>\n  </DISK>\n  <MEMORY>128</MEMORY>\n</ANY_ROOT>\n",
    );
    assert_eq!(
        t,
        tmpl(vec![
            single("NAME", "x y"),
            vector("DISK", &[("IMAGE_ID", "3")]),
            single("MEMORY", "128"),
        ])
    );
}

#[test]
fn xml_entities_decoded() {
    let t = xml("<T><A>a &lt;&amp;&gt; &quot;&apos; &#65;&#x42;</A><B> </B></T>");
    assert_eq!(t.get("A"), Some("a <&> \"' AB"));
    assert_eq!(t.get("B"), Some(" "));
}

#[test]
fn xml_empty_forms() {
    assert!(xml("<TEMPLATE/>").is_empty());
    assert!(xml("<TEMPLATE></TEMPLATE>").is_empty());
    assert_eq!(
        xml("<T><A><![CDATA[]]></A><V/><W></W><X><K/><L></L></X></T>"),
        tmpl(vec![
            single("A", ""),
            vector("V", &[]),
            vector("W", &[]),
            vector("X", &[("K", ""), ("L", "")]),
        ])
    );
}

#[test]
fn xml_names_normalised_and_repeats_kept() {
    let t =
        xml("<T><xmlfoo>1</xmlfoo><disk><id>0</id></disk><DISK><ID>1</ID><id>2</id></DISK></T>");
    assert_eq!(
        t,
        tmpl(vec![
            single("ONE_XMLFOO", "1"),
            vector("DISK", &[("ID", "0")]),
            // A repeated key replaces the value, as oned's replace() does.
            vector("DISK", &[("ID", "2")]),
        ])
    );
}

#[test]
fn xml_split_cdata_reads_back() {
    let t = xml("<T><A><![CDATA[a]]]]><![CDATA[>b]]></A></T>");
    assert_eq!(t.get("A"), Some("a]]>b"));
}

#[test]
fn xml_errors() {
    for (input, needle) in [
        ("<T><A>1</A>", "not closed"),
        ("<T><A>1</B></T>", ""),
        ("<T><V><K><X>1</X></K></V></T>", "nested too deep"),
        ("<T><V>text<K>1</K></V></T>", "mixes"),
        ("<T><V><K>1</K>text</V></T>", "mixes"),
        ("<T>loose</T>", "text outside"),
        ("<T/><U/>", "second root"),
        (
            "<!DOCTYPE T [<!ENTITY e \"x\">]><T><A>&e;</A></T>",
            "DOCTYPE",
        ),
        ("<T><A>&e;</A></T>", "unknown entity"),
        ("<T><A>&#0;</A></T>", ""),
        ("<!-- nothing -->", "no root"),
        ("<T><A", ""),
    ] {
        match Template::parse_xml(input) {
            Err(e @ ParseError::Xml { .. }) => {
                let shown = e.to_string();
                assert!(shown.starts_with("Parse error: XML template: "), "{shown}");
                assert!(shown.contains(needle), "{input:?}: {shown}");
            }
            other => panic!("expected an XML error for {input:?}, got {other:?}"),
        }
    }
}

#[test]
fn xml_error_position() {
    match Template::parse_xml("<T>\n  <V><K><X>1</X></K></V></T>") {
        Err(ParseError::Xml { line, column, .. }) => assert_eq!((line, column), (2, 9)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn parse_dispatches_on_first_character() {
    assert_eq!(
        Template::parse("  \n<T><A>1</A></T>").expect("xml"),
        tmpl(vec![single("A", "1")])
    );
    assert_eq!(
        Template::parse("A=1").expect("text"),
        tmpl(vec![single("A", "1")])
    );
    let parsed: Template = "A=1".parse().expect("from_str");
    assert_eq!(parsed.get("a"), Some("1"));
}

// ------------------------------------------------------------------ writers

#[test]
fn xml_output_sorted_with_cdata() {
    let t = text("NAME=vm\nDISK=[TARGET=vda, IMAGE_ID=3]\nCPU=1\nDISK=[IMAGE_ID=4]\nB=\"<&>\"");
    assert_eq!(
        t.to_xml("TEMPLATE"),
        "<TEMPLATE><B><![CDATA[<&>]]></B><CPU><![CDATA[1]]></CPU>\
         <DISK><IMAGE_ID><![CDATA[3]]></IMAGE_ID><TARGET><![CDATA[vda]]></TARGET></DISK>\
         <DISK><IMAGE_ID><![CDATA[4]]></IMAGE_ID></DISK>\
         <NAME><![CDATA[vm]]></NAME></TEMPLATE>"
    );
}

#[test]
fn xml_output_empty_and_empty_values() {
    assert_eq!(Template::new().to_xml("USER_TEMPLATE"), "<USER_TEMPLATE/>");
    let t = tmpl(vec![single("A", ""), vector("V", &[])]);
    assert_eq!(t.to_xml("T"), "<T><A><![CDATA[]]></A><V></V></T>");
    let mut out = String::from("<VM>");
    t.write_xml("T", &mut out);
    assert!(out.starts_with("<VM><T><A>"));
}

#[test]
fn xml_output_splits_cdata_terminator() {
    let t = tmpl(vec![single("A", "x]]>y"), vector("V", &[("K", "]]>")])]);
    let out = t.to_xml("T");
    assert_eq!(
        out,
        "<T><A><![CDATA[x]]]]><![CDATA[>y]]></A>\
         <V><K><![CDATA[]]]]><![CDATA[>]]></K></V></T>"
    );
    assert_eq!(xml(&out), t);
}

#[test]
fn text_output_format() {
    let t = tmpl(vec![
        single("NAME", "a \"b\" \\ c"),
        vector("DISK", &[("IMAGE_ID", "3"), ("TARGET", "vda")]),
        vector("E", &[]),
    ]);
    assert_eq!(
        t.to_text(),
        "NAME=\"a \\\"b\\\" \\\\ c\"\nDISK=[\n  IMAGE_ID=\"3\",\n  TARGET=\"vda\" ]\nE=[]\n"
    );
    assert_eq!(t.to_string(), t.to_text());
}

#[test]
fn round_trip_text() {
    let input = "# a VM\nNAME = \"my vm\"\nCPU=0.5 MEMORY=512\n\
                 DISK=[IMAGE_ID=3,TARGET=vda]\nDISK=[\n IMAGE=\"ubuntu \\\"lts\\\"\"\n]\n\
                 CONTEXT=[NETWORK=YES, SSH_PUBLIC_KEY=\"$USER[SSH_PUBLIC_KEY]\", \
                 START_SCRIPT=\"#!/bin/sh\necho 'hi' \\\\o/\n\"]\n\
                 EMPTY=\nEV=[]\nPATH=C:\\images\n";
    let first = text(input);
    let again = text(&first.to_text());
    assert_eq!(again, first);
    assert_eq!(again.to_text(), first.to_text());
    // The XML form is in oned's order: sorted by name, then by key.
    assert_eq!(xml(&first.to_xml("TEMPLATE")), sorted(&first));
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

// --------------------------------------------------------------- operations

#[test]
fn get_is_case_insensitive_and_skips_vectors() {
    let t = text("DISK=[A=1]\nDISK=direct\nname=x");
    assert_eq!(t.get("disk"), Some("direct"));
    assert_eq!(t.get("Name"), Some("x"));
    assert_eq!(t.get("missing"), None);
    assert_eq!(t.get_all("DISK").count(), 2);
    assert_eq!(t.vectors("DISK").count(), 1);
}

#[test]
fn value_accessors() {
    let t = text("DISK=[IMAGE_ID=3]\nA=1");
    let disk = &t.attrs[0].value;
    assert_eq!(disk.get("image_id"), Some("3"));
    assert_eq!(disk.get("nope"), None);
    assert_eq!(disk.as_single(), None);
    assert_eq!(t.attrs[1].value.as_single(), Some("1"));
    assert_eq!(t.attrs[1].value.get("A"), None);
}

#[test]
fn set_replaces_all_of_a_name() {
    let mut t = text("A=1\nB=2\nA=[X=1]\n");
    t.set("a", "3");
    assert_eq!(t, tmpl(vec![single("B", "2"), single("A", "3")]));
    t.set("xml_v", 4.to_string());
    assert_eq!(t.get("xml_v"), Some("4"));
    assert_eq!(t.attrs[2].name, "ONE_XML_V");
}

#[test]
fn remove_returns_removed() {
    let mut t = text("A=1\nB=2\nA=[X=1]\n");
    let removed = t.remove("A");
    assert_eq!(removed, vec![single("A", "1"), vector("A", &[("X", "1")])]);
    assert_eq!(t, tmpl(vec![single("B", "2")]));
    assert!(t.remove("zzz").is_empty());
}

#[test]
fn push_normalises() {
    let mut t = Template::new();
    t.push(vector("disk", &[("image_id", "1")]));
    t.push(single("1x", "y"));
    t.push(Attribute::single("n", "v"));
    t.push(Attribute::vector("nic", [("ip", "1.2.3.4")]));
    assert_eq!(
        t,
        tmpl(vec![
            vector("DISK", &[("IMAGE_ID", "1")]),
            single("ONE_1X", "y"),
            single("N", "v"),
            vector("NIC", &[("IP", "1.2.3.4")]),
        ])
    );
}

#[test]
fn merge_replaces_names_present_in_other() {
    let mut t = text("A=1\nDISK=[ID=0]\nB=2\nDISK=[ID=1]\n");
    let other = text("DISK=[ID=9]\nC=3\nb=4\n");
    t.merge(&other);
    assert_eq!(
        t,
        tmpl(vec![
            single("A", "1"),
            vector("DISK", &[("ID", "9")]),
            single("C", "3"),
            single("B", "4"),
        ])
    );
    let before = t.clone();
    t.merge(&Template::new());
    assert_eq!(t, before);
}

#[test]
fn serde_is_derived() {
    fn assert_serde<T: serde::Serialize + serde::de::DeserializeOwned>() {}
    assert_serde::<Template>();
}

// ------------------------------------------------------------- big inputs

#[test]
fn large_inputs_parse() {
    let mut input = String::new();
    for i in 0..20_000 {
        input.push_str(&format!("ATTR{i} = \"value {i} with some text\"\n"));
        input.push_str(&format!("V{i} = [ K1 = a{i}, K2 = \"b\" ]\n"));
    }
    input.push_str("BIG=\"");
    input.push_str(&"x\\\"y".repeat(500_000));
    input.push_str("\"\n");
    assert!(input.len() > 3_000_000);
    let t = text(&input);
    assert_eq!(t.attrs.len(), 40_001);
    let xml_form = t.to_xml("TEMPLATE");
    assert_eq!(
        Template::parse_xml(&xml_form).expect("xml").attrs.len(),
        40_001
    );

    // One vector with many keys: repeated-key detection stays linear.
    let mut wide = String::from("V=[");
    for i in 0..100_000 {
        wide.push_str(&format!("K{i}=1,"));
    }
    wide.push_str("K0=2]");
    assert_eq!(
        text(&wide).vectors("V").next().map(<[_]>::len),
        Some(100_000)
    );
}

#[test]
fn deep_and_hostile_inputs_do_not_crash() {
    let deep_xml = "<a>".repeat(100_000);
    assert!(Template::parse(&deep_xml).is_err());
    let brackets = "A=".to_owned() + &"[".repeat(100_000);
    assert!(Template::parse(&brackets).is_err());
    let quotes = "A=".to_owned() + &"\"".repeat(100_001);
    assert!(Template::parse(&quotes).is_err());
    let backslashes = "A=\"".to_owned() + &"\\".repeat(100_001);
    assert!(Template::parse(&backslashes).is_err());
}
