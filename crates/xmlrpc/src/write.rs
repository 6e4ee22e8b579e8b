//! Serialising calls and responses: exact types, no whitespace between elements, an
//! `<?xml version="1.0"?>` header as xmlrpc-c sends.
//!
//! Text is escaped minimally (`&`, `<`, `>`) plus `\r` as `&#13;`, so carriage returns survive
//! the end-of-line normalisation other XML parsers apply. A character XML cannot carry (see
//! [`crate::xml_chars`]) is written as U+FFFD, in every string, name and fault message, so
//! every document written is well-formed. Doubles use Rust's shortest round-trip decimal
//! form, which never has an exponent (as XML-RPC requires).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::value::{MethodCall, MethodResponse, Value};
use crate::xml_chars::push_xml_text;

/// The XML declaration that starts every document.
const XML_DECL: &str = "<?xml version=\"1.0\"?>";

/// Serialise a `<methodCall>`.
pub fn write_call(call: &MethodCall) -> String {
    let mut out = String::with_capacity(128);
    out.push_str(XML_DECL);
    out.push_str("<methodCall><methodName>");
    push_escaped(&mut out, &call.method);
    out.push_str("</methodName><params>");
    for param in &call.params {
        out.push_str("<param><value>");
        push_value(&mut out, param);
        out.push_str("</value></param>");
    }
    out.push_str("</params></methodCall>");
    out
}

/// Serialise a `<methodResponse>`, either one value or a `<fault>`.
pub fn write_response(resp: &MethodResponse) -> String {
    let mut out = String::with_capacity(128 + size_hint(resp));
    out.push_str(XML_DECL);
    match resp {
        MethodResponse::Success(value) => {
            out.push_str("<methodResponse><params><param><value>");
            push_value(&mut out, value);
            out.push_str("</value></param></params></methodResponse>");
        }
        MethodResponse::Fault { code, message } => {
            out.push_str(
                "<methodResponse><fault><value><struct>\
                 <member><name>faultCode</name><value><int>",
            );
            out.push_str(&code.to_string());
            out.push_str(
                "</int></value></member>\
                 <member><name>faultString</name><value><string>",
            );
            push_escaped(&mut out, message);
            out.push_str(
                "</string></value></member>\
                 </struct></value></fault></methodResponse>",
            );
        }
    }
    out
}

/// About how long the strings of a response are once escaped (a tenth more than their
/// length), so a large reply is written without growing its buffer again and again.
fn size_hint(resp: &MethodResponse) -> usize {
    fn len(v: &Value) -> usize {
        match v {
            Value::String(s) => s.len() + s.len() / 10,
            Value::EscapedString(s) => s.len(),
            Value::Array(items) => items.iter().map(len).sum::<usize>() + 32 * items.len(),
            _ => 32,
        }
    }
    match resp {
        MethodResponse::Success(v) => len(v),
        MethodResponse::Fault { message, .. } => message.len(),
    }
}

/// Append the typed content of a `<value>` element (without the `<value>` tags themselves).
fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Int(i) => push_scalar(out, "i4", &i.to_string()),
        Value::I8(i) => push_scalar(out, "i8", &i.to_string()),
        Value::Bool(b) => push_scalar(out, "boolean", if *b { "1" } else { "0" }),
        Value::Double(d) => push_scalar(out, "double", &d.to_string()),
        Value::String(s) => {
            out.push_str("<string>");
            push_escaped(out, s);
            out.push_str("</string>");
        }
        Value::EscapedString(s) => {
            out.push_str("<string>");
            // Already escaped; only characters XML cannot carry are replaced, so a writer
            // upstream that let one through cannot make the reply unreadable.
            push_xml_text(out, s, |_| None);
            out.push_str("</string>");
        }
        Value::DateTime(s) => {
            out.push_str("<dateTime.iso8601>");
            push_escaped(out, s);
            out.push_str("</dateTime.iso8601>");
        }
        Value::Base64(bytes) => push_scalar(out, "base64", &STANDARD.encode(bytes)),
        Value::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                out.push_str("<value>");
                push_value(out, item);
                out.push_str("</value>");
            }
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, member) in members {
                out.push_str("<member><name>");
                push_escaped(out, name);
                out.push_str("</name><value>");
                push_value(out, member);
                out.push_str("</value></member>");
            }
            out.push_str("</struct>");
        }
        Value::Nil => out.push_str("<nil/>"),
    }
}

/// Append `<tag>text</tag>` for text that needs no escaping.
fn push_scalar(out: &mut String, tag: &str, text: &str) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
    out.push_str(text);
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Append `text` with `&`, `<`, `>` and `\r` replaced by references and each character XML
/// cannot carry by U+FFFD: the text of an XML-RPC `<string>`.
pub fn push_escaped(out: &mut String, text: &str) {
    push_xml_text(out, text, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#13;"),
        _ => None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{failure, success};

    const DECL: &str = "<?xml version=\"1.0\"?>";

    fn resp(v: Value) -> String {
        write_response(&MethodResponse::Success(v))
    }

    fn body(inner: &str) -> String {
        format!(
            "{DECL}<methodResponse><params><param><value>{inner}</value></param></params></methodResponse>"
        )
    }

    #[test]
    fn scalars_use_exact_types() {
        assert_eq!(resp(Value::Int(-7)), body("<i4>-7</i4>"));
        assert_eq!(resp(Value::I8(1 << 40)), body("<i8>1099511627776</i8>"));
        assert_eq!(resp(Value::Bool(true)), body("<boolean>1</boolean>"));
        assert_eq!(resp(Value::Bool(false)), body("<boolean>0</boolean>"));
        assert_eq!(resp(Value::Double(1.5)), body("<double>1.5</double>"));
        assert_eq!(
            resp(Value::Double(1e21)),
            body("<double>1000000000000000000000</double>")
        );
        assert_eq!(resp(Value::from("hi")), body("<string>hi</string>"));
        assert_eq!(
            resp(Value::DateTime("20250101T00:00:00".into())),
            body("<dateTime.iso8601>20250101T00:00:00</dateTime.iso8601>")
        );
        assert_eq!(
            resp(Value::Base64(b"hello".to_vec())),
            body("<base64>aGVsbG8=</base64>")
        );
        assert_eq!(resp(Value::Nil), body("<nil/>"));
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            resp(Value::from("a<b>&c\r\n]]>é\"'")),
            body("<string>a&lt;b&gt;&amp;c&#13;\n]]&gt;é\"'</string>")
        );
    }

    #[test]
    fn containers() {
        assert_eq!(
            resp(Value::Array(vec![Value::Int(1), Value::from("x")])),
            body(
                "<array><data><value><i4>1</i4></value><value><string>x</string></value></data></array>"
            )
        );
        assert_eq!(
            resp(Value::Array(vec![])),
            body("<array><data></data></array>")
        );
        assert_eq!(
            resp(Value::Struct(vec![("a&b".into(), Value::Nil)])),
            body("<struct><member><name>a&amp;b</name><value><nil/></value></member></struct>")
        );
    }

    #[test]
    fn fault_shape() {
        let text = write_response(&MethodResponse::Fault {
            code: -506,
            message: "no such method <x>".into(),
        });
        assert_eq!(
            text,
            format!(
                "{DECL}<methodResponse><fault><value><struct><member><name>faultCode</name>\
                 <value><int>-506</int></value></member><member><name>faultString</name>\
                 <value><string>no such method &lt;x&gt;</string></value></member></struct>\
                 </value></fault></methodResponse>"
            )
        );
    }

    #[test]
    fn opennebula_replies() {
        assert_eq!(
            write_response(&success(Value::Int(3))),
            body(
                "<array><data><value><boolean>1</boolean></value><value><i4>3</i4></value><value><i4>0</i4></value></data></array>"
            )
        );
        assert_eq!(
            write_response(&failure("bad", 1024, 5)),
            body(
                "<array><data><value><boolean>0</boolean></value><value><string>bad</string></value><value><i4>1024</i4></value><value><i4>5</i4></value><value><i8>-1</i8></value></data></array>"
            )
        );
    }

    #[test]
    fn calls() {
        let call = MethodCall {
            method: "one.vm.info".into(),
            params: vec![Value::from("oneadmin:pw"), Value::Int(9)],
        };
        assert_eq!(
            write_call(&call),
            format!(
                "{DECL}<methodCall><methodName>one.vm.info</methodName><params>\
                 <param><value><string>oneadmin:pw</string></value></param>\
                 <param><value><i4>9</i4></value></param></params></methodCall>"
            )
        );
        let empty = MethodCall {
            method: "one.system.version".into(),
            params: vec![],
        };
        assert_eq!(
            write_call(&empty),
            format!(
                "{DECL}<methodCall><methodName>one.system.version</methodName><params></params></methodCall>"
            )
        );
    }
}
