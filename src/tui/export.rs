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

    /// The names of the table's columns, and their values for each of `rows` (indices into
    /// the report's list) that exists.
    fn export(self, r: &Report, rows: &[usize]) -> (Vec<&'static str>, Vec<Vec<Value>>) {
        fn pick<'a, T>(list: &'a [T], rows: &'a [usize]) -> impl Iterator<Item = &'a T> {
            rows.iter().filter_map(|&i| list.get(i))
        }
        match self {
            Table::Flows => tabulate(FLOW_COLUMNS, pick(&r.flows, rows).map(|f| &**f)),
            Table::Licensing => tabulate(LICENSING_COLUMNS, pick(&r.licensing, rows)),
            Table::Heartbeats => tabulate(HEARTBEAT_COLUMNS, pick(&r.heartbeats, rows)),
            Table::Sessions => tabulate(SESSION_COLUMNS, pick(&r.sessions, rows)),
            Table::Findings => tabulate(FINDING_COLUMNS, pick(&r.findings, rows)),
        }
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
    let (columns, records) = export.table.export(&export.report, &export.rows);
    let (json_path, json_file) = create_unused(dir, &stem, "json")?;
    write_json(&columns, &records, json_file)?;
    let (csv_path, csv_file) = create_unused(dir, &stem, "csv")?;
    write_csv(&columns, &records, csv_file)?;
    Ok((json_path, csv_path))
}

/// One exported column: its name, and its value for a record.
type Column<R> = (&'static str, fn(&R) -> Value);

/// The names of `columns`, and their values for each of `records`.
fn tabulate<'a, R: 'a>(
    columns: &[Column<R>],
    records: impl Iterator<Item = &'a R>,
) -> (Vec<&'static str>, Vec<Vec<Value>>) {
    let names = columns.iter().map(|(name, _)| *name).collect();
    let values = records
        .map(|record| columns.iter().map(|(_, value)| value(record)).collect())
        .collect();
    (names, values)
}

const FLOW_COLUMNS: &[Column<FlowRecord>] = &[
    ("id", |f| json!(f.id)),
    ("proto", |f| json!(f.proto.map(|p| p.name()))),
    ("classified_by", |f| {
        json!(f.classified_by.map(|m| m.name()))
    }),
    ("client", |f| json!(f.client.to_string())),
    ("server", |f| json!(f.server.to_string())),
    ("state", |f| json!(f.state)),
    ("packets_to_server", |f| json!(f.to_server.packets)),
    ("packets_to_client", |f| json!(f.to_client.packets)),
    ("bytes_to_server", |f| json!(f.to_server.bytes)),
    ("bytes_to_client", |f| json!(f.to_client.bytes)),
    ("duration_secs", |f| json!(f.duration_secs)),
    ("first", |f| json!(f.first.to_string())),
    ("last", |f| json!(f.last.to_string())),
    ("history", |f| json!(f.history)),
    ("findings", |f| json!(f.findings)),
];

/// Lists are arrays in JSON, joined with spaces in CSV.
const LICENSING_COLUMNS: &[Column<LicensingSession>] = &[
    ("client", |s| json!(s.client.to_string())),
    ("server", |s| json!(s.server.to_string())),
    ("vendor", |s| json!(s.vendor.as_ref().map(|v| v.as_str()))),
    ("status", |s| json!(name_of(&s.status))),
    ("first", |s| json!(s.first.to_string())),
    ("last", |s| json!(s.last.to_string())),
    ("handshakes", |s| json!(s.handshakes.len())),
    ("lmgrd_outcomes", |s| json!(handshake_counts(s))),
    ("announced_ports", |s| json!(announced_ports(s))),
    ("vendor_connections", |s| json!(vendor_connections(s))),
    ("checkouts", |s| json!(s.checkouts)),
    ("checkins", |s| json!(s.checkins)),
    ("last_heartbeat", |s| {
        json!(s.last_beat().map(|t| t.to_string()))
    }),
    ("heartbeat", |s| json!(licensing::beat(s))),
    ("flows", |s| json!(licensing::flows(s))),
];

/// `host:port/class/result` of each port the session's handshakes announced.
fn announced_ports(s: &LicensingSession) -> Vec<String> {
    s.handshakes
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
        .collect()
}

/// `port/outcome` of each of the session's vendor connections.
fn vendor_connections(s: &LicensingSession) -> Vec<String> {
    s.vendor_connections
        .iter()
        .map(|v| format!("{}/{}", v.port, name_of(&v.outcome)))
        .collect()
}

const HEARTBEAT_COLUMNS: &[Column<HeartbeatSeries>] = &[
    ("flow", |h| json!(h.flow)),
    ("proto", |h| json!(h.proto.map(|p| p.name()))),
    ("kind", |h| json!(name_of(&h.stats.kind))),
    ("client", |h| json!(h.client.to_string())),
    ("server", |h| json!(h.server.to_string())),
    ("open", |h| json!(h.open)),
    ("beats", |h| json!(h.stats.count)),
    ("first_beat", |h| {
        json!(h.stats.first.map(|t| t.to_string()))
    }),
    ("last_beat", |h| json!(h.stats.last.map(|t| t.to_string()))),
    ("interval_median_secs", |h| {
        json!(h.stats.interval_median_secs)
    }),
    ("jitter_secs", |h| json!(h.stats.jitter_secs)),
    ("longest_silence_secs", |h| {
        json!(h.stats.longest_silence_secs)
    }),
    ("overdue", |h| json!(h.stats.overdue)),
    ("overdue_episodes", |h| json!(h.stats.overdue_episodes)),
];

const SESSION_COLUMNS: &[Column<CitrixSession>] = &[
    ("id", |s| json!(s.id)),
    ("transport", |s| json!(s.transport.name())),
    ("client", |s| json!(s.client.to_string())),
    ("server", |s| json!(s.server.to_string())),
    ("start", |s| json!(s.start.to_string())),
    ("last", |s| json!(s.last.to_string())),
    ("client_name", |s| {
        json!(s.client_name.as_ref().map(|t| t.as_str()))
    }),
    ("application", |s| {
        json!(s.application.as_ref().map(|t| t.as_str()))
    }),
    ("client_build", |s| json!(s.client_build)),
    ("user_name", |s| {
        json!(s.user_name.as_ref().map(|t| t.as_str()))
    }),
    ("encryption", |s| json!(s.encryption.as_ref().map(name_of))),
    ("key_exchanged_in_clear", |s| {
        json!(s.key_exchanged_in_clear)
    }),
    ("channels", |s| json!(s.channels.len())),
    ("frames_to_server", |s| json!(s.frames[0])),
    ("frames_to_client", |s| json!(s.frames[1])),
    ("bytes_to_server", |s| json!(s.bytes[0])),
    ("bytes_to_client", |s| json!(s.bytes[1])),
    ("reconnects", |s| json!(s.reconnects)),
    ("keepalive", |s| json!(sessions::keepalive(s))),
    ("state", |s| json!(s.state())),
    ("flows", |s| json!(s.flows)),
];

const FINDING_COLUMNS: &[Column<Finding>] = &[
    ("severity", |f| json!(f.severity.name())),
    ("first", |f| json!(f.first.to_string())),
    ("last", |f| json!(f.last.to_string())),
    ("code", |f| json!(f.code)),
    ("flow", |f| json!(f.flow)),
    ("related_flow", |f| json!(f.related_flow)),
    ("count", |f| json!(f.count)),
    ("message", |f| json!(f.message)),
];

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
