//! Writers for a [`Report`]: they only read the model, never decide anything.

pub mod community_id;
pub mod ecs;
pub mod facts;
mod json;
pub mod limits;
mod ndjson;
mod table;
mod text;
pub mod units;

pub use json::write_json;
pub use ndjson::{RECORDS as NDJSON_RECORDS, Record, SCHEMA, write_ndjson};
pub use text::write_text;

use crate::model::Report;
use std::io::{self, BufWriter, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable summary: flows, findings, per-protocol sections.
    Text,
    /// One JSON document.
    Json,
    /// One JSON record per line: sources, flows, events, findings, sessions, heartbeat series,
    /// capture totals; every record of a type has the same keys.
    Ndjson,
}

pub fn write(report: &Report, format: Format, out: &mut impl Write) -> io::Result<()> {
    // The writers make millions of writes of a few bytes (a key, an indent, a comma). Callers
    // pass trait objects; through a buffer of a known type each such write is inlined into a
    // store instead of a call through a vtable.
    let mut out = BufWriter::with_capacity(1 << 16, out);
    match format {
        Format::Text => write_text(report, &mut out),
        Format::Json => write_json(report, &mut out),
        Format::Ndjson => write_ndjson(report, &mut out),
    }?;
    out.flush()
}
