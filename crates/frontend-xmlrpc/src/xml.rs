//! A tiny writer for OpenNebula-shaped XML: elements in a fixed order, numbers raw, names
//! escaped, user strings in CDATA, no whitespace between elements.
//!
//! Every reply document travels inside an XML-RPC `<string>`, so the writer produces it
//! already escaped for that string (`<` as `&lt;`, a `&lt;` of the document as
//! `&amp;lt;`, …) and the reply carries it as an [`nubo_xmlrpc::Value::EscapedString`]: a 20,000-VM
//! pool is written once instead of written and then escaped again.

use std::fmt::Display;

// Plain text in its XML-RPC string form (`&`, `<`, `>`, `\r` replaced).
use nubo_xmlrpc::push_escaped as wire_into;

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
        self.out.push_str(name);
        self.out.push_str("&gt;");
        self
    }

    /// Closes `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("&lt;/");
        self.out.push_str(name);
        self.out.push_str("&gt;");
        self
    }

    /// `<name>value</name>` for a number or other text that needs no escaping.
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
        self.out.push_str(name);
        self.out.push_str("/&gt;");
        self
    }
}

/// Appends `value` escaped for XML (`&`, `<`, `>`) and then for the XML-RPC string.
fn escape_into(out: &mut String, value: &str) {
    let mut plain_from = 0;
    for (at, b) in value.bytes().enumerate() {
        let replacement = match b {
            b'&' => "&amp;amp;",
            b'<' => "&amp;lt;",
            b'>' => "&amp;gt;",
            b'\r' => "&#13;",
            _ => continue,
        };
        out.push_str(&value[plain_from..at]);
        out.push_str(replacement);
        plain_from = at + 1;
    }
    out.push_str(&value[plain_from..]);
}

/// Appends `value` as CDATA, splitting any `]]>` so the document stays well-formed.
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
