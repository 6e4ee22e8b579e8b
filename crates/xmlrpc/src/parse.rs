//! Parsing `<methodCall>` and `<methodResponse>` bodies.
//!
//! The body must be UTF-8 (an optional BOM and `<?xml …?>` declaration are skipped). quick-xml
//! tokenises it; this module checks the XML-RPC structure on top, in one pass:
//!
//! - whitespace and comments between structural elements are ignored, but the content of a
//!   `<string>`, `<name>`, `<methodName>` or untyped `<value>` is kept exactly (entity and
//!   character references and CDATA decoded, line ends not normalised);
//! - an untyped `<value>` (including `<value/>`) is a string; `<int>` and `<i4>` are the same;
//!   `<boolean>` takes `0`/`1`/`true`/`false`; integers may be padded with whitespace or carry a
//!   leading `+`, and out-of-range integers are errors;
//! - DTDs, processing instructions, unknown elements, stray text, trailing content after the
//!   root and arrays/structs nested more than [`MAX_DEPTH`] deep are rejected;
//! - so is any character XML 1.0 cannot carry (a C0 control other than tab, line feed and
//!   carriage return, U+FFFE, U+FFFF), raw anywhere in the body or as a character reference
//!   (`&#11;`, `&#xFFFE;`): such a value could never be written back into a reply.
//!
//! Recursion is bounded by [`MAX_DEPTH`], so no input can overflow the stack, and every step
//! consumes input, so the work is linear in the body's length.

use std::borrow::Cow;
use std::num::{IntErrorKind, ParseIntError};
use std::str::FromStr;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, Event};

use crate::error::{DecodeError, shorten, snippet};
use crate::value::{MethodCall, MethodResponse, Value};
use crate::xml_chars::{find_non_xml_char, is_xml_char};

/// How many arrays/structs may enclose one another. A container deeper than this is rejected.
pub const MAX_DEPTH: usize = 64;

/// Longest quick-xml error message kept, in characters (they may quote the input).
const XML_MESSAGE_CHARS: usize = 200;

/// Standard-alphabet base64 that accepts missing padding (whitespace is removed beforehand).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parse a `<methodCall>` body.
pub fn parse_call(body: &[u8]) -> Result<MethodCall, DecodeError> {
    let mut p = Parser::new(body)?;
    p.prolog("methodCall", "<methodCall>")?;
    let method = match p.tag("<methodName>")? {
        Tag::Start(name, _) if name == "methodName" => p.read_text()?,
        Tag::Start(name, position) if name != "params" => {
            return Err(DecodeError::UnexpectedElement {
                found: snippet(&name),
                expected: "<methodName>",
                position,
            });
        }
        _ => return Err(DecodeError::MissingMethodName),
    };
    if method.is_empty() {
        return Err(DecodeError::EmptyMethodName);
    }
    let params = match p.tag("<params> or </methodCall>")? {
        Tag::Start(name, _) if name == "params" => {
            let params = p.params()?;
            p.expect_end("methodCall", "</methodCall>")?;
            params
        }
        Tag::End(name, _) if name == "methodCall" => Vec::new(),
        other => return Err(other.unexpected("<params> or </methodCall>")),
    };
    p.epilogue()?;
    Ok(MethodCall { method, params })
}

/// Parse a `<methodResponse>` body: one value, or a `<fault>`.
pub fn parse_response(body: &[u8]) -> Result<MethodResponse, DecodeError> {
    let mut p = Parser::new(body)?;
    p.prolog("methodResponse", "<methodResponse>")?;
    let response = match p.tag("<params> or <fault>")? {
        Tag::Start(name, _) if name == "params" => {
            let mut params = p.params()?.into_iter();
            match (params.next(), params.len()) {
                (Some(value), 0) => MethodResponse::Success(value),
                (first, rest) => {
                    return Err(DecodeError::ResponseParamCount {
                        count: usize::from(first.is_some()) + rest,
                    });
                }
            }
        }
        Tag::Start(name, _) if name == "fault" => {
            p.expect_start("value", "<value>")?;
            let value = p.value(0)?;
            p.expect_end("fault", "</fault>")?;
            fault_from(value)?
        }
        other => return Err(other.unexpected("<params> or <fault>")),
    };
    p.expect_end("methodResponse", "</methodResponse>")?;
    p.epilogue()?;
    Ok(response)
}

/// The `faultCode`/`faultString` of a `<fault>`'s value.
fn fault_from(value: Value) -> Result<MethodResponse, DecodeError> {
    let invalid = |reason| DecodeError::InvalidFault { reason };
    let Value::Struct(members) = value else {
        return Err(invalid("value is not a struct"));
    };
    let (mut code, mut message) = (None, None);
    for (name, member) in members {
        match name.as_str() {
            "faultCode" => code = Some(member),
            "faultString" => message = Some(member),
            _ => {}
        }
    }
    let code = match code {
        Some(Value::Int(code)) => code,
        Some(Value::I8(code)) => {
            i32::try_from(code).map_err(|_| invalid("faultCode is out of range"))?
        }
        Some(_) => return Err(invalid("faultCode is not an int")),
        None => return Err(invalid("missing faultCode")),
    };
    let message = match message {
        Some(Value::String(message)) => message,
        Some(_) => return Err(invalid("faultString is not a string")),
        None => return Err(invalid("missing faultString")),
    };
    Ok(MethodResponse::Fault { code, message })
}

/// One token of the document, with the byte position where it starts.
enum Item<'a> {
    Start(String, u64),
    End(String, u64),
    /// Character data: a text run, a CDATA section or a resolved reference.
    Text(Cow<'a, str>, u64),
    Eof(u64),
}

/// A structural tag (whitespace between tags already skipped).
enum Tag {
    Start(String, u64),
    End(String, u64),
}

impl Tag {
    /// The error for meeting this tag where `expected` was required.
    fn unexpected(self, expected: &'static str) -> DecodeError {
        match self {
            Tag::Start(found, position) => DecodeError::UnexpectedElement {
                found: snippet(&found),
                expected,
                position,
            },
            Tag::End(found, position) => DecodeError::UnexpectedEnd {
                found: snippet(&found),
                expected,
                position,
            },
        }
    }
}

/// A cursor over one body.
struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    /// Bytes skipped before the reader's input (a BOM), added to every position.
    base: u64,
    /// Whether anything other than leading whitespace has been read (ends the place where an
    /// XML declaration may appear).
    past_decl: bool,
    /// The closing half of a self-closing tag, still to be reported.
    pending_end: Option<(String, u64)>,
}

impl<'a> Parser<'a> {
    fn new(body: &'a [u8]) -> Result<Self, DecodeError> {
        let text = std::str::from_utf8(body).map_err(|e| DecodeError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        let (text, base) = match text.strip_prefix('\u{feff}') {
            Some(rest) => (rest, 3),
            None => (text, 0),
        };
        if let Some((at, c)) = find_non_xml_char(text) {
            return Err(DecodeError::NotXmlChar {
                code: u32::from(c),
                position: base + at as u64,
            });
        }
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = true;
        config.check_end_names = true;
        Ok(Parser {
            reader,
            base,
            past_decl: false,
            pending_end: None,
        })
    }

    /// The next token, skipping comments and the leading XML declaration.
    fn item(&mut self) -> Result<Item<'a>, DecodeError> {
        if let Some((name, position)) = self.pending_end.take() {
            return Ok(Item::End(name, position));
        }
        loop {
            let position = self.base + self.reader.buffer_position();
            let event = self.reader.read_event().map_err(|e| DecodeError::Xml {
                position: self.base + self.reader.error_position(),
                message: shorten(&e.to_string(), XML_MESSAGE_CHARS),
            })?;
            let item = match event {
                Event::Comment(_) => continue,
                Event::Decl(_) if !self.past_decl => {
                    self.past_decl = true;
                    continue;
                }
                Event::Decl(_) | Event::PI(_) => {
                    return Err(DecodeError::ProcessingInstruction { position });
                }
                Event::DocType(_) => return Err(DecodeError::Doctype { position }),
                Event::Start(e) => Item::Start(element_name(e.name().as_ref()), position),
                Event::Empty(e) => {
                    let name = element_name(e.name().as_ref());
                    self.pending_end = Some((name.clone(), position));
                    Item::Start(name, position)
                }
                Event::End(e) => Item::End(element_name(e.name().as_ref()), position),
                Event::Text(t) => {
                    let text = t.decode().map_err(|e| xml_error(position, &e))?;
                    if text.chars().any(|c| !is_xml_space(c)) {
                        self.past_decl = true;
                    }
                    Item::Text(text, position)
                }
                Event::CData(c) => {
                    Item::Text(c.decode().map_err(|e| xml_error(position, &e))?, position)
                }
                Event::GeneralRef(r) => Item::Text(resolve_reference(&r, position)?, position),
                Event::Eof => Item::Eof(position),
            };
            if !matches!(item, Item::Text(..)) {
                self.past_decl = true;
            }
            return Ok(item);
        }
    }

    /// The next structural tag, skipping whitespace.
    fn tag(&mut self, expected: &'static str) -> Result<Tag, DecodeError> {
        loop {
            match self.item()? {
                Item::Start(name, position) => return Ok(Tag::Start(name, position)),
                Item::End(name, position) => return Ok(Tag::End(name, position)),
                Item::Text(text, position) => check_blank(&text, position, expected)?,
                Item::Eof(position) => {
                    return Err(DecodeError::UnexpectedEof { expected, position });
                }
            }
        }
    }

    /// Consume `<name>` (after optional whitespace).
    fn expect_start(&mut self, name: &str, expected: &'static str) -> Result<(), DecodeError> {
        match self.tag(expected)? {
            Tag::Start(found, _) if found == name => Ok(()),
            other => Err(other.unexpected(expected)),
        }
    }

    /// Consume `</name>` (after optional whitespace).
    fn expect_end(&mut self, name: &str, expected: &'static str) -> Result<(), DecodeError> {
        match self.tag(expected)? {
            Tag::End(found, _) if found == name => Ok(()),
            other => Err(other.unexpected(expected)),
        }
    }

    /// The character data up to the closing tag of the element just opened; no child
    /// elements allowed.
    /// The text of a `<string>` (its start tag consumed), read in one piece rather than
    /// event by event: large strings (whole XML documents) are the common case.
    fn read_string(&mut self, position: u64) -> Result<String, DecodeError> {
        if self.pending_end.is_some() {
            return self.read_text();
        }
        let raw = self
            .reader
            .read_text(quick_xml::name::QName(b"string"))
            .map_err(|e| DecodeError::Xml {
                position: self.base + self.reader.error_position(),
                message: shorten(&e.to_string(), XML_MESSAGE_CHARS),
            })?;
        self.past_decl = true;
        unescape_content(&raw, position)
    }

    fn read_text(&mut self) -> Result<String, DecodeError> {
        let mut out = String::new();
        loop {
            match self.item()? {
                Item::Text(text, _) => out.push_str(&text),
                Item::End(..) => return Ok(out),
                Item::Start(found, position) => {
                    return Err(DecodeError::UnexpectedElement {
                        found: snippet(&found),
                        expected: "text",
                        position,
                    });
                }
                Item::Eof(position) => {
                    return Err(DecodeError::UnexpectedEof {
                        expected: "a closing tag",
                        position,
                    });
                }
            }
        }
    }

    /// Skip to the root element, which must be `<root>`.
    fn prolog(&mut self, root: &str, expected: &'static str) -> Result<(), DecodeError> {
        loop {
            match self.item()? {
                Item::Start(name, _) if name == root => return Ok(()),
                Item::Start(found, position) => {
                    return Err(DecodeError::UnexpectedElement {
                        found: snippet(&found),
                        expected,
                        position,
                    });
                }
                Item::End(found, position) => {
                    return Err(DecodeError::UnexpectedEnd {
                        found: snippet(&found),
                        expected,
                        position,
                    });
                }
                Item::Text(text, position) => check_blank(&text, position, expected)?,
                Item::Eof(_) => return Err(DecodeError::Empty { expected }),
            }
        }
    }

    /// After the root element: only whitespace and comments may follow.
    fn epilogue(&mut self) -> Result<(), DecodeError> {
        loop {
            match self.item()? {
                Item::Eof(_) => return Ok(()),
                Item::Text(text, _) if text.chars().all(is_xml_space) => {}
                Item::Text(_, position) | Item::Start(_, position) | Item::End(_, position) => {
                    return Err(DecodeError::TrailingContent { position });
                }
            }
        }
    }

    /// The values of `<param>`s up to `</params>` (`<params>` already consumed).
    fn params(&mut self) -> Result<Vec<Value>, DecodeError> {
        let mut params = Vec::new();
        loop {
            match self.tag("<param> or </params>")? {
                Tag::Start(name, _) if name == "param" => {
                    self.expect_start("value", "<value>")?;
                    params.push(self.value(0)?);
                    self.expect_end("param", "</param>")?;
                }
                Tag::End(name, _) if name == "params" => return Ok(params),
                other => return Err(other.unexpected("<param> or </params>")),
            }
        }
    }

    /// The rest of a `<value>` element (its start tag already consumed), inside `depth`
    /// enclosing arrays/structs.
    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let mut text = String::new();
        let mut text_start = None;
        loop {
            match self.item()? {
                Item::Text(piece, position) => {
                    text_start.get_or_insert(position);
                    text.push_str(&piece);
                }
                Item::End(name, position) => {
                    if name != "value" {
                        return Err(DecodeError::UnexpectedEnd {
                            found: snippet(&name),
                            expected: "</value>",
                            position,
                        });
                    }
                    return Ok(Value::String(text));
                }
                Item::Start(name, position) => {
                    check_blank(&text, text_start.unwrap_or(position), "a typed value")?;
                    let value = self.typed(name, position, depth)?;
                    self.expect_end("value", "</value>")?;
                    return Ok(value);
                }
                Item::Eof(position) => {
                    return Err(DecodeError::UnexpectedEof {
                        expected: "</value>",
                        position,
                    });
                }
            }
        }
    }

    /// The typed element `<name>` inside a `<value>` (its start tag at `position` already
    /// consumed), inside `depth` enclosing arrays/structs.
    fn typed(&mut self, name: String, position: u64, depth: usize) -> Result<Value, DecodeError> {
        let value = match name.as_str() {
            "int" => Value::Int(parse_int(&self.read_text()?, "int", position)?),
            "i4" => Value::Int(parse_int(&self.read_text()?, "i4", position)?),
            "i8" => Value::I8(parse_int(&self.read_text()?, "i8", position)?),
            "boolean" => Value::Bool(parse_bool(&self.read_text()?, position)?),
            "double" => Value::Double(parse_double(&self.read_text()?, position)?),
            "string" => Value::String(self.read_string(position)?),
            "dateTime.iso8601" => Value::DateTime(trim_xml_space(&self.read_text()?).to_owned()),
            "base64" => Value::Base64(parse_base64(&self.read_text()?, position)?),
            "nil" => {
                let text = self.read_text()?;
                if !text.chars().all(is_xml_space) {
                    return Err(invalid_value("nil", &text, "must be empty", position));
                }
                Value::Nil
            }
            "array" | "struct" if depth >= MAX_DEPTH => {
                return Err(DecodeError::TooDeep {
                    limit: MAX_DEPTH,
                    position,
                });
            }
            "array" => Value::Array(self.array(depth + 1)?),
            "struct" => Value::Struct(self.members(depth + 1)?),
            _ => {
                return Err(DecodeError::UnknownType {
                    name: snippet(&name),
                    position,
                });
            }
        };
        Ok(value)
    }

    /// The rest of an `<array>` (start tag consumed) whose items sit at `depth`.
    /// `<array/>` (no `<data>`) is taken as empty.
    fn array(&mut self, depth: usize) -> Result<Vec<Value>, DecodeError> {
        match self.tag("<data>")? {
            Tag::End(name, _) if name == "array" => return Ok(Vec::new()),
            Tag::Start(name, _) if name == "data" => {}
            other => return Err(other.unexpected("<data>")),
        }
        let mut items = Vec::new();
        loop {
            match self.tag("<value> or </data>")? {
                Tag::Start(name, _) if name == "value" => items.push(self.value(depth)?),
                Tag::End(name, _) if name == "data" => break,
                other => return Err(other.unexpected("<value> or </data>")),
            }
        }
        self.expect_end("array", "</array>")?;
        Ok(items)
    }

    /// The rest of a `<struct>` (start tag consumed) whose members' values sit at `depth`.
    fn members(&mut self, depth: usize) -> Result<Vec<(String, Value)>, DecodeError> {
        let mut members = Vec::new();
        loop {
            match self.tag("<member> or </struct>")? {
                Tag::Start(name, _) if name == "member" => {
                    self.expect_start("name", "<name>")?;
                    let name = self.read_text()?;
                    self.expect_start("value", "<value>")?;
                    let value = self.value(depth)?;
                    self.expect_end("member", "</member>")?;
                    members.push((name, value));
                }
                Tag::End(name, _) if name == "struct" => return Ok(members),
                other => return Err(other.unexpected("<member> or </struct>")),
            }
        }
    }
}

/// An element name as text (the input is known to be UTF-8).
fn element_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// Resolve `&…;`: a character reference or one of XML's five predefined entities.
fn resolve_reference(r: &BytesRef<'_>, position: u64) -> Result<Cow<'static, str>, DecodeError> {
    let name = String::from_utf8_lossy(r);
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(Cow::Owned(c.to_string())),
            Ok(Some(c)) => Err(DecodeError::NotXmlChar {
                code: u32::from(c),
                position,
            }),
            _ => Err(DecodeError::InvalidCharRef {
                reference: snippet(&name),
                position,
            }),
        };
    }
    match resolve_predefined_entity(&name) {
        Some(text) => Ok(Cow::Borrowed(text)),
        None => Err(DecodeError::UnknownEntity {
            name: snippet(&name),
            position,
        }),
    }
}

/// Resolves the references of raw element content, keeps CDATA sections and drops
/// comments; an element inside is an error. Byte by byte: large values (whole XML
/// documents) have a reference every few bytes.
fn unescape_content(raw: &str, position: u64) -> Result<String, DecodeError> {
    let bytes = raw.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'&' => {
                let tail = &raw[i..];
                let Some(end) = tail.find(';') else {
                    return Err(DecodeError::UnknownEntity {
                        name: snippet(&tail[1..]),
                        position,
                    });
                };
                let name = &tail[1..end];
                match name {
                    "lt" => out.push(b'<'),
                    "gt" => out.push(b'>'),
                    "amp" => out.push(b'&'),
                    "quot" => out.push(b'"'),
                    "apos" => out.push(b'\''),
                    _ => {
                        let c = name.strip_prefix('#').and_then(|number| {
                            let code = match number.strip_prefix('x') {
                                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                                None => number.parse::<u32>().ok(),
                            };
                            code.and_then(char::from_u32).filter(|c| *c != '\0')
                        });
                        match (c, name.starts_with('#')) {
                            (Some(c), _) if !is_xml_char(c) => {
                                return Err(DecodeError::NotXmlChar {
                                    code: u32::from(c),
                                    position,
                                });
                            }
                            (Some(c), _) => {
                                let mut buf = [0u8; 4];
                                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            }
                            (None, true) => {
                                return Err(DecodeError::InvalidCharRef {
                                    reference: snippet(name),
                                    position,
                                });
                            }
                            (None, false) => {
                                return Err(DecodeError::UnknownEntity {
                                    name: snippet(name),
                                    position,
                                });
                            }
                        }
                    }
                }
                i += end + 1;
            }
            b'<' => {
                let tail = &raw[i..];
                if let Some(after) = tail.strip_prefix("<![CDATA[") {
                    let end = after.find("]]>").unwrap_or(after.len());
                    out.extend_from_slice(&after.as_bytes()[..end]);
                    i += "<![CDATA[".len() + (end + 3).min(after.len());
                } else if let Some(after) = tail.strip_prefix("<!--") {
                    let end = after.find("-->").unwrap_or(after.len());
                    i += "<!--".len() + (end + 3).min(after.len());
                } else {
                    let name: String = tail[1..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                        .collect();
                    return Err(DecodeError::UnexpectedElement {
                        found: snippet(&name),
                        expected: "text",
                        position,
                    });
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    // Whole characters were copied or pushed, so this is UTF-8 as `raw` was.
    String::from_utf8(out).map_err(|e| DecodeError::InvalidUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// XML's whitespace characters.
fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `text` without leading and trailing XML whitespace.
fn trim_xml_space(text: &str) -> &str {
    text.trim_matches(is_xml_space)
}

/// Fail unless `text` is only whitespace.
fn check_blank(text: &str, position: u64, expected: &'static str) -> Result<(), DecodeError> {
    if text.chars().all(is_xml_space) {
        Ok(())
    } else {
        Err(DecodeError::UnexpectedText {
            text: snippet(trim_xml_space(text)),
            expected,
            position,
        })
    }
}

fn invalid_value(
    kind: &'static str,
    text: &str,
    reason: &'static str,
    position: u64,
) -> DecodeError {
    DecodeError::InvalidValue {
        kind,
        text: snippet(text),
        reason,
        position,
    }
}

/// A whitespace-padded decimal integer with an optional sign (`+` or `-`).
fn parse_int<T: FromStr<Err = ParseIntError>>(
    text: &str,
    kind: &'static str,
    position: u64,
) -> Result<T, DecodeError> {
    trim_xml_space(text).parse().map_err(|e: ParseIntError| {
        let reason = match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "out of range",
            IntErrorKind::Empty => "empty",
            _ => "not an integer",
        };
        invalid_value(kind, text, reason, position)
    })
}

/// `0`, `1`, `true` or `false`, optionally padded with whitespace.
fn parse_bool(text: &str, position: u64) -> Result<bool, DecodeError> {
    match trim_xml_space(text) {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(invalid_value(
            "boolean",
            text,
            "expected 0, 1, true or false",
            position,
        )),
    }
}

fn parse_double(text: &str, position: u64) -> Result<f64, DecodeError> {
    trim_xml_space(text)
        .parse()
        .map_err(|_| invalid_value("double", text, "not a number", position))
}

/// Standard base64; whitespace (line breaks) ignored, padding optional.
fn parse_base64(text: &str, position: u64) -> Result<Vec<u8>, DecodeError> {
    let compact: String = text.chars().filter(|c| !is_xml_space(*c)).collect();
    BASE64
        .decode(compact)
        .map_err(|_| invalid_value("base64", text, "not valid base64", position))
}

fn xml_error(position: u64, e: &dyn std::fmt::Display) -> DecodeError {
    DecodeError::Xml {
        position,
        message: shorten(&e.to_string(), XML_MESSAGE_CHARS),
    }
}
