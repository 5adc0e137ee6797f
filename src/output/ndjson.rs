//! One JSON object per line, each with a `record` field saying what it is, fit for jq, Vector or
//! Filebeat. Field names are the JSON document's, so both stay in step; unlike the document,
//! every record of a type has the same keys, in the same order ([`RECORDS`]): a field the
//! record does not have is `null`. `report` writes a whole report so; `monitor` writes the same
//! records one by one as things happen ([`Record`]), plus its `stats`.

use super::community_id::community_id;
use crate::model::{
    CaptureStats, CitrixSession, Finding, FindingState, FlowId, FlowRecord, FlowTuple,
    HeartbeatSeries, LicensingSession, LimitStats, Report, SensorStats, SourceSummary,
};
use ctxscope_dissectors::Event;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::io::{self, Write};

/// The version of the records' layout, on every record as `schema`. It changes only when a
/// key is removed or renamed or its meaning or type changes; new keys and record types come
/// without a new version (README "Sensor mode").
pub const SCHEMA: u64 = 1;

/// Every record type with its keys, in the order written (README "## Reports" documents them).
pub const RECORDS: [(&str, &[&str]); 9] = [
    (
        "source",
        &[
            "record", "schema", "name", "link", "packets", "bytes", "error", "kernel",
        ],
    ),
    (
        "flow",
        &[
            "record",
            "schema",
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
            "community_id",
            "final",
        ],
    ),
    (
        "event",
        &["record", "schema", "flow", "ts", "dir", "proto", "event"],
    ),
    (
        "finding",
        &[
            "record",
            "schema",
            "code",
            "severity",
            "first",
            "last",
            "count",
            "flow",
            "related_flow",
            "message",
            "state",
            "community_id",
        ],
    ),
    (
        "licensing_session",
        &[
            "record",
            "schema",
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
            "schema",
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
            "schema",
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
            "schema",
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
    (
        "stats",
        &[
            "record",
            "schema",
            "ts",
            "packets",
            "bytes",
            "tcp_packets",
            "udp_packets",
            "kernel",
            "open_flows",
            "open_flows_by_proto",
            "limits",
        ],
    ),
];

pub fn write_ndjson(report: &Report, out: &mut impl Write) -> io::Result<()> {
    for s in &report.sources {
        Record::source(s)?.write(out)?;
    }
    for f in &report.flows {
        Record::flow(f, true)?.write(out)?;
        for e in &f.events {
            Record::event(f.id, e)?.write(out)?;
        }
    }
    for finding in &report.findings {
        let tuple = finding
            .flow
            .and_then(|id| report.flow(id))
            .map(FlowTuple::of);
        Record::finding(finding, None, tuple.as_ref())?.write(out)?;
    }
    for l in &report.licensing {
        Record::licensing(l)?.write(out)?;
    }
    for session in &report.sessions {
        Record::session(session)?.write(out)?;
    }
    for h in &report.heartbeats {
        Record::heartbeat(h)?.write(out)?;
    }
    Record::capture(&report.capture, &report.limits)?.write(out)
}

/// One record: its type and its fields (written in the type's order, [`Record::write`]).
#[derive(Clone, Debug)]
pub struct Record {
    pub kind: &'static str,
    pub fields: Map<String, Value>,
}

impl Record {
    /// `data`'s fields as a record of type `kind`, without the fields named in `without`.
    fn of(kind: &'static str, data: &impl Serialize, without: &[&str]) -> io::Result<Record> {
        let mut fields = fields(data)?;
        for key in without {
            fields.remove(*key);
        }
        fields.insert("schema".into(), SCHEMA.into());
        Ok(Record { kind, fields })
    }

    pub fn source(s: &SourceSummary) -> io::Result<Record> {
        Record::of("source", s, &[])
    }

    /// A flow's record (its events are records of their own); `last` is false for an interim
    /// record of a connection still open, after which another will come.
    pub fn flow(f: &FlowRecord, last: bool) -> io::Result<Record> {
        let mut r = Record::of("flow", f, &["events"])?;
        r.fields.insert(
            "community_id".into(),
            community_id(&FlowTuple::of(f)).into(),
        );
        r.fields.insert("final".into(), last.into());
        Ok(r)
    }

    pub fn event(flow: FlowId, e: &Event) -> io::Result<Record> {
        let mut r = Record::of("event", e, &[])?;
        r.fields.insert("flow".into(), flow.into());
        Ok(r)
    }

    /// A finding; `state` in a stream (absent in a report), `tuple` the connection it is on.
    pub fn finding(
        f: &Finding,
        state: Option<FindingState>,
        tuple: Option<&FlowTuple>,
    ) -> io::Result<Record> {
        let mut r = Record::of("finding", f, &[])?;
        r.fields
            .insert("state".into(), serde_json::to_value(state)?);
        r.fields
            .insert("community_id".into(), tuple.and_then(community_id).into());
        Ok(r)
    }

    pub fn licensing(l: &LicensingSession) -> io::Result<Record> {
        Record::of("licensing_session", l, &[])
    }

    pub fn session(s: &CitrixSession) -> io::Result<Record> {
        Record::of("session", s, &[])
    }

    pub fn heartbeat(h: &HeartbeatSeries) -> io::Result<Record> {
        Record::of("heartbeat_series", h, &[])
    }

    /// The run's totals: the last record.
    pub fn capture(capture: &CaptureStats, limits: &LimitStats) -> io::Result<Record> {
        #[derive(Serialize)]
        struct Totals<'a> {
            #[serde(flatten)]
            capture: &'a CaptureStats,
            limits: &'a LimitStats,
        }
        Record::of("capture", &Totals { capture, limits }, &[])
    }

    pub fn stats(s: &SensorStats) -> io::Result<Record> {
        Record::of("stats", s, &[])
    }

    /// One line: the keys of the record type in their order (null when absent), then any key
    /// the type does not list (so that a new field shows up, and the tests ask for its
    /// documentation).
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        write_ordered(out, self.kind, &self.fields)
    }
}

fn fields(data: &impl Serialize) -> io::Result<Map<String, Value>> {
    match serde_json::to_value(data)? {
        Value::Object(map) => Ok(map),
        other => Err(io::Error::other(format!(
            "a record serialised as {other}, not an object"
        ))),
    }
}

fn write_ordered(
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
