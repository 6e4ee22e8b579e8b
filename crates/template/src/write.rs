//! Rendering a template: the text form (`NAME="value"` lines, readable and
//! parseable back) and the XML form, shaped exactly as oned writes it.

use crate::xml_chars::push_xml_text;
use crate::{Template, Value};

/// One `NAME="value"` line per attribute, in insertion order; a vector is
/// `NAME=[\n  K="v",\n  K2="v2" ]` and an empty one `NAME=[]`. Every value
/// is quoted, so whitespace, newlines and delimiters survive a round trip.
pub(crate) fn text(t: &Template) -> String {
    let mut out = String::new();
    for attr in t.attrs.iter().filter(|a| !a.name.is_empty()) {
        out.push_str(&attr.name);
        out.push('=');
        match &attr.value {
            Value::Single(v) => quote(v, &mut out),
            Value::Vector(pairs) if pairs.is_empty() => out.push_str("[]"),
            Value::Vector(pairs) => {
                out.push_str("[\n");
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    out.push_str("  ");
                    out.push_str(k);
                    out.push('=');
                    quote(v, &mut out);
                }
                out.push_str(" ]");
            }
        }
        out.push('\n');
    }
    out
}

/// `"value"` with `\` and `"` escaped as the parser unescapes them.
fn quote(v: &str, out: &mut String) {
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// `<ROOT>...</ROOT>` as oned's `Template::to_xml`: attributes sorted by
/// name (a stable sort, so repeated names keep their order), vector keys
/// sorted too, every value in CDATA, no whitespace; `<ROOT/>` when empty.
/// Nameless attributes and keys are skipped, as oned does for keys. A
/// character XML cannot carry, in a name or a value (of a template built in
/// code or stored before the parsers refused them), is written as U+FFFD.
pub(crate) fn xml(t: &Template, root: &str, out: &mut String) {
    let mut attrs: Vec<_> = t.attrs.iter().filter(|a| !a.name.is_empty()).collect();
    if attrs.is_empty() {
        out.push('<');
        out.push_str(root);
        out.push_str("/>");
        return;
    }
    attrs.sort_by(|a, b| a.name.cmp(&b.name));
    open(root, out);
    for attr in attrs {
        open(&attr.name, out);
        match &attr.value {
            Value::Single(v) => cdata(v, out),
            Value::Vector(pairs) => {
                let mut pairs: Vec<_> = pairs.iter().filter(|(k, _)| !k.is_empty()).collect();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                for (k, v) in pairs {
                    open(k, out);
                    cdata(v, out);
                    close(k, out);
                }
            }
        }
        close(&attr.name, out);
    }
    close(root, out);
}

fn open(name: &str, out: &mut String) {
    out.push('<');
    push_xml_text(out, name, |_| None);
    out.push('>');
}

fn close(name: &str, out: &mut String) {
    out.push_str("</");
    push_xml_text(out, name, |_| None);
    out.push('>');
}

/// `<![CDATA[v]]>`; a `]]>` inside `v` closes the section after `]]` and
/// opens a new one for `>`, so the output stays well-formed and reads back
/// as `v`. A character XML cannot carry is written as U+FFFD.
fn cdata(v: &str, out: &mut String) {
    out.push_str("<![CDATA[");
    let mut pieces = v.split("]]>");
    if let Some(first) = pieces.next() {
        push_xml_text(out, first, |_| None);
    }
    for piece in pieces {
        out.push_str("]]]]><![CDATA[>");
        push_xml_text(out, piece, |_| None);
    }
    out.push_str("]]>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_splits_terminator() {
        let mut out = String::new();
        cdata("a]]>b]]>", &mut out);
        assert_eq!(out, "<![CDATA[a]]]]><![CDATA[>b]]]]><![CDATA[>]]>");
    }

    #[test]
    fn quote_escapes() {
        let mut out = String::new();
        quote(r#"a"b\c"#, &mut out);
        assert_eq!(out, r#""a\"b\\c""#);
    }
}
