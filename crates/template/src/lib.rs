//! OpenNebula's template language: the `Template` data model and its API.
//!
//! A template is an ordered list of attributes; an attribute is either a
//! single string or a one-level vector of `KEY=value` pairs. Templates come
//! in two wire forms, both accepted by [`Template::parse`]:
//!
//! * text, as in `template_parser.l` / `template_syntax.y`
//!   (`NAME = "value"`, `DISK = [ IMAGE_ID = 3, TARGET = vda ]`);
//! * XML, as pyone sends it (`<TEMPLATE><NAME><![CDATA[x]]></NAME></TEMPLATE>`).
//!
//! Output is [`Template::to_text`] (quoted `NAME="value"` lines that parse
//! back to the same template) and [`Template::write_xml`] (the shape oned
//! writes: attributes sorted by name, values in CDATA). The XML form does not
//! keep insertion order: it reads back as the template sorted by name and
//! vector key.
//!
//! Neither parser accepts a character XML 1.0 cannot carry (a C0 control
//! other than tab, line feed and carriage return, U+FFFE, U+FFFF) in a name
//! or a value, raw or as a character reference: such a template could never
//! be written back as XML. The XML writer replaces any such character by
//! U+FFFD, so it only writes well-formed XML.
//!
//! Module map: `lexer` scans text bytes, `parse_text` is the grammar,
//! `parse_xml` reads the XML form, `write` renders both forms, `name` holds
//! the attribute-name rules, `error` the error type; `xml_chars` (the crate
//! `nubo-xmltext`, re-exported) the characters XML can carry.

mod error;
mod expression;
mod lexer;
mod name;
mod parse_text;
mod parse_xml;
mod write;
pub use nubo_xmltext as xml_chars;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use error::ParseError;
pub use expression::{ExprError, Rank, Requirements, Vars};

/// An OpenNebula template: attributes in insertion order, repeated names
/// kept (a VM has one `DISK` attribute per disk).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Template {
    pub attrs: Vec<Attribute>,
}

/// One `NAME = value` entry. Names are upper-cased; names that would not be
/// valid XML element names get OpenNebula's `ONE_` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub value: Value,
}

/// The value of an attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    /// `NAME = "value"`.
    Single(String),
    /// `NAME = [ K1 = v1, K2 = v2 ]`: keys upper-cased, order kept, each key
    /// at most once when it comes from a parser.
    Vector(Vec<(String, String)>),
}

impl Value {
    /// The string of a single value; `None` for a vector.
    pub fn as_single(&self) -> Option<&str> {
        match self {
            Value::Single(s) => Some(s),
            Value::Vector(_) => None,
        }
    }

    /// The pairs of a vector value; `None` for a single value.
    pub fn as_vector(&self) -> Option<&[(String, String)]> {
        match self {
            Value::Single(_) => None,
            Value::Vector(pairs) => Some(pairs),
        }
    }

    /// The value of `key` in a vector (key compared case-insensitively);
    /// `None` for a single value or a missing key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.as_vector()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

impl Attribute {
    /// A single attribute; the name is normalised as the parsers do.
    pub fn single(name: &str, value: impl Into<String>) -> Self {
        Attribute {
            name: name::normalize(name),
            value: Value::Single(value.into()),
        }
    }

    /// A vector attribute; the name is normalised and the keys upper-cased.
    pub fn vector<K, V>(name: &str, pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        Attribute {
            name: name::normalize(name),
            value: Value::Vector(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.as_ref().to_ascii_uppercase(), v.into()))
                    .collect(),
            ),
        }
    }
}

impl Template {
    /// An empty template.
    pub fn new() -> Self {
        Template::default()
    }

    /// Parses either form: input whose first non-whitespace character is
    /// `<` is XML, anything else is text. Blank input is an empty template.
    pub fn parse(input: &str) -> Result<Template, ParseError> {
        let rest = input.trim_start();
        if rest.is_empty() {
            Ok(Template::new())
        } else if rest.starts_with('<') {
            Template::parse_xml(input)
        } else {
            Template::parse_text(input)
        }
    }

    /// Parses the text form (`NAME = value` lines).
    pub fn parse_text(input: &str) -> Result<Template, ParseError> {
        parse_text::parse(input)
    }

    /// Parses the XML form. The root element's name is ignored; each child
    /// element becomes an attribute, a child with element children a vector.
    pub fn parse_xml(input: &str) -> Result<Template, ParseError> {
        parse_xml::parse(input)
    }

    /// The first single attribute called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).find_map(|a| a.value.as_single())
    }

    /// Every attribute called `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Attribute> {
        self.attrs
            .iter()
            .filter(move |a| name::matches(&a.name, name))
    }

    /// The pairs of every vector attribute called `name`, in order.
    pub fn vectors<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [(String, String)]> {
        self.get_all(name).filter_map(|a| a.value.as_vector())
    }

    /// Replaces every attribute called `name` with one single attribute.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.attrs.push(Attribute::single(name, value));
    }

    /// Appends an attribute, normalising its name and vector keys.
    pub fn push(&mut self, attr: Attribute) {
        let Attribute { name, value } = attr;
        let value = match value {
            Value::Single(s) => Value::Single(s),
            Value::Vector(pairs) => Value::Vector(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_uppercase(), v))
                    .collect(),
            ),
        };
        self.attrs.push(Attribute {
            name: name::normalize(&name),
            value,
        });
    }

    /// Removes every attribute called `name` and returns them in order.
    pub fn remove(&mut self, name: &str) -> Vec<Attribute> {
        let (removed, kept) = std::mem::take(&mut self.attrs)
            .into_iter()
            .partition(|a| name::matches(&a.name, name));
        self.attrs = kept;
        removed
    }

    /// OpenNebula's `append=1` update: every name present in `other`
    /// replaces all attributes of that name here; other names are kept.
    pub fn merge(&mut self, other: &Template) {
        let names: std::collections::HashSet<String> = other
            .attrs
            .iter()
            .map(|a| a.name.to_ascii_uppercase())
            .collect();
        self.attrs
            .retain(|a| !names.contains(&a.name.to_ascii_uppercase()));
        self.attrs.extend(other.attrs.iter().cloned());
    }

    /// True when the template has no attribute.
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    /// The text form: one `NAME="value"` line per attribute, in order;
    /// `parse_text(&t.to_text()) == Ok(t)` for every template whose names
    /// are valid and whose values do not contain `]]>`.
    pub fn to_text(&self) -> String {
        write::text(self)
    }

    /// Appends `<ROOT>...</ROOT>` the way oned writes a template.
    pub fn write_xml(&self, root: &str, out: &mut String) {
        write::xml(self, root, out);
    }

    /// The XML form under `root`, see [`Template::write_xml`].
    pub fn to_xml(&self, root: &str) -> String {
        let mut out = String::new();
        self.write_xml(root, &mut out);
        out
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl std::str::FromStr for Template {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::parse(s)
    }
}
