//! One JSON object per line, each with a `record` field saying what it is (source, flow,
//! event, finding, licensing_session, session, heartbeat_series, capture), fit for jq,
//! Vector or Filebeat. Field names are the JSON document's, so both stay in step.

use crate::model::Report;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::{self, Write};

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    record: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow: Option<u64>,
    #[serde(flatten)]
    data: &'a T,
}

fn line<T: Serialize>(
    out: &mut impl Write,
    record: &'static str,
    flow: Option<u64>,
    data: &T,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &Line { record, flow, data })?;
    out.write_all(b"\n")
}

pub fn write_ndjson(report: &Report, out: &mut impl Write) -> io::Result<()> {
    for s in &report.sources {
        line(out, "source", None, s)?;
    }
    for f in &report.flows {
        // A flow's events are records of their own.
        let mut flow = match serde_json::to_value(f)? {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        flow.remove("events");
        line(out, "flow", None, &flow)?;
        for e in &f.events {
            line(out, "event", Some(f.id), e)?;
        }
    }
    for finding in &report.findings {
        line(out, "finding", None, finding)?;
    }
    for l in &report.licensing {
        line(out, "licensing_session", None, l)?;
    }
    for session in &report.sessions {
        line(out, "session", None, session)?;
    }
    for h in &report.heartbeats {
        line(out, "heartbeat_series", None, h)?;
    }
    #[derive(Serialize)]
    struct Totals<'a> {
        #[serde(flatten)]
        capture: &'a crate::model::CaptureStats,
        limits: &'a crate::model::LimitStats,
    }
    line(
        out,
        "capture",
        None,
        &Totals {
            capture: &report.capture,
            limits: &report.limits,
        },
    )
}
