//! [`DecodeError`]: why a body is not a valid XML-RPC call or response, and where.
//!
//! Positions are byte offsets into the body. Texts quoted from the input are shortened so a
//! hostile body cannot make the message huge.

use crate::fault;

/// Why a body could not be decoded. Every variant maps to xmlrpc-c's parse fault
/// ([`fault::PARSE`], see [`DecodeError::fault_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is not UTF-8.
    #[error("body is not valid utf-8: bad byte at offset {offset}")]
    InvalidUtf8 {
        /// Offset of the first byte that is not part of a valid UTF-8 sequence.
        offset: usize,
    },
    /// The body is not well-formed XML.
    #[error("malformed xml at byte {position}: {message}")]
    Xml {
        /// Where the XML parser gave up.
        position: u64,
        /// The XML parser's own description.
        message: String,
    },
    /// A `<!DOCTYPE …>` (and with it any entity declaration) was present.
    #[error("document type declarations are not allowed (at byte {position})")]
    Doctype {
        /// Where the declaration starts.
        position: u64,
    },
    /// A processing instruction other than the leading `<?xml …?>` declaration.
    #[error("processing instruction not allowed at byte {position}")]
    ProcessingInstruction {
        /// Where it starts.
        position: u64,
    },
    /// The body holds no root element.
    #[error("empty document: expected <{expected}>")]
    Empty {
        /// The root element that was expected.
        expected: &'static str,
    },
    /// An element that does not belong where it appears.
    #[error("unexpected element <{found}> at byte {position}, expected {expected}")]
    UnexpectedElement {
        /// The element's name, shortened.
        found: String,
        /// What was expected instead.
        expected: &'static str,
        /// Where the element starts.
        position: u64,
    },
    /// A closing tag where something else was required.
    #[error("unexpected closing tag </{found}> at byte {position}, expected {expected}")]
    UnexpectedEnd {
        /// The closing tag's name.
        found: String,
        /// What was expected instead.
        expected: &'static str,
        /// Where the tag starts.
        position: u64,
    },
    /// The document ended early.
    #[error("unexpected end of document at byte {position}, expected {expected}")]
    UnexpectedEof {
        /// What was expected.
        expected: &'static str,
        /// The document's length.
        position: u64,
    },
    /// Non-whitespace text between structural elements.
    #[error("unexpected text {text:?} at byte {position}, expected {expected}")]
    UnexpectedText {
        /// The text, shortened.
        text: String,
        /// What was expected instead.
        expected: &'static str,
        /// Where the text starts.
        position: u64,
    },
    /// `<value>` holds an element that is not an XML-RPC type.
    #[error("unknown value type <{name}> at byte {position}")]
    UnknownType {
        /// The element's name, shortened.
        name: String,
        /// Where the element starts.
        position: u64,
    },
    /// The call has no `<methodName>`.
    #[error("method call has no <methodName>")]
    MissingMethodName,
    /// The call's `<methodName>` is empty.
    #[error("method call has an empty <methodName>")]
    EmptyMethodName,
    /// Arrays/structs nested deeper than [`crate::MAX_DEPTH`].
    #[error("values nested deeper than {limit} levels at byte {position}")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
        /// Where the container that crosses the limit starts.
        position: u64,
    },
    /// Something other than whitespace or comments after the root element.
    #[error("trailing content after the root element at byte {position}")]
    TrailingContent {
        /// Where the content starts.
        position: u64,
    },
    /// A scalar whose text does not fit its type.
    #[error("invalid <{kind}> value {text:?} at byte {position}: {reason}")]
    InvalidValue {
        /// The type element's name.
        kind: &'static str,
        /// The text, shortened.
        text: String,
        /// Why it was rejected.
        reason: &'static str,
        /// Where the type element starts.
        position: u64,
    },
    /// An `&name;` that is not one of XML's five predefined entities.
    #[error("unknown entity reference &{name}; at byte {position}")]
    UnknownEntity {
        /// The entity's name, shortened.
        name: String,
        /// Where the reference starts.
        position: u64,
    },
    /// A `&#…;` that does not name a valid character.
    #[error("invalid character reference &{reference}; at byte {position}")]
    InvalidCharRef {
        /// The reference's text, shortened.
        reference: String,
        /// Where the reference starts.
        position: u64,
    },
    /// A character XML 1.0 cannot carry (a C0 control other than tab, line feed and carriage
    /// return, U+FFFE or U+FFFF), raw or as a character reference.
    #[error("character U+{code:04X} at byte {position} is not allowed in XML 1.0")]
    NotXmlChar {
        /// The character's code point.
        code: u32,
        /// Where the character (or the element holding the reference) starts.
        position: u64,
    },
    /// A `<methodResponse>` with no `<param>` or more than one.
    #[error("method response must hold exactly one <param>, found {count}")]
    ResponseParamCount {
        /// How many `<param>`s it held.
        count: usize,
    },
    /// A `<fault>` whose value is not a struct with an int `faultCode` and a string
    /// `faultString`.
    #[error("invalid fault: {reason}")]
    InvalidFault {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl DecodeError {
    /// The XML-RPC fault code a server answers with for this error (xmlrpc-c's parse error).
    pub fn fault_code(&self) -> i32 {
        fault::PARSE
    }
}

/// Longest quoted excerpt of the input an error message carries, in characters.
const SNIPPET_CHARS: usize = 40;

/// `text`, shortened to [`SNIPPET_CHARS`] characters (with `…` when cut).
pub(crate) fn snippet(text: &str) -> String {
    shorten(text, SNIPPET_CHARS)
}

/// `text`, cut to `max` characters (with `…` when cut).
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_shortens_long_text_on_char_boundaries() {
        assert_eq!(snippet("short"), "short");
        let long = "é".repeat(100);
        let s = snippet(&long);
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn messages_are_lowercase_and_locate_the_problem() {
        let e = DecodeError::InvalidValue {
            kind: "int",
            text: "abc".into(),
            reason: "not an integer",
            position: 12,
        };
        assert_eq!(
            e.to_string(),
            "invalid <int> value \"abc\" at byte 12: not an integer"
        );
        assert_eq!(e.fault_code(), fault::PARSE);
    }
}
