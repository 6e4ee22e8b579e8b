//! Turning replies into text: tables of pools ([`table`]), `key : value` views of one object
//! ([`show`]), JSON ([`json`]), and the cell formatters the nouns' column lists use.

mod cells;
mod json;
mod show;
mod table;

pub use cells::{bytes_mb, code_name, date, id_list, yes_no};
pub use json::json;
pub use show::{permissions, show, template_text};
pub use table::{rows, table};

use nubo_client::Element;

/// What a column shows for each object.
#[derive(Debug, Clone, Copy)]
pub enum Cell {
    /// The text at a path (`TEMPLATE/NAME`).
    Text(&'static str),
    /// How many `ID`s the element at a path lists (`HOSTS` → 3).
    Count(&'static str),
    /// A computed value.
    With(fn(&Element) -> String),
}

/// One column of a listing.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its heading.
    pub header: &'static str,
    /// Its content.
    pub cell: Cell,
}

/// A column showing the text at `path`.
pub const fn text(header: &'static str, path: &'static str) -> Column {
    Column {
        header,
        cell: Cell::Text(path),
    }
}

/// A column counting the `ID`s under `path`.
pub const fn count(header: &'static str, path: &'static str) -> Column {
    Column {
        header,
        cell: Cell::Count(path),
    }
}

/// A computed column.
pub const fn with(header: &'static str, f: fn(&Element) -> String) -> Column {
    Column {
        header,
        cell: Cell::With(f),
    }
}

/// The columns owned objects start with: ID, USER, GROUP, NAME.
pub const OWNED: [Column; 4] = [
    text("ID", "ID"),
    text("USER", "UNAME"),
    text("GROUP", "GNAME"),
    text("NAME", "NAME"),
];

impl Cell {
    /// This cell's value for one object.
    pub fn value(&self, object: &Element) -> String {
        match self {
            Cell::Text(path) => object.text_of(path).unwrap_or("").to_owned(),
            Cell::Count(path) => object
                .find(path)
                .map_or(0, |list| list.children("ID").count())
                .to_string(),
            Cell::With(f) => f(object),
        }
    }
}
