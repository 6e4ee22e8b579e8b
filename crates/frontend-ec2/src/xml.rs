//! The XML of replies: elements written straight into a string, text escaped, lists as a
//! wrapper of `<item>`s, absent values omitted (botocore cannot read an empty number or
//! date), booleans as lowercase `true`/`false`, dates as `2026-11-23T05:00:00.000Z`.
//!
//! Element names come from the code. Text is whatever objects hold, so a character XML 1.0
//! cannot carry (stored before the front ends refused them, or made by the core) is written
//! as U+FFFD ([`nubo_template::xml_chars`]): every reply is well-formed.

use std::fmt::{Display, Write};

use nubo_template::xml_chars::push_xml_text;

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

/// Appends `value` escaped for XML, with characters XML 1.0 cannot carry (C0 controls other
/// than tab, line feed and carriage return, U+FFFE, U+FFFF) as U+FFFD.
fn escape_into(out: &mut String, value: &str) {
    push_xml_text(out, value, |b| match b {
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'&' => Some("&amp;"),
        b'"' => Some("&quot;"),
        b'\'' => Some("&apos;"),
        _ => None,
    });
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

    use nubo_testkit::hostile_text;
    use nubo_testkit::{well_formed, xml_1_0_char};

    /// What the writer makes of a string: characters XML cannot carry as U+FFFD.
    fn replaced(s: &str) -> String {
        s.chars()
            .map(|c| if xml_1_0_char(c) { c } else { '\u{FFFD}' })
            .collect()
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced_not_dropped() {
        let mut x = Xml::new();
        x.open("r")
            .text("a", "x\u{b}y\u{0}\u{FFFE}\u{FFFF}<")
            .strings("s", ["\u{1f}"])
            .tags(&[("k\u{c}".to_owned(), "v\u{FFFF}".to_owned())])
            .close("r");
        let doc = x.finish();
        well_formed(&doc).expect("well-formed");
        assert_eq!(
            doc,
            "<r><a>x\u{FFFD}y\u{FFFD}\u{FFFD}\u{FFFD}&lt;</a><s><item>\u{FFFD}</item></s>\
             <tagSet><item><key>k\u{FFFD}</key><value>v\u{FFFD}</value></item></tagSet></r>"
        );
    }

    proptest::proptest! {
        #![proptest_config(nubo_testkit::cases(4096))]

        /// A reply (and an error reply) of any text is well-formed and reads back with
        /// U+FFFD in place of what XML cannot carry.
        #[test]
        fn replies_are_well_formed_whatever_they_hold(
            text in hostile_text(),
            key in hostile_text(),
            value in hostile_text(),
        ) {
            let mut x = Xml::new();
            x.open("r").text("a", &text).opt("b", Some(&key)).close("r");
            let doc = x.finish();
            proptest::prop_assert!(well_formed(&doc).is_ok(), "{:?} in {:?}", well_formed(&doc), doc);
            // Read back with a real parser: the template XML parser keeps text exactly (an
            // empty element reads as an empty vector, which `get` does not return).
            let back = nubo_template::Template::parse_xml(&doc);
            proptest::prop_assert!(back.is_ok(), "{:?} from {:?}", back, doc);
            if let Ok(back) = back {
                proptest::prop_assert_eq!(back.get("A").unwrap_or_default(), replaced(&text));
                proptest::prop_assert_eq!(back.get("B").unwrap_or_default(), replaced(&key));
            }

            let mut x = Xml::new();
            x.open("DescribeTagsResponse")
                .strings("s", [text.as_str()])
                .tags(&[(key.clone(), value.clone())])
                .close("DescribeTagsResponse");
            let doc = x.finish();
            proptest::prop_assert!(well_formed(&doc).is_ok(), "{:?} in {:?}", well_formed(&doc), doc);

            let mut e = Xml::new();
            e.open("Response").open("Errors").open("Error")
                .text("Code", "InvalidParameterValue")
                .text("Message", &format!("Value ({text}) for parameter {key} is invalid."))
                .close("Error").close("Errors").close("Response");
            let error = e.finish();
            proptest::prop_assert!(well_formed(&error).is_ok(), "{:?} in {:?}", well_formed(&error), error);
        }
    }

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
