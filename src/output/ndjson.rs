//! One JSON object per line, each with a `record` field saying what it is, fit for jq, Vector or
//! Filebeat. Field names are the JSON document's, so both stay in step; unlike the document,
//! every record of a type has the same keys, in the same order ([`RECORDS`]): a field the
//! record does not have is `null`.

use crate::model::{CaptureStats, LimitStats, Report};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::io::{self, Write};

/// Every record type with its keys, in the order written (README "## Reports" documents them).
pub const RECORDS: [(&str, &[&str]); 8] = [
    (
        "source",
        &[
            "record", "name", "link", "packets", "bytes", "error", "kernel",
        ],
    ),
    (
        "flow",
        &[
            "record",
            "id",
            "transport",
            "proto",
            "classified_by",
            "inside_tls",
            "announced_by",
            "client",
            "server",
            "roles",
            "first",
            "last",
            "duration_secs",
            "state",
            "history",
            "handshake_rtt_ms",
            "rtt_client_side",
            "rtt_server_side",
            "to_server",
            "to_client",
            "open_at_end",
            "summary",
            "findings",
            "events_dropped",
        ],
    ),
    ("event", &["record", "flow", "ts", "dir", "proto", "event"]),
    (
        "finding",
        &[
            "record",
            "code",
            "severity",
            "first",
            "last",
            "count",
            "flow",
            "related_flow",
            "message",
        ],
    ),
    (
        "licensing_session",
        &[
            "record",
            "client",
            "server",
            "vendor",
            "first",
            "last",
            "status",
            "problems",
            "notes",
            "handshakes",
            "vendor_connections",
            "checkouts",
            "checkins",
            "denials",
            "unverified",
            "integrity_errors",
            "features",
            "dropped",
        ],
    ),
    (
        "session",
        &[
            "record",
            "id",
            "transport",
            "via",
            "tls",
            "flows",
            "edt_attempts",
            "client",
            "server",
            "start",
            "last",
            "client_name",
            "application",
            "client_build",
            "domain",
            "user_name",
            "password_present",
            "encryption",
            "key_exchanged_in_clear",
            "encryption_off",
            "proxied_to",
            "channels",
            "frames",
            "bytes",
            "reconnects",
            "open",
            "ended_by",
            "keepalive",
            "rtt_client_side",
            "rtt_server_side",
            "think_time",
            "launch",
        ],
    ),
    (
        "heartbeat_series",
        &[
            "record",
            "flow",
            "proto",
            "client",
            "server",
            "open",
            "kind",
            "source",
            "count",
            "first",
            "last",
            "interval_median_secs",
            "jitter_secs",
            "limit_secs",
            "longest_silence_secs",
            "overdue",
            "silent_since",
            "overdue_episodes",
            "beats",
        ],
    ),
    (
        "capture",
        &[
            "record",
            "packets",
            "bytes",
            "first",
            "last",
            "tcp_packets",
            "udp_packets",
            "other_ip_packets",
            "non_ip_packets",
            "headers_cut",
            "payload_cut",
            "malformed",
            "unsupported_link",
            "ipv4_fragments",
            "ipv6_fragments",
            "limits",
        ],
    ),
];

pub fn write_ndjson(report: &Report, out: &mut impl Write) -> io::Result<()> {
    for s in &report.sources {
        line(out, "source", s, &[])?;
    }
    for f in &report.flows {
        // A flow's events are records of their own.
        line(out, "flow", f, &["events"])?;
        for e in &f.events {
            let mut event = fields(e)?;
            event.insert("flow".into(), f.id.into());
            write_record(out, "event", &event)?;
        }
    }
    for finding in &report.findings {
        line(out, "finding", finding, &[])?;
    }
    for l in &report.licensing {
        line(out, "licensing_session", l, &[])?;
    }
    for session in &report.sessions {
        line(out, "session", session, &[])?;
    }
    for h in &report.heartbeats {
        line(out, "heartbeat_series", h, &[])?;
    }
    #[derive(Serialize)]
    struct Totals<'a> {
        #[serde(flatten)]
        capture: &'a CaptureStats,
        limits: &'a LimitStats,
    }
    let totals = Totals {
        capture: &report.capture,
        limits: &report.limits,
    };
    line(out, "capture", &totals, &[])
}

/// Writes `data` as a record of type `record`, without the fields named in `without`.
fn line(
    out: &mut impl Write,
    record: &'static str,
    data: &impl Serialize,
    without: &[&str],
) -> io::Result<()> {
    let mut map = fields(data)?;
    for key in without {
        map.remove(*key);
    }
    write_record(out, record, &map)
}

fn fields(data: &impl Serialize) -> io::Result<Map<String, Value>> {
    match serde_json::to_value(data)? {
        Value::Object(map) => Ok(map),
        other => Err(io::Error::other(format!(
            "a record serialised as {other}, not an object"
        ))),
    }
}

/// One line: the keys of the record type in their order (null when absent), then any key the
/// type does not list (so that a new field shows up, and the tests ask for its documentation).
fn write_record(
    out: &mut impl Write,
    record: &'static str,
    fields: &Map<String, Value>,
) -> io::Result<()> {
    let keys = RECORDS
        .iter()
        .find(|(name, _)| *name == record)
        .map_or(&[][..], |(_, keys)| *keys);
    let ordered = Ordered {
        record,
        keys,
        fields,
    };
    serde_json::to_writer(&mut *out, &ordered)?;
    out.write_all(b"\n")
}

struct Ordered<'a> {
    record: &'static str,
    keys: &'a [&'a str],
    fields: &'a Map<String, Value>,
}

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("record", self.record)?;
        for key in self.keys.iter().filter(|k| **k != "record") {
            map.serialize_entry(key, self.fields.get(*key).unwrap_or(&Value::Null))?;
        }
        for (key, value) in self.fields {
            if !self.keys.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}
