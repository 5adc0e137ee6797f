//! Plain-text tables with aligned columns, for the text report.

use std::io::{self, Write};

pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// Columns aligned right (numbers).
    right: Vec<bool>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
            right: vec![false; header.len()],
        }
    }

    /// Aligns the named columns to the right.
    pub fn right(mut self, columns: &[&str]) -> Table {
        for (i, h) in self.header.iter().enumerate() {
            if columns.contains(h) {
                self.right[i] = true;
            }
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn write(&self, out: &mut impl Write, indent: &str) -> io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        self.write_row(out, indent, &header, &widths)?;
        for row in &self.rows {
            self.write_row(out, indent, row, &widths)?;
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

/// 1234567 -> "1.2 MB"; small values stay exact.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 10_000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// Seconds as "850 ms", "12.3 s", "4m05s", "2h10m".
pub fn duration(secs: f64) -> String {
    if secs < 1.0 {
        return format!("{:.0} ms", secs * 1000.0);
    }
    if secs < 60.0 {
        return format!("{secs:.1} s");
    }
    let s = secs as u64;
    if s < 3600 {
        return format!("{}m{:02}s", s / 60, s % 60);
    }
    format!("{}h{:02}m", s / 3600, s % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut t = Table::new(&["ID", "NAME", "BYTES"]).right(&["ID", "BYTES"]);
        t.row(vec!["1".into(), "ica".into(), "12".into()]);
        t.row(vec!["10".into(), "vendor_daemon".into(), "3456".into()]);
        let mut out = Vec::new();
        t.write(&mut out, "  ").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  ID  NAME           BYTES\n   1  ica               12\n  10  vendor_daemon   3456\n"
        );
    }

    #[test]
    fn human_units() {
        assert_eq!(bytes(9999), "9999 B");
        assert_eq!(bytes(12_345), "12.3 kB");
        assert_eq!(bytes(1_500_000_000), "1.5 GB");
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(12.34), "12.3 s");
        assert_eq!(duration(245.0), "4m05s");
        assert_eq!(duration(7800.0), "2h10m");
    }
}
