//! `e`: the rows of the current table, as shown (filtered and sorted), to JSON and CSV files.
//!
//! Values are raw (bytes as numbers, times in RFC 3339), not the screen's human units, so the
//! files feed other tools.

use crate::analysis::Finding;
use crate::model::{FlowRecord, Report};
use crate::tui::text::{clean, wall_clock};
use serde_json::{Map, Value, json};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Flows,
    Findings,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Flows => "flows",
            Table::Findings => "findings",
        }
    }
}

/// What to export: rows are indices into the report's flows or findings, in screen order.
#[derive(Clone, Debug)]
pub struct Export {
    pub table: Table,
    pub report: Arc<Report>,
    pub rows: Vec<usize>,
}

/// Writes `<dir>/ctxscope-<table>-<stamp>.json` and `.csv` (never overwriting a file) and
/// returns their paths.
pub fn write(export: &Export, dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let stem = format!("ctxscope-{}-{}", export.table.name(), stamp());
    let columns: &[&str] = match export.table {
        Table::Flows => &FLOW_COLUMNS,
        Table::Findings => &FINDING_COLUMNS,
    };
    let records: Vec<Vec<Value>> = export
        .rows
        .iter()
        .filter_map(|&i| match export.table {
            Table::Flows => export.report.flows.get(i).map(|f| flow_values(f).to_vec()),
            Table::Findings => export
                .report
                .findings
                .get(i)
                .map(|f| finding_values(f).to_vec()),
        })
        .collect();
    let (json_path, json_file) = create_unused(dir, &stem, "json")?;
    write_json(columns, &records, json_file)?;
    let (csv_path, csv_file) = create_unused(dir, &stem, "csv")?;
    write_csv(columns, &records, csv_file)?;
    Ok((json_path, csv_path))
}

const FLOW_COLUMNS: [&str; 15] = [
    "id",
    "proto",
    "classified_by",
    "client",
    "server",
    "state",
    "packets_to_server",
    "packets_to_client",
    "bytes_to_server",
    "bytes_to_client",
    "duration_secs",
    "first",
    "last",
    "history",
    "findings",
];

/// The values of [`FLOW_COLUMNS`], in that order.
fn flow_values(f: &FlowRecord) -> [Value; 15] {
    [
        json!(f.id),
        json!(f.proto.map(|p| p.name())),
        json!(f.classified_by.map(|m| m.name())),
        json!(f.client.to_string()),
        json!(f.server.to_string()),
        json!(f.state),
        json!(f.to_server.packets),
        json!(f.to_client.packets),
        json!(f.to_server.bytes),
        json!(f.to_client.bytes),
        json!(f.duration_secs),
        json!(f.first.to_string()),
        json!(f.last.to_string()),
        json!(f.history),
        json!(f.findings),
    ]
}

const FINDING_COLUMNS: [&str; 8] = [
    "severity",
    "first",
    "last",
    "code",
    "flow",
    "related_flow",
    "count",
    "message",
];

/// The values of [`FINDING_COLUMNS`], in that order.
fn finding_values(f: &Finding) -> [Value; 8] {
    [
        json!(f.severity.name()),
        json!(f.first.to_string()),
        json!(f.last.to_string()),
        json!(f.code),
        json!(f.flow),
        json!(f.related_flow),
        json!(f.count),
        json!(f.message),
    ]
}

fn write_json(columns: &[&str], records: &[Vec<Value>], file: File) -> io::Result<()> {
    let rows: Vec<Value> = records
        .iter()
        .map(|r| {
            let map: Map<String, Value> = columns
                .iter()
                .zip(r)
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            Value::Object(map)
        })
        .collect();
    let mut out = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut out, &rows)?;
    writeln!(out)?;
    out.flush()
}

fn write_csv(columns: &[&str], records: &[Vec<Value>], file: File) -> io::Result<()> {
    let mut out = BufWriter::new(file);
    writeln!(out, "{}", columns.join(","))?;
    for r in records {
        let cells: Vec<String> = r.iter().map(csv_cell).collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    out.flush()
}

/// RFC 4180 quoting; a leading `=`, `+`, `@` or `-` (not a number) is prefixed with `'` so a
/// spreadsheet does not run it as a formula.
fn csv_cell(v: &Value) -> String {
    let s = match v {
        Value::Null => return String::new(),
        Value::String(s) => clean(s).into_owned(),
        other => return other.to_string(),
    };
    let formula = s.starts_with(['=', '+', '@'])
        || (s.starts_with('-') && s.len() > 1 && s.parse::<f64>().is_err());
    let s = if formula { format!("'{s}") } else { s };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The current time as `20261122T031300Z`, for file names.
pub fn stamp() -> String {
    let rfc3339 = wall_clock().to_string();
    let mut s: String = rfc3339
        .chars()
        .take(19)
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    s.push('Z');
    s
}

/// Creates `<dir>/<stem>.<ext>`, or `<stem>-2.<ext>`, ... if it exists.
pub fn create_unused(dir: &Path, stem: &str, ext: &str) -> io::Result<(PathBuf, File)> {
    for n in 1..=100 {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = dir.join(name);
        match File::options().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{stem}.{ext} and 99 variants already exist"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell(&json!("plain")), "plain");
        assert_eq!(csv_cell(&json!("a,b")), "\"a,b\"");
        assert_eq!(csv_cell(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell(&json!("=cmd()")), "'=cmd()");
        assert_eq!(csv_cell(&json!("-")), "-");
        assert_eq!(csv_cell(&json!("-1.5")), "-1.5");
        assert_eq!(csv_cell(&json!("-x")), "'-x");
        assert_eq!(csv_cell(&json!(null)), "");
        assert_eq!(csv_cell(&json!(42)), "42");
        assert_eq!(csv_cell(&json!("a\u{1b}b")), "a?b");
    }

    #[test]
    fn stamps_are_file_name_safe() {
        let s = stamp();
        assert_eq!(s.len(), 16);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
    }
}
