//! The parse error of both template forms, and the byte offset to
//! line/column arithmetic its messages need.

/// Why a template did not parse.
///
/// The text variant reads like oned's own message,
/// `Parse error: syntax error, unexpected VARIABLE, expecting EQUAL or
/// EQUAL_EMPTY at line 2, columns 1:6`, so it can be sent to clients as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text form broke the grammar. Lines and columns count from 1;
    /// the columns are the first and last character of the offending token.
    #[error("Parse error: {message} at line {line}, columns {first_column}:{last_column}")]
    Text {
        message: String,
        line: usize,
        first_column: usize,
        last_column: usize,
    },
    /// The XML form was malformed, or shaped in a way a template cannot
    /// hold (nesting deeper than a vector, a DOCTYPE, unknown entities...).
    #[error("Parse error: XML template: {message} at line {line}, column {column}")]
    Xml {
        message: String,
        line: usize,
        column: usize,
    },
}

/// A 1-based line and column (in characters) of a byte offset in `input`.
pub(crate) fn line_column(input: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(input.len());
    while !input.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = input.get(..offset).unwrap_or_default();
    let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = 1 + before.get(line_start..).unwrap_or_default().chars().count();
    (line, column)
}

/// A text-form error about the bytes `start..end` of `input`.
pub(crate) fn text(input: &str, start: usize, end: usize, message: String) -> ParseError {
    let (line, first_column) = line_column(input, start);
    let last_column = if end > start {
        // Column of the last character of the token, on the token's line.
        let last = input
            .get(start..end.min(input.len()))
            .and_then(|s| s.char_indices().last())
            .map_or(start, |(i, _)| start + i);
        line_column(input, last).1.max(first_column)
    } else {
        first_column
    };
    ParseError::Text {
        message,
        line,
        first_column,
        last_column,
    }
}

/// An XML-form error at byte `offset` of `input`.
pub(crate) fn xml(input: &str, offset: usize, message: String) -> ParseError {
    let (line, column) = line_column(input, offset);
    ParseError::Xml {
        message,
        line,
        column,
    }
}
