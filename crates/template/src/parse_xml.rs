//! The XML form, as pyone and oned write it:
//! `<TEMPLATE><NAME><![CDATA[x]]></NAME><DISK><IMAGE_ID>3</IMAGE_ID></DISK></TEMPLATE>`.
//!
//! The root's name and every XML attribute are ignored; every element's name
//! must be an XML name without a colon. A child of the root
//! becomes an attribute: a vector when it has element children, a single
//! value when it has text or CDATA, an empty vector when it has nothing at
//! all (`<V/>` or `<V></V>`, which is how an empty vector is written). A
//! grandchild is a `KEY=value` pair; anything deeper is an error, so depth
//! is bounded at three open elements.
//!
//! Values are text and CDATA concatenated, with the five predefined and the
//! numeric entities decoded; whitespace-only text next to CDATA (from
//! pretty-printing) is dropped. Line ends are not normalised, so a `\r`
//! written in a value reads back. A DOCTYPE is refused (no entity can be
//! declared), and so are unknown entities and any character XML 1.0 cannot
//! carry, raw anywhere in the input or as a character reference (`&#11;`).

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};

use crate::error::{self, ParseError};
use crate::xml_chars::{find_non_xml_char, is_xml_char};
use crate::{Attribute, Template, Value, name};

/// Parses the XML form.
pub(crate) fn parse(input: &str) -> Result<Template, ParseError> {
    if let Some((at, c)) = find_non_xml_char(input) {
        return Err(error::xml(input, at, not_allowed(c)));
    }
    let mut reader = Reader::from_str(input);
    reader.config_mut().trim_text(false);
    let mut builder = Builder::default();
    loop {
        let at = offset(reader.buffer_position());
        let event = reader
            .read_event()
            .map_err(|e| error::xml(input, offset(reader.error_position()), e.to_string()))?;
        let step = match event {
            Event::Start(e) => element_name(&e).and_then(|n| builder.start(n)),
            Event::Empty(e) => element_name(&e)
                .and_then(|n| builder.start(n))
                .and_then(|()| builder.end()),
            Event::End(_) => builder.end(),
            Event::Text(t) => t
                .decode()
                .map_err(|e| e.to_string())
                .and_then(|s| builder.text(&s, Piece::Text)),
            Event::CData(c) => c
                .decode()
                .map_err(|e| e.to_string())
                .and_then(|s| builder.text(&s, Piece::CData)),
            Event::GeneralRef(r) => resolve(&r).and_then(|s| builder.text(&s, Piece::Reference)),
            Event::DocType(_) => Err("a DOCTYPE is not allowed".to_owned()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => Ok(()),
            Event::Eof => {
                return builder.finish().map_err(|m| error::xml(input, at, m));
            }
        };
        step.map_err(|m| error::xml(input, at, m))?;
    }
}

fn offset(pos: u64) -> usize {
    usize::try_from(pos).unwrap_or(usize::MAX)
}

/// The element's name, which must be an XML name without a colon ([`name::is_xml_name`]):
/// quick-xml takes anything up to a blank or `>` (`<a&b>`), which would be written back
/// into replies as XML no client reads.
fn element_name(e: &BytesStart<'_>) -> Result<String, String> {
    let qname = e.name();
    let name = std::str::from_utf8(qname.as_ref())
        .map_err(|e| format!("element name is not UTF-8: {e}"))?;
    if !name::is_xml_name(name) {
        return Err(format!("<{name}> is not an XML element name"));
    }
    Ok(name.to_owned())
}

/// The text of `&name;` or `&#n;`.
fn resolve(r: &BytesRef<'_>) -> Result<String, String> {
    if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
        return if is_xml_char(c) {
            Ok(c.to_string())
        } else {
            Err(not_allowed(c))
        };
    }
    let entity = r.decode().map_err(|e| e.to_string())?;
    resolve_xml_entity(&entity)
        .map(str::to_owned)
        .ok_or_else(|| format!("unknown entity &{entity};"))
}

/// The message for a character XML cannot carry.
fn not_allowed(c: char) -> String {
    format!("character U+{:04X} is not allowed in XML 1.0", u32::from(c))
}

/// Where a piece of character data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Text,
    CData,
    Reference,
}

/// The character data of one element.
#[derive(Debug, Default)]
struct Text {
    /// Everything, in order.
    all: String,
    /// Everything but whitespace-only text pieces.
    significant: String,
    /// Some piece was seen (even an empty CDATA section).
    any: bool,
    /// Some piece was a CDATA section.
    cdata: bool,
}

impl Text {
    fn push(&mut self, s: &str, piece: Piece) {
        self.any = true;
        self.cdata |= piece == Piece::CData;
        self.all.push_str(s);
        if piece != Piece::Text || !is_whitespace(s) {
            self.significant.push_str(s);
        }
    }

    /// True when only whitespace text was seen: pretty-printing, which may
    /// sit next to child elements.
    fn is_blank(&self) -> bool {
        self.significant.is_empty() && !self.cdata
    }

    fn into_value(self) -> String {
        if self.cdata {
            self.significant
        } else {
            self.all
        }
    }
}

fn is_whitespace(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// A child of the root being read.
#[derive(Debug)]
struct Element {
    name: String,
    text: Text,
    pairs: Vec<(String, String)>,
    /// Position of each key in `pairs`: a repeated key replaces the value
    /// in place, as oned's `VectorAttribute::replace` does.
    index: HashMap<String, usize>,
}

/// A grandchild of the root (a vector key) being read.
#[derive(Debug)]
struct Leaf {
    name: String,
    text: Text,
}

/// Turns the event stream into attributes. `depth` is the number of open
/// elements: 1 inside the root, 2 inside an attribute, 3 inside a key.
#[derive(Debug, Default)]
struct Builder {
    depth: usize,
    root_done: bool,
    attrs: Vec<Attribute>,
    element: Option<Element>,
    leaf: Option<Leaf>,
}

impl Builder {
    fn start(&mut self, name: String) -> Result<(), String> {
        match self.depth {
            0 if self.root_done => return Err(format!("<{name}> is a second root element")),
            0 => {}
            1 => {
                self.element = Some(Element {
                    name,
                    text: Text::default(),
                    pairs: Vec::new(),
                    index: HashMap::new(),
                });
            }
            2 => {
                if let Some(element) = &mut self.element {
                    if !element.text.is_blank() {
                        return Err(format!("<{}> mixes text and elements", element.name));
                    }
                    element.text = Text::default();
                }
                self.leaf = Some(Leaf {
                    name,
                    text: Text::default(),
                });
            }
            _ => {
                return Err(format!(
                    "<{name}> is nested too deep: a vector holds only KEY=value elements"
                ));
            }
        }
        self.depth += 1;
        Ok(())
    }

    fn end(&mut self) -> Result<(), String> {
        match self.depth {
            0 => return Err("closing tag without an opening one".to_owned()),
            1 => self.root_done = true,
            2 => {
                if let Some(e) = self.element.take() {
                    let value = if !e.pairs.is_empty() {
                        Value::Vector(e.pairs)
                    } else if e.text.any {
                        Value::Single(e.text.into_value())
                    } else {
                        Value::Vector(Vec::new())
                    };
                    self.attrs.push(Attribute {
                        name: name::normalize(&e.name),
                        value,
                    });
                }
            }
            _ => {
                if let (Some(leaf), Some(element)) = (self.leaf.take(), &mut self.element) {
                    let key = leaf.name.to_ascii_uppercase();
                    let value = leaf.text.into_value();
                    match element.index.get(&key) {
                        Some(&i) => {
                            if let Some(pair) = element.pairs.get_mut(i) {
                                pair.1 = value;
                            }
                        }
                        None => {
                            element.index.insert(key.clone(), element.pairs.len());
                            element.pairs.push((key, value));
                        }
                    }
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn text(&mut self, s: &str, piece: Piece) -> Result<(), String> {
        let ignorable = piece == Piece::Text && is_whitespace(s);
        match (self.depth, &mut self.element, &mut self.leaf) {
            (2, Some(element), _) if !element.pairs.is_empty() => {
                if ignorable {
                    Ok(())
                } else {
                    Err(format!("<{}> mixes text and elements", element.name))
                }
            }
            (2, Some(element), _) => {
                element.text.push(s, piece);
                Ok(())
            }
            (3, _, Some(leaf)) => {
                leaf.text.push(s, piece);
                Ok(())
            }
            _ if ignorable => Ok(()),
            _ => Err("text outside an attribute element".to_owned()),
        }
    }

    fn finish(self) -> Result<Template, String> {
        if self.depth > 0 {
            return Err("unexpected end of input: an element is not closed".to_owned());
        }
        if !self.root_done {
            return Err("no root element".to_owned());
        }
        Ok(Template { attrs: self.attrs })
    }
}
