//! A minimal XML tree for reading OpenNebula's replies without a struct per object type:
//! [`Element`] `{ name, text, children }`, with [`Element::child`], [`Element::children`] and
//! [`Element::text_of`] (`"TEMPLATE/NAME"`).
//!
//! Attributes, comments and processing instructions are dropped (OpenNebula sends none);
//! CDATA and entity references are folded into `text`; whitespace-only text between child
//! elements is dropped. Document type declarations are refused and nesting is limited to
//! [`MAX_DEPTH`], so a hostile reply cannot make the reader misbehave.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 128;

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at byte {position}")]
pub struct XmlError {
    /// Where the reader gave up.
    pub position: u64,
    /// What was wrong.
    pub problem: String,
}

/// One element: its name, its text (CDATA included) and its child elements in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The tag name.
    pub name: String,
    /// The text directly inside the element; empty when it only holds whitespace and
    /// children.
    pub text: String,
    /// The child elements, in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// Reads a whole document into its root element.
    pub fn parse(xml: &str) -> Result<Element, XmlError> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().expand_empty_elements = true;
        reader.config_mut().check_end_names = true;
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        loop {
            let position = reader.buffer_position();
            let fail = |problem: String| XmlError { position, problem };
            let event = reader.read_event().map_err(|e| XmlError {
                position: reader.error_position(),
                problem: e.to_string(),
            })?;
            match event {
                Event::Start(start) => {
                    if root.is_some() {
                        return Err(fail("content after the root element".into()));
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(fail(format!("elements nested deeper than {MAX_DEPTH}")));
                    }
                    stack.push(Element {
                        name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
                        ..Element::default()
                    });
                }
                Event::End(_) => {
                    let Some(mut done) = stack.pop() else {
                        return Err(fail("unexpected closing tag".into()));
                    };
                    if !done.children.is_empty() && done.text.trim().is_empty() {
                        done.text.clear();
                    }
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => root = Some(done),
                    }
                }
                Event::Text(t) => {
                    let text = t.decode().map_err(|e| fail(e.to_string()))?;
                    push_text(&mut stack, &text).map_err(fail)?;
                }
                Event::CData(c) => {
                    let text = c.decode().map_err(|e| fail(e.to_string()))?;
                    push_text(&mut stack, &text).map_err(fail)?;
                }
                Event::GeneralRef(r) => {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    let text = if r.is_char_ref() {
                        r.resolve_char_ref()
                            .ok()
                            .flatten()
                            .map(String::from)
                            .ok_or_else(|| fail(format!("invalid character reference &{name};")))?
                    } else {
                        resolve_predefined_entity(&name)
                            .map(str::to_owned)
                            .ok_or_else(|| fail(format!("unknown entity &{name};")))?
                    };
                    push_text(&mut stack, &text).map_err(fail)?;
                }
                Event::DocType(_) => {
                    return Err(fail("document type declarations are not allowed".into()));
                }
                Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
                Event::Eof => {
                    return match (root, stack.is_empty()) {
                        (Some(root), true) => Ok(root),
                        (None, true) => Err(fail("no root element".into())),
                        _ => Err(fail("unexpected end of document".into())),
                    };
                }
            }
        }
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`, in order.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at a `/`-separated path below this one (`"TEMPLATE/NAME"`), following the
    /// first child of each name.
    pub fn find(&self, path: &str) -> Option<&Element> {
        path.split('/')
            .filter(|step| !step.is_empty())
            .try_fold(self, |el, step| el.child(step))
    }

    /// The text at a `/`-separated path below this one, e.g. `text_of("TEMPLATE/NAME")`.
    pub fn text_of(&self, path: &str) -> Option<&str> {
        self.find(path).map(|e| e.text.as_str())
    }

    /// Whether the element has no children (a scalar).
    pub fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }
}

/// Appends text to the open element; only whitespace may stand outside the root.
fn push_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(open) => {
            open.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err("text outside the root element".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "<USER_POOL><USER><ID>3</ID><GID>1</GID><GROUPS><ID>1</ID><ID>100</ID></GROUPS>\
        <NAME>alice</NAME><TEMPLATE><TOKEN_PASSWORD><![CDATA[abc]]></TOKEN_PASSWORD>\
        <NOTE><![CDATA[a < b]]> &amp; c&#33;</NOTE></TEMPLATE></USER><USER><ID>4</ID>\
        <NAME>bob</NAME><TEMPLATE/></USER></USER_POOL>";

    #[test]
    fn reads_a_pool() {
        let pool = Element::parse(USER).expect("parse");
        assert_eq!(pool.name, "USER_POOL");
        let users: Vec<_> = pool.children("USER").collect();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].text_of("NAME"), Some("alice"));
        assert_eq!(users[0].text_of("TEMPLATE/TOKEN_PASSWORD"), Some("abc"));
        assert_eq!(users[0].text_of("TEMPLATE/NOTE"), Some("a < b & c!"));
        let groups: Vec<&str> = users[0]
            .child("GROUPS")
            .map(|g| g.children("ID").map(|i| i.text.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(groups, ["1", "100"]);
        assert_eq!(users[1].text_of("TEMPLATE"), Some(""));
        assert!(users[1].child("TEMPLATE").is_some_and(Element::is_leaf));
        assert_eq!(users[1].text_of("MISSING/PATH"), None);
        assert_eq!(pool.text, "");
    }

    #[test]
    fn whitespace_between_elements_is_dropped() {
        let doc = "<?xml version=\"1.0\"?>\n<A>\n  <B> x </B>\n  <!-- c -->\n</A>\n";
        let a = Element::parse(doc).expect("parse");
        assert_eq!(a.text, "");
        assert_eq!(a.text_of("B"), Some(" x "));
        assert_eq!(a.find(""), Some(&a));
    }

    #[test]
    fn refuses_broken_documents() {
        for bad in [
            "",
            "   ",
            "<A>",
            "<A></B>",
            "<A/><B/>",
            "text<A/>",
            "<A>&nope;</A>",
            "<!DOCTYPE A [<!ENTITY x \"y\">]><A/>",
        ] {
            assert!(Element::parse(bad).is_err(), "accepted {bad:?}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        let err = Element::parse(&deep).expect_err("too deep");
        assert!(err.to_string().contains("nested deeper"), "{err}");
        let ok = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(Element::parse(&ok).is_ok());
    }
}
