//! Writers for a [`Report`]: they only read the model, never decide anything.

pub mod facts;
mod json;
mod ndjson;
mod table;
mod text;
pub mod units;

pub use json::write_json;
pub use ndjson::{RECORDS as NDJSON_RECORDS, write_ndjson};
pub use text::write_text;

use crate::model::Report;
use std::io::{self, Write};

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
    match format {
        Format::Text => write_text(report, out),
        Format::Json => write_json(report, out),
        Format::Ndjson => write_ndjson(report, out),
    }
}
