//! A tiny writer for OpenNebula-shaped XML: elements in a fixed order, numbers raw, names
//! escaped, user strings in CDATA, no whitespace between elements.
//!
//! Every reply document travels inside an XML-RPC `<string>`, so the writer produces it
//! already escaped for that string (`<` as `&lt;`, a `&lt;` of the document as
//! `&amp;lt;`, …) and the reply carries it as an [`nubo_xmlrpc::Value::EscapedString`]: a 20,000-VM
//! pool is written once instead of written and then escaped again.
//!
//! Whatever an object holds, the document is well-formed: every name, text, CDATA section
//! and fragment goes through [`nubo_xmlrpc::xml_chars`], which writes a character XML 1.0
//! cannot carry (a C0 control other than tab, line feed and carriage return, U+FFFE,
//! U+FFFF; stored before the decoders refused them, or made by the core) as U+FFFD, and a
//! `]]>` inside CDATA is split over two sections.

use std::fmt::Display;

// Plain text in its XML-RPC string form (`&`, `<`, `>`, `\r` replaced, characters XML
// cannot carry as U+FFFD).
use nubo_xmlrpc::push_escaped as wire_into;
use nubo_xmlrpc::xml_chars::push_xml_text;

/// An XML document being written (in its XML-RPC-escaped form).
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    /// An empty document.
    pub fn new() -> Self {
        Xml::with_capacity(1024)
    }

    /// An empty document with room for about `bytes` of text.
    pub fn with_capacity(bytes: usize) -> Self {
        Xml {
            out: String::with_capacity(bytes),
        }
    }

    /// The document in its wire form: the text of a [`nubo_xmlrpc::Value::EscapedString`].
    pub fn finish(self) -> String {
        self.out
    }

    /// Appends a piece of plain XML written elsewhere (a template's XML form).
    pub fn fragment(&mut self, xml: &str) -> &mut Self {
        wire_into(&mut self.out, xml);
        self
    }

    /// Opens `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push_str("&lt;");
        wire_into(&mut self.out, name);
        self.out.push_str("&gt;");
        self
    }

    /// Closes `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("&lt;/");
        wire_into(&mut self.out, name);
        self.out.push_str("&gt;");
        self
    }

    /// `<name>value</name>` for a number or other text that needs no escaping (made by the
    /// code, never by a user).
    pub fn num(&mut self, name: &str, value: impl Display) -> &mut Self {
        use std::fmt::Write;
        self.open(name);
        let _ = write!(self.out, "{value}");
        self.close(name)
    }

    /// `<name>text</name>` with XML escaping.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.open(name);
        escape_into(&mut self.out, value);
        self.close(name)
    }

    /// `<name><![CDATA[text]]></name>`.
    pub fn cdata(&mut self, name: &str, value: &str) -> &mut Self {
        self.open(name);
        cdata_into(&mut self.out, value);
        self.close(name)
    }

    /// `<name>0|1</name>`.
    pub fn flag(&mut self, name: &str, value: bool) -> &mut Self {
        self.num(name, u8::from(value))
    }

    /// `<name><ID>..</ID>...</name>`.
    pub fn ids<'a>(&mut self, name: &str, ids: impl IntoIterator<Item = &'a i32>) -> &mut Self {
        self.open(name);
        for id in ids {
            self.num("ID", id);
        }
        self.close(name)
    }

    /// An empty `<name/>`.
    pub fn empty(&mut self, name: &str) -> &mut Self {
        self.out.push_str("&lt;");
        wire_into(&mut self.out, name);
        self.out.push_str("/&gt;");
        self
    }
}

/// Appends `value` escaped for XML (`&`, `<`, `>`) and then for the XML-RPC string, with
/// characters XML cannot carry as U+FFFD.
fn escape_into(out: &mut String, value: &str) {
    push_xml_text(out, value, |b| match b {
        b'&' => Some("&amp;amp;"),
        b'<' => Some("&amp;lt;"),
        b'>' => Some("&amp;gt;"),
        b'\r' => Some("&#13;"),
        _ => None,
    });
}

/// Appends `value` as CDATA, splitting any `]]>` so the document stays well-formed (and
/// characters XML cannot carry as U+FFFD, by [`wire_into`]).
fn cdata_into(out: &mut String, value: &str) {
    out.push_str("&lt;![CDATA[");
    if value.contains("]]>") {
        wire_into(out, &value.replace("]]>", "]]]]><![CDATA[>"));
    } else {
        wire_into(out, value);
    }
    out.push_str("]]&gt;");
}

/// The plain XML of a wire-form document.
#[cfg(test)]
fn unescape_wire(wire: &str) -> String {
    wire.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#13;", "\r")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_xmlrpc::Value;

    #[test]
    fn writes_escaped_and_cdata() {
        let mut x = Xml::new();
        x.open("A")
            .num("ID", 3)
            .text("NAME", "a<b&c")
            .cdata("T", "x]]>y")
            .flag("F", true)
            .fragment("<T2><![CDATA[&]]></T2>")
            .empty("E")
            .close("A");
        assert_eq!(
            unescape_wire(&x.finish()),
            "<A><ID>3</ID><NAME>a&lt;b&amp;c</NAME><T><![CDATA[x]]]]><![CDATA[>y]]></T>\
             <F>1</F><T2><![CDATA[&]]></T2><E/></A>"
        );
    }

    use nubo_testkit::hostile_text;
    use nubo_testkit::{well_formed, xml_1_0_char};

    /// The document a wire form stands for, read the way a client reads the reply: the
    /// whole reply checked and decoded by nubo-xmlrpc, then the document checked.
    fn document(wire: String) -> String {
        let reply = nubo_xmlrpc::write_response(&nubo_xmlrpc::MethodResponse::Success(
            Value::EscapedString(wire),
        ));
        if let Err(e) = well_formed(&reply) {
            panic!("the reply is not well-formed: {e} in {reply:?}");
        }
        match nubo_xmlrpc::parse_response(reply.as_bytes()) {
            Ok(nubo_xmlrpc::MethodResponse::Success(Value::String(doc))) => doc,
            other => panic!("{other:?} from {reply:?}"),
        }
    }

    /// What the writer makes of a string: characters XML cannot carry as U+FFFD.
    fn replaced(s: &str) -> String {
        s.chars()
            .map(|c| if xml_1_0_char(c) { c } else { '\u{FFFD}' })
            .collect()
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced_everywhere() {
        let mut template = String::new();
        nubo_template::Template {
            attrs: vec![nubo_template::Attribute::single("D", "&#11;\u{b}\u{FFFF}")],
        }
        .write_xml("TEMPLATE", &mut template);
        let mut x = Xml::new();
        x.open("VM")
            .text("NAME", "a\u{FFFE}\u{0}<b>")
            .cdata("DESCRIPTION", "x\u{b}]]>\u{FFFF}y")
            .fragment(&template)
            .open("N\u{1f}")
            .close("N\u{1f}")
            .empty("E\u{FFFE}")
            .close("VM");
        let doc = document(x.finish());
        well_formed(&doc).expect("a well-formed document");
        assert_eq!(
            doc,
            "<VM><NAME>a\u{FFFD}\u{FFFD}&lt;b&gt;</NAME>\
             <DESCRIPTION><![CDATA[x\u{FFFD}]]]]><![CDATA[>\u{FFFD}y]]></DESCRIPTION>\
             <TEMPLATE><D><![CDATA[&#11;\u{FFFD}\u{FFFD}]]></D></TEMPLATE>\
             <N\u{FFFD}></N\u{FFFD}><E\u{FFFD}/></VM>"
        );
    }

    proptest::proptest! {
        #![proptest_config(nubo_testkit::cases(4096))]

        /// Text, CDATA and a template fragment of any content make a well-formed document
        /// inside a well-formed reply, and read back with U+FFFD in place of what XML
        /// cannot carry (a `]]>` in CDATA included).
        #[test]
        fn documents_are_well_formed_whatever_they_hold(
            text in hostile_text(),
            cdata in hostile_text(),
            value in hostile_text(),
        ) {
            let mut template = String::new();
            nubo_template::Template {
                attrs: vec![nubo_template::Attribute::single("V", value.clone())],
            }
            .write_xml("TEMPLATE", &mut template);
            let mut x = Xml::new();
            x.open("VM").text("NAME", &text).cdata("DESCRIPTION", &cdata).fragment(&template).close("VM");
            let doc = document(x.finish());
            proptest::prop_assert!(well_formed(&doc).is_ok(), "{:?} in {:?}", well_formed(&doc), doc);
            // The document has a template's shape: each child of the root is one value (an
            // empty `<NAME></NAME>` reads as an empty vector, so `get` has nothing for it).
            let back = nubo_template::Template::parse_xml(&doc);
            proptest::prop_assert!(back.is_ok(), "{:?} from {:?}", back, doc);
            if let Ok(back) = back {
                proptest::prop_assert_eq!(back.get("NAME").unwrap_or_default(), replaced(&text));
                proptest::prop_assert_eq!(back.get("DESCRIPTION").unwrap_or_default(), replaced(&cdata));
                let inner = back.vectors("TEMPLATE").next().and_then(|pairs| pairs.first().cloned());
                proptest::prop_assert_eq!(inner, Some(("V".to_owned(), replaced(&value))));
            }
        }
    }

    #[test]
    fn the_wire_form_is_what_an_xml_rpc_string_carries() {
        let mut x = Xml::new();
        x.open("A").text("N", "a<&\r").cdata("C", "<&>").close("A");
        let wire = x.finish();
        let reply = nubo_xmlrpc::write_response(&nubo_xmlrpc::MethodResponse::Success(
            Value::EscapedString(wire),
        ));
        let parsed = nubo_xmlrpc::parse_response(reply.as_bytes()).expect("parses");
        let nubo_xmlrpc::MethodResponse::Success(Value::String(plain)) = parsed else {
            panic!("not a string");
        };
        assert_eq!(plain, "<A><N>a&lt;&amp;\r</N><C><![CDATA[<&>]]></C></A>");
    }
}
