//! The text-form grammar (`template_syntax.y`), as a hand-written loop:
//!
//! ```text
//! template  := { attribute }
//! attribute := NAME '=' VALUE
//!            | NAME '=' '[' [ NAME '=' VALUE { ',' NAME '=' VALUE } ] ']'
//!            | NAME '=' <newline or end>            ; empty value
//! ```
//!
//! It never recurses (vectors have one level) and each byte is looked at a
//! bounded number of times, so any input parses in linear time.
//!
//! Where oned's lexer is lax or ambiguous this parser decides:
//! * an unterminated quote is an error (flex would read it as an unquoted
//!   value starting with `"`);
//! * a character that starts no token is an error (flex would echo it and
//!   go on);
//! * `\r` counts as a blank;
//! * `KEY=` directly followed by `,`, `]` or a newline inside a vector is an
//!   empty value;
//! * a repeated key inside one vector keeps its first value, as oned's
//!   `map::insert` does;
//! * a key starting with a digit gets the `ONE_` prefix names get (oned
//!   keeps it, and then writes XML no client can read);
//! * a value holding a character XML 1.0 cannot carry is an error (oned
//!   would store it and then write XML no client can read). Names are
//!   `[[:alnum:]_]+`, so they cannot hold one.

use std::collections::HashSet;

use crate::error::{self, ParseError};
use crate::lexer::{Cursor, is_value_byte};
use crate::xml_chars::find_non_xml_char;
use crate::{Attribute, Template, Value, name};

/// Parses the text form.
pub(crate) fn parse(input: &str) -> Result<Template, ParseError> {
    let mut p = Parser {
        cur: Cursor::new(input),
    };
    let mut template = Template::new();
    loop {
        p.cur.skip_space();
        if p.cur.peek().is_none() {
            return Ok(template);
        }
        template.attrs.push(p.attribute()?);
    }
}

#[derive(Debug)]
struct Parser<'a> {
    cur: Cursor<'a>,
}

impl<'a> Parser<'a> {
    /// `NAME = value`, the cursor being on the first character of NAME.
    fn attribute(&mut self) -> Result<Attribute, ParseError> {
        let name = self.name("VARIABLE")?;
        self.cur.skip_space();
        self.equal("EQUAL or EQUAL_EMPTY")?;
        self.cur.skip_blanks();
        let value = match self.cur.peek() {
            None | Some(b'\n') => Value::Single(String::new()),
            Some(b'[') => {
                self.cur.bump();
                Value::Vector(self.vector()?)
            }
            Some(_) => Value::Single(self.value("STRING or OBRACKET")?),
        };
        Ok(Attribute {
            name: name::normalize(name),
            value,
        })
    }

    /// The pairs of a vector, the cursor being just after its `[`.
    fn vector(&mut self) -> Result<Vec<(String, String)>, ParseError> {
        let mut pairs = Vec::new();
        let mut seen = HashSet::new();
        self.cur.skip_space();
        if self.cur.peek() == Some(b']') {
            self.cur.bump();
            return Ok(pairs);
        }
        let mut expecting = "VARIABLE or CBRACKET";
        loop {
            let key = name::normalize_key(self.name(expecting)?);
            self.cur.skip_space();
            self.equal("EQUAL")?;
            self.cur.skip_blanks();
            let value = match self.cur.peek() {
                Some(b',' | b']' | b'\n') => String::new(),
                Some(b'[') => {
                    return Err(self.unexpected("STRING (vectors cannot be nested)"));
                }
                _ => self.value("STRING")?,
            };
            if seen.insert(key.clone()) {
                pairs.push((key, value));
            }
            self.cur.skip_space();
            match self.cur.peek() {
                Some(b',') => {
                    self.cur.bump();
                    self.cur.skip_space();
                    expecting = "VARIABLE";
                }
                Some(b']') => {
                    self.cur.bump();
                    return Ok(pairs);
                }
                _ => return Err(self.unexpected("COMMA or CBRACKET")),
            }
        }
    }

    /// A quoted or unquoted value. A value holding `]]>` is refused: it
    /// could not be written inside oned's CDATA sections; so is one holding a
    /// character XML cannot carry, at that character's position.
    fn value(&mut self, expecting: &str) -> Result<String, ParseError> {
        let start = self.cur.pos();
        let value = match self.cur.peek() {
            Some(b'"') => match self.cur.take_quoted() {
                Some(v) => v,
                None => {
                    return Err(error::text(
                        self.cur.src(),
                        start,
                        start + 1,
                        "syntax error, unterminated quoted value".to_owned(),
                    ));
                }
            },
            Some(b) if is_value_byte(b) => self.cur.take_unquoted().to_owned(),
            _ => return Err(self.unexpected(expecting)),
        };
        let raw = self
            .cur
            .src()
            .get(start..self.cur.pos())
            .unwrap_or_default();
        if let Some((at, c)) = find_non_xml_char(raw) {
            let at = start + at;
            return Err(error::text(
                self.cur.src(),
                at,
                at + c.len_utf8(),
                format!(
                    "syntax error, unexpected U+{:04X}, a character XML 1.0 does not allow",
                    u32::from(c)
                ),
            ));
        }
        if value.contains("]]>") {
            return Err(error::text(
                self.cur.src(),
                start,
                self.cur.pos(),
                "syntax error, unexpected CCDATA, a value cannot contain \"]]>\"".to_owned(),
            ));
        }
        Ok(value)
    }

    fn name(&mut self, expecting: &str) -> Result<&'a str, ParseError> {
        match self.cur.take_name() {
            Some(n) => Ok(n),
            None => Err(self.unexpected(expecting)),
        }
    }

    fn equal(&mut self, expecting: &str) -> Result<(), ParseError> {
        if self.cur.peek() == Some(b'=') {
            self.cur.bump();
            Ok(())
        } else {
            Err(self.unexpected(expecting))
        }
    }

    /// `syntax error, unexpected <token at cursor>, expecting <expecting>`.
    fn unexpected(&self, expecting: &str) -> ParseError {
        let (token, start, end) = self.cur.describe();
        error::text(
            self.cur.src(),
            start,
            end,
            format!("syntax error, unexpected {token}, expecting {expecting}"),
        )
    }
}
