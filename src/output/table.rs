//! Plain-text tables with aligned columns, for the text report.

use std::io::{self, Write};

pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Row>,
    /// Columns aligned right (numbers).
    right: Vec<bool>,
}

/// A column's header, and the side its cells align to.
#[derive(Clone, Copy, Debug)]
pub enum Column {
    Left(&'static str),
    /// Numbers.
    Right(&'static str),
}

enum Row {
    Cells(Vec<String>),
    /// A line of its own between the rows, left as it is (it does not widen the columns).
    Note(String),
}

impl Table {
    pub fn new(columns: &[Column]) -> Table {
        let (header, right) = columns
            .iter()
            .map(|c| match *c {
                Column::Left(h) => (h, false),
                Column::Right(h) => (h, true),
            })
            .unzip();
        Table {
            header,
            rows: Vec::new(),
            right,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(Row::Cells(cells));
    }

    /// A line written as is between the rows, indented like them.
    pub fn note(&mut self, line: String) {
        self.rows.push(Row::Note(line));
    }

    pub fn write(&self, out: &mut impl Write, indent: &str) -> io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            if let Row::Cells(cells) = row {
                for (w, cell) in widths.iter_mut().zip(cells) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        self.write_row(out, indent, &header, &widths)?;
        for row in &self.rows {
            match row {
                Row::Cells(cells) => self.write_row(out, indent, cells, &widths)?,
                Row::Note(line) => writeln!(out, "{indent}{line}")?,
            }
        }
        Ok(())
    }

    fn write_row(
        &self,
        out: &mut impl Write,
        indent: &str,
        cells: &[String],
        widths: &[usize],
    ) -> io::Result<()> {
        let mut line = String::from(indent);
        let last = cells.len().saturating_sub(1);
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            if self.right.get(i).copied().unwrap_or(false) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if i != last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if i != last {
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::Column::{Left, Right};
    use super::*;

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut t = Table::new(&[Right("ID"), Left("NAME"), Right("BYTES")]);
        t.row(vec!["1".into(), "ica".into(), "12".into()]);
        t.row(vec!["10".into(), "vendor_daemon".into(), "3456".into()]);
        t.note("... a note as long as it likes".into());
        let mut out = Vec::new();
        t.write(&mut out, "  ").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  ID  NAME           BYTES\n   1  ica               12\n  10  vendor_daemon   3456\n  \
             ... a note as long as it likes\n"
        );
    }
}
