//! A tiny writer for OpenNebula-shaped XML: elements in a fixed order, numbers raw, names
//! escaped, user strings in CDATA, no whitespace between elements.

use std::fmt::Display;

/// An XML document being written.
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    /// An empty document.
    pub fn new() -> Self {
        Xml {
            out: String::with_capacity(1024),
        }
    }

    /// The written text.
    pub fn finish(self) -> String {
        self.out
    }

    /// The buffer, for writers that append directly (templates).
    pub fn buffer(&mut self) -> &mut String {
        &mut self.out
    }

    /// Opens `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Closes `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
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
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str("/>");
        self
    }
}

/// Appends `value` with `&`, `<` and `>` escaped.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Appends `value` as CDATA, splitting any `]]>` so the document stays well-formed.
pub fn cdata_into(out: &mut String, value: &str) {
    out.push_str("<![CDATA[");
    out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_and_cdata() {
        let mut x = Xml::new();
        x.open("A")
            .num("ID", 3)
            .text("NAME", "a<b&c")
            .cdata("T", "x]]>y")
            .flag("F", true)
            .close("A");
        assert_eq!(
            x.finish(),
            "<A><ID>3</ID><NAME>a&lt;b&amp;c</NAME><T><![CDATA[x]]]]><![CDATA[>y]]></T><F>1</F></A>"
        );
    }
}
