//! Byte-level scanning of the text form: the character classes of
//! OpenNebula's `template_parser.l`, quoted-value unescaping, and how the
//! token at a position is named in an error message.
//!
//! Every delimiter is ASCII, so every offset the cursor stops at is a UTF-8
//! character boundary and slicing the input there cannot fail.

/// A forward-only cursor over the input. Nothing here recurses or looks
/// back, so a scan is linear in the input length.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

/// A blank: space and tab, as `[:blank:]`, plus `\r` so that CRLF files
/// read like LF ones.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

/// A character of a name: `[[:alnum:]_]`.
pub(crate) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A character of an unquoted value: `[^=#[:blank:]\n,\[\]]`.
pub(crate) fn is_value_byte(b: u8) -> bool {
    !(is_blank(b) || matches!(b, b'=' | b'#' | b'\n' | b',' | b'[' | b']'))
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Cursor {
            src,
            bytes: src.as_bytes(),
            pos: 0,
        }
    }

    /// The whole input, for error positions.
    pub(crate) fn src(&self) -> &'a str {
        self.src
    }

    /// Byte offset of the next unread character.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Consumes one ASCII byte (callers only bump past bytes they peeked).
    pub(crate) fn bump(&mut self) {
        if self.pos < self.bytes.len() {
            self.pos += 1;
        }
    }

    /// Skips blanks on the current line.
    pub(crate) fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    /// Skips blanks, newlines and `#` comments (to the end of their line).
    pub(crate) fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            if is_blank(b) || b == b'\n' {
                self.pos += 1;
            } else if b == b'#' {
                while self.peek().is_some_and(|b| b != b'\n') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Consumes `[[:alnum:]_]+`, or nothing.
    pub(crate) fn take_name(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_name_byte) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.slice(start, self.pos))
    }

    /// Consumes an unquoted value, `[^=#[:blank:]\n,\[\]]*`, verbatim.
    pub(crate) fn take_unquoted(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_value_byte) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    /// Consumes a quoted value, the cursor being on its opening `"`.
    /// `\"` is a quote and `\\` a backslash; any other backslash is kept
    /// as is (`C:\dir` stays `C:\dir`). A value may span lines. On a missing
    /// closing quote, returns `None` and leaves the cursor at the end.
    pub(crate) fn take_quoted(&mut self) -> Option<String> {
        self.pos += 1;
        let mut out = String::new();
        let mut seg = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b'"' => {
                    out.push_str(self.slice(seg, self.pos));
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => match self.bytes.get(self.pos + 1) {
                    Some(&esc @ (b'"' | b'\\')) => {
                        out.push_str(self.slice(seg, self.pos));
                        out.push(char::from(esc));
                        self.pos += 2;
                        seg = self.pos;
                    }
                    _ => self.pos += 1,
                },
                _ => self.pos += 1,
            }
        }
        None
    }

    /// Names the token at the cursor the way bison names tokens, and the
    /// byte span it covers, for "unexpected ..." messages.
    pub(crate) fn describe(&self) -> (String, usize, usize) {
        let start = self.pos;
        let Some(b) = self.peek() else {
            return ("$end".to_owned(), start, start);
        };
        let name = match b {
            b'=' => "EQUAL",
            b',' => "COMMA",
            b'[' => "OBRACKET",
            b']' => "CBRACKET",
            b'"' => "STRING",
            b'\n' => "newline",
            b if is_name_byte(b) => {
                let mut end = start;
                while self.bytes.get(end).copied().is_some_and(is_name_byte) {
                    end += 1;
                }
                return ("VARIABLE".to_owned(), start, end);
            }
            _ => {
                let c = self.src.get(start..).and_then(|s| s.chars().next());
                let len = c.map_or(1, char::len_utf8);
                let shown = c.map_or_else(String::new, |c| c.escape_debug().to_string());
                return (format!("'{shown}'"), start, start + len);
            }
        };
        (name.to_owned(), start, start + 1)
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_unescapes_quote_and_backslash_only() {
        let mut c = Cursor::new(r#""a\"b\\c\d" rest"#);
        assert_eq!(c.take_quoted(), Some(r#"a"b\c\d"#.to_owned()));
        assert_eq!(c.peek(), Some(b' '));
    }

    #[test]
    fn quoted_unterminated() {
        let mut c = Cursor::new(r#""abc\""#);
        assert_eq!(c.take_quoted(), None);
    }

    #[test]
    fn unquoted_stops_at_delimiters() {
        for (input, want) in [
            ("abc def", "abc"),
            ("a\"b,c", "a\"b"),
            ("x]y", "x"),
            ("é€=", "é€"),
            ("v#c", "v"),
            ("v\r\n", "v"),
        ] {
            let mut c = Cursor::new(input);
            assert_eq!(c.take_unquoted(), want, "{input:?}");
        }
    }

    #[test]
    fn skip_space_skips_comments() {
        let mut c = Cursor::new("  # comment = [\n\t\r\n# last");
        c.skip_space();
        assert_eq!(c.peek(), None);
    }

    #[test]
    fn describe_tokens() {
        assert_eq!(Cursor::new("").describe(), ("$end".to_owned(), 0, 0));
        assert_eq!(
            Cursor::new("ab1 x").describe(),
            ("VARIABLE".to_owned(), 0, 3)
        );
        assert_eq!(Cursor::new("=").describe().0, "EQUAL");
        assert_eq!(Cursor::new("€").describe(), ("'€'".to_owned(), 0, 3));
    }
}
