//! `e`: the rows of the current table, as shown (filtered and sorted), to JSON and CSV files.
//!
//! Values are raw (bytes as numbers, times in RFC 3339), not the screen's human units, so the
//! files feed other tools.

use crate::model::{
    CitrixSession, Finding, FlowRecord, HeartbeatSeries, LicensingSession, Report, name_of,
    port_class,
};
use crate::tui::table::licensing::{self, handshake_counts};
use crate::tui::table::sessions;
use crate::tui::text::{clean, wall_clock};
use serde_json::{Map, Value, json};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Flows,
    Licensing,
    Heartbeats,
    Sessions,
    Findings,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Flows => "flows",
            Table::Licensing => "licensing",
            Table::Heartbeats => "heartbeats",
            Table::Sessions => "sessions",
            Table::Findings => "findings",
        }
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Flows => &FLOW_COLUMNS,
            Table::Licensing => &LICENSING_COLUMNS,
            Table::Heartbeats => &HEARTBEAT_COLUMNS,
            Table::Sessions => &SESSION_COLUMNS,
            Table::Findings => &FINDING_COLUMNS,
        }
    }

    /// The values of row `i` of the report's list, in the order of [`Table::columns`].
    fn values(self, r: &Report, i: usize) -> Option<Vec<Value>> {
        Some(match self {
            Table::Flows => flow_values(r.flows.get(i)?).to_vec(),
            Table::Licensing => licensing_values(r.licensing.get(i)?).to_vec(),
            Table::Heartbeats => heartbeat_values(r.heartbeats.get(i)?).to_vec(),
            Table::Sessions => session_values(r.sessions.get(i)?).to_vec(),
            Table::Findings => finding_values(r.findings.get(i)?).to_vec(),
        })
    }
}

/// What to export: rows are indices into the report's list for the table, in screen order.
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
    let columns = export.table.columns();
    let records: Vec<Vec<Value>> = export
        .rows
        .iter()
        .filter_map(|&i| export.table.values(&export.report, i))
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

const LICENSING_COLUMNS: [&str; 15] = [
    "client",
    "server",
    "vendor",
    "status",
    "first",
    "last",
    "handshakes",
    "lmgrd_outcomes",
    "announced_ports",
    "vendor_connections",
    "checkouts",
    "checkins",
    "last_heartbeat",
    "heartbeat",
    "flows",
];

/// The values of [`LICENSING_COLUMNS`], in that order: lists as arrays in JSON, joined with
/// spaces in CSV.
fn licensing_values(s: &LicensingSession) -> [Value; 15] {
    let announced: Vec<String> = s
        .handshakes
        .iter()
        .filter_map(|h| h.announced.as_ref())
        .map(|a| {
            format!(
                "{}:{}/{}/{}",
                a.host,
                a.port,
                port_class(a.static_port),
                name_of(&a.result())
            )
        })
        .collect();
    let vendor: Vec<String> = s
        .vendor_connections
        .iter()
        .map(|v| format!("{}/{}", v.port, name_of(&v.outcome)))
        .collect();
    [
        json!(s.client.to_string()),
        json!(s.server.to_string()),
        json!(s.vendor.as_ref().map(|v| v.as_str())),
        json!(name_of(&s.status)),
        json!(s.first.to_string()),
        json!(s.last.to_string()),
        json!(s.handshakes.len()),
        json!(handshake_counts(s)),
        json!(announced),
        json!(vendor),
        json!(s.checkouts),
        json!(s.checkins),
        json!(s.last_beat().map(|t| t.to_string())),
        json!(licensing::beat(s)),
        json!(licensing::flows(s)),
    ]
}

const HEARTBEAT_COLUMNS: [&str; 14] = [
    "flow",
    "proto",
    "kind",
    "client",
    "server",
    "open",
    "beats",
    "first_beat",
    "last_beat",
    "interval_median_secs",
    "jitter_secs",
    "longest_silence_secs",
    "overdue",
    "overdue_episodes",
];

fn heartbeat_values(h: &HeartbeatSeries) -> [Value; 14] {
    let s = &h.stats;
    [
        json!(h.flow),
        json!(h.proto.map(|p| p.name())),
        json!(name_of(&s.kind)),
        json!(h.client.to_string()),
        json!(h.server.to_string()),
        json!(h.open),
        json!(s.count),
        json!(s.first.map(|t| t.to_string())),
        json!(s.last.map(|t| t.to_string())),
        json!(s.interval_median_secs),
        json!(s.jitter_secs),
        json!(s.longest_silence_secs),
        json!(s.overdue),
        json!(s.overdue_episodes),
    ]
}

const SESSION_COLUMNS: [&str; 21] = [
    "id",
    "transport",
    "client",
    "server",
    "start",
    "last",
    "client_name",
    "application",
    "client_build",
    "user_name",
    "encryption",
    "key_exchanged_in_clear",
    "channels",
    "frames_to_server",
    "frames_to_client",
    "bytes_to_server",
    "bytes_to_client",
    "reconnects",
    "keepalive",
    "state",
    "flows",
];

fn session_values(s: &CitrixSession) -> [Value; 21] {
    [
        json!(s.id),
        json!(s.transport.name()),
        json!(s.client.to_string()),
        json!(s.server.to_string()),
        json!(s.start.to_string()),
        json!(s.last.to_string()),
        json!(s.client_name.as_ref().map(|t| t.as_str())),
        json!(s.application.as_ref().map(|t| t.as_str())),
        json!(s.client_build),
        json!(s.user_name.as_ref().map(|t| t.as_str())),
        json!(s.encryption.as_ref().map(name_of)),
        json!(s.key_exchanged_in_clear),
        json!(s.channels.len()),
        json!(s.frames[0]),
        json!(s.frames[1]),
        json!(s.bytes[0]),
        json!(s.bytes[1]),
        json!(s.reconnects),
        json!(sessions::keepalive(s)),
        json!(s.state()),
        json!(s.flows),
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
/// spreadsheet does not run it as a formula. A list is its items separated by spaces.
fn csv_cell(v: &Value) -> String {
    let s = match v {
        Value::Null => return String::new(),
        Value::String(s) => clean(s).into_owned(),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => clean(s).into_owned(),
                    other => other.to_string(),
                })
                .collect();
            items.join(" ")
        }
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
        assert_eq!(csv_cell(&json!([1, 2])), "1 2");
        assert_eq!(csv_cell(&json!(["7279/open", "a,b"])), "\"7279/open a,b\"");
        assert_eq!(csv_cell(&json!([])), "");
    }

    #[test]
    fn stamps_are_file_name_safe() {
        let s = stamp();
        assert_eq!(s.len(), 16);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
    }
}
