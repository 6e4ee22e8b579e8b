//! The XML of replies: elements written straight into a string, text escaped, lists as a
//! wrapper of `<item>`s, absent values omitted (botocore cannot read an empty number or
//! date), booleans as lowercase `true`/`false`, dates as `2026-11-23T05:00:00.000Z`.

use std::fmt::{Display, Write};

/// An XML document being written.
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    /// An empty document.
    pub fn new() -> Xml {
        Xml::default()
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    /// `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Xml {
        let _ = write!(self.out, "<{name}>");
        self
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Xml {
        let _ = write!(self.out, "</{name}>");
        self
    }

    /// `<name>text</name>`, escaped.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Xml {
        let _ = write!(self.out, "<{name}>");
        escape_into(&mut self.out, value);
        let _ = write!(self.out, "</{name}>");
        self
    }

    /// `<name>text</name>` when there is a value; nothing otherwise.
    pub fn opt(&mut self, name: &str, value: Option<&str>) -> &mut Xml {
        if let Some(v) = value {
            self.text(name, v);
        }
        self
    }

    /// `<name>number</name>`.
    pub fn num(&mut self, name: &str, value: impl Display) -> &mut Xml {
        let _ = write!(self.out, "<{name}>{value}</{name}>");
        self
    }

    /// `<name>true|false</name>`.
    pub fn flag(&mut self, name: &str, value: bool) -> &mut Xml {
        self.num(name, value)
    }

    /// `<name>2026-11-23T05:00:00.000Z</name>` of epoch seconds; nothing when not positive.
    pub fn time(&mut self, name: &str, epoch: i64) -> &mut Xml {
        if epoch > 0 {
            self.text(name, &iso8601(epoch));
        }
        self
    }

    /// A list: `<name>` then one `<item>` per element written by `each`, then `</name>`
    /// (an empty list is still written).
    pub fn list<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Xml, T),
    ) -> &mut Xml {
        self.open(name);
        for item in items {
            self.open("item");
            each(self, item);
            self.close("item");
        }
        self.close(name)
    }

    /// An empty list: `<name></name>` (botocore wants the wrapper even with no items).
    pub fn empty(&mut self, name: &str) -> &mut Xml {
        self.open(name).close(name)
    }

    /// A list of strings: `<name><item>a</item>…</name>`.
    pub fn strings<'a>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = &'a str>,
    ) -> &mut Xml {
        self.open(name);
        for item in items {
            self.text("item", item);
        }
        self.close(name)
    }

    /// `tagSet` of key/value pairs.
    pub fn tags<'a>(&mut self, tags: impl IntoIterator<Item = &'a (String, String)>) -> &mut Xml {
        self.list("tagSet", tags, |x, (k, v)| {
            x.text("key", k).text("value", v);
        })
    }
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
}

/// Epoch seconds as `2026-11-23T05:00:00.000Z`.
pub fn iso8601(epoch: i64) -> String {
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    let (y, m, d) = nubo_core::calendar::civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_lists_escapes_and_omits_absent_values() {
        let mut x = Xml::new();
        x.open("r")
            .text("a", "<&'\">")
            .opt("b", None)
            .time("t", 0)
            .time("u", 1_795_410_000)
            .flag("f", true)
            .list("set", ["x", "y"], |x, v| {
                x.text("v", v);
            })
            .list("empty", Vec::<&str>::new(), |_, _| {})
            .close("r");
        assert_eq!(
            x.finish(),
            "<r><a>&lt;&amp;&apos;&quot;&gt;</a><u>2026-11-23T05:00:00.000Z</u><f>true</f>\
             <set><item><v>x</v></item><item><v>y</v></item></set><empty></empty></r>"
        );
    }
}
