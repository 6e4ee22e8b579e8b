//! The characters XML 1.0 can carry. Every reader of XML that users write (the XML-RPC
//! decoder, the template parsers, the EC2 front end's parameters) refuses the others, and
//! every writer (XML-RPC replies and faults, reply documents, templates' XML form, EC2
//! replies) replaces them by U+FFFD, with these functions, so that no object can make a
//! reply that is not well-formed.
//!
//! XML 1.0 allows `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`,
//! raw or as a character reference. A Rust string cannot hold a surrogate, so what it can hold
//! and XML cannot is the C0 controls other than tab, line feed and carriage return, and
//! U+FFFE and U+FFFF. Both scans work on bytes: those characters are the ASCII bytes
//! `0x00-0x08`, `0x0B`, `0x0C`, `0x0E-0x1F` and the UTF-8 sequences `EF BF BE` and `EF BF BF`,
//! so a large document is looked at once, byte by byte, without decoding it.

/// What a character XML cannot carry is written as.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Whether XML 1.0 can carry `c` (raw or as a character reference).
pub fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// The byte offset and the character of the first character of `text` XML cannot carry.
pub fn find_non_xml_char(text: &str) -> Option<(usize, char)> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find_map(|at| {
        let len = non_xml_len(bytes, at);
        (len > 0)
            .then(|| text.get(at..).and_then(|rest| rest.chars().next()))
            .flatten()
            .map(|c| (at, c))
    })
}

/// Appends `text` to `out` with each ASCII byte that `escape` maps replaced by its text (an
/// entity reference, say) and each character XML cannot carry replaced by [`REPLACEMENT`].
/// `escape` is asked about ASCII bytes only, so every cut falls on a character boundary.
pub fn push_xml_text(out: &mut String, text: &str, escape: impl Fn(u8) -> Option<&'static str>) {
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        let (replacement, len) = match non_xml_len(bytes, at) {
            0 if b.is_ascii() => match escape(b) {
                Some(replacement) => (replacement, 1),
                None => {
                    at += 1;
                    continue;
                }
            },
            0 => {
                at += 1;
                continue;
            }
            len => ("\u{FFFD}", len),
        };
        out.push_str(text.get(plain_from..at).unwrap_or_default());
        out.push_str(replacement);
        at += len;
        plain_from = at;
    }
    out.push_str(text.get(plain_from..).unwrap_or_default());
}

/// `text` with each character XML cannot carry replaced by [`REPLACEMENT`] (borrowed when
/// there is none).
pub fn xml_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if find_non_xml_char(text).is_none() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 2);
    push_xml_text(&mut out, text, |_| None);
    std::borrow::Cow::Owned(out)
}

/// How many bytes the character XML cannot carry at `at` takes (0 when the byte there does not
/// start one). `bytes` is valid UTF-8, so `0xEF` always starts a three-byte sequence.
fn non_xml_len(bytes: &[u8], at: usize) -> usize {
    match bytes.get(at) {
        Some(0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F) => 1,
        Some(0xEF)
            if bytes.get(at + 1) == Some(&0xBF)
                && matches!(bytes.get(at + 2), Some(0xBE | 0xBF)) =>
        {
            3
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xml_1_0_char_production() {
        for c in [
            '\t', '\n', '\r', ' ', 'a', '\u{7f}', '\u{85}', '\u{D7FF}', '\u{E000}',
        ] {
            assert!(is_xml_char(c), "{c:?}");
        }
        for c in ['\u{FFFD}', '\u{FEFF}', '\u{10000}', '\u{10FFFF}', 'é', '🦀'] {
            assert!(is_xml_char(c), "{c:?}");
        }
        for c in ['\0', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{e}', '\u{1f}'] {
            assert!(!is_xml_char(c), "{c:?}");
        }
        assert!(!is_xml_char('\u{FFFE}'));
        assert!(!is_xml_char('\u{FFFF}'));
    }

    #[test]
    fn the_byte_scan_agrees_with_the_char_rule_on_every_char() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let text = format!("ab{c}d");
            let found = find_non_xml_char(&text);
            assert_eq!(found, (!is_xml_char(c)).then_some((2, c)), "{c:?}");
        }
    }

    #[test]
    fn replaces_and_escapes() {
        let mut out = String::new();
        let escape = |b| (b == b'&').then_some("&amp;");
        push_xml_text(&mut out, "a\u{b}&\u{FFFE}é\u{FFFF}\u{FFFD}\u{1}", escape);
        assert_eq!(out, "a\u{FFFD}&amp;\u{FFFD}é\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(xml_safe("plain"), std::borrow::Cow::Borrowed("plain"));
        assert_eq!(xml_safe("x\u{0}y"), "x\u{FFFD}y");
        assert_eq!(find_non_xml_char("ok\t\r\n"), None);
        assert_eq!(find_non_xml_char("é\u{FFFF}"), Some((2, '\u{FFFF}')));
    }
}
