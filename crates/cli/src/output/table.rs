//! Aligned tables like `onevm list`: upper-case headings, one row per object, numeric
//! columns right-aligned, no trailing blanks.

use nubo_client::Element;

use super::Column;

/// The table of `objects` with `columns`.
pub fn table<'a>(objects: impl Iterator<Item = &'a Element>, columns: &[Column]) -> String {
    let rows: Vec<Vec<String>> = objects
        .map(|o| columns.iter().map(|c| c.cell.value(o)).collect())
        .collect();
    let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
    render(&headers, &rows)
}

/// A table of ready-made rows (cells are shown on one line: control characters become
/// spaces).
pub fn rows(headers: &[&str], rows: &[Vec<String>]) -> String {
    let clean: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    c.chars()
                        .map(|ch| if ch.is_control() { ' ' } else { ch })
                        .collect()
                })
                .collect()
        })
        .collect();
    render(headers, &clean)
}

/// Lays out `rows` under `headers`.
fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .fold(h.len(), usize::max)
        })
        .collect();
    let numeric: Vec<bool> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .all(|c| c.parse::<f64>().is_ok() || c.is_empty())
                && !rows.is_empty()
        })
        .collect();
    let mut out = String::new();
    let header_cells: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_cells).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if numeric[i] {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{count, text};
    use super::*;

    #[test]
    fn columns_align() {
        let pool = Element::parse(
            "<P><O><ID>7</ID><NAME>short</NAME><HOSTS><ID>1</ID><ID>2</ID></HOSTS></O>\
             <O><ID>12</ID><NAME>a-longer-name</NAME><HOSTS/></O></P>",
        )
        .expect("parse");
        let cols = [
            text("ID", "ID"),
            text("NAME", "NAME"),
            count("HOSTS", "HOSTS"),
        ];
        let out = table(pool.children("O"), &cols);
        assert_eq!(
            out,
            "ID  NAME           HOSTS\n 7  short              2\n12  a-longer-name      0\n"
        );
    }

    #[test]
    fn empty_pools_still_have_headings() {
        let pool = Element::parse("<P/>").expect("parse");
        assert_eq!(
            table(
                pool.children("O"),
                &[text("ID", "ID"), text("NAME", "NAME")]
            ),
            "ID  NAME\n"
        );
    }
}
