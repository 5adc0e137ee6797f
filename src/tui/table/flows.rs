//! The Flows table: one row per connection.

use super::{ColumnSpec, Sort, TableModel};
use crate::model::{FlowRecord, Report};
use crate::tui::query::{Query, TermKind};
use crate::tui::text::{bytes, duration, time_of_day};
use std::cmp::Ordering;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowColumn {
    Id,
    Proto,
    By,
    Client,
    Server,
    State,
    PacketsToServer,
    PacketsToClient,
    BytesToServer,
    BytesToClient,
    Duration,
    LastSeen,
    History,
    Findings,
}

pub struct Flows;

impl FlowColumn {
    /// The name used in the status bar and in exported files.
    pub fn name(self) -> &'static str {
        match self {
            FlowColumn::Id => "id",
            FlowColumn::Proto => "proto",
            FlowColumn::By => "classified_by",
            FlowColumn::Client => "client",
            FlowColumn::Server => "server",
            FlowColumn::State => "state",
            FlowColumn::PacketsToServer => "packets_to_server",
            FlowColumn::PacketsToClient => "packets_to_client",
            FlowColumn::BytesToServer => "bytes_to_server",
            FlowColumn::BytesToClient => "bytes_to_client",
            FlowColumn::Duration => "duration",
            FlowColumn::LastSeen => "last_seen",
            FlowColumn::History => "history",
            FlowColumn::Findings => "findings",
        }
    }
}

fn flow(report: &Report, i: usize) -> &FlowRecord {
    &report.flows[i]
}

impl TableModel for Flows {
    type Column = FlowColumn;
    const COLUMNS: &'static [FlowColumn] = &[
        FlowColumn::Id,
        FlowColumn::Proto,
        FlowColumn::By,
        FlowColumn::Client,
        FlowColumn::Server,
        FlowColumn::State,
        FlowColumn::PacketsToServer,
        FlowColumn::PacketsToClient,
        FlowColumn::BytesToServer,
        FlowColumn::BytesToClient,
        FlowColumn::Duration,
        FlowColumn::LastSeen,
        FlowColumn::History,
        FlowColumn::Findings,
    ];
    const KEYS: &'static [&'static str] =
        &["proto", "port", "host", "state", "by", "finding", "flow"];
    const DEFAULT_SORT: Sort<FlowColumn> = Sort {
        column: FlowColumn::Id,
        descending: false,
    };

    fn spec(column: FlowColumn) -> ColumnSpec {
        // Widths leave room for the header and its sort arrow.
        let (header, width, right, keep) = match column {
            FlowColumn::Id => ("ID", 6, true, 0),
            FlowColumn::Proto => ("PROTO", 13, false, 3),
            FlowColumn::By => ("BY", 9, false, 8),
            FlowColumn::Client => ("CLIENT", 21, false, 2),
            FlowColumn::Server => ("SERVER", 21, false, 1),
            FlowColumn::State => ("STATE", 6, false, 4),
            FlowColumn::PacketsToServer => ("PKT C>S", 8, true, 10),
            FlowColumn::PacketsToClient => ("PKT S>C", 8, true, 11),
            FlowColumn::BytesToServer => ("BYTES C>S", 10, true, 6),
            FlowColumn::BytesToClient => ("BYTES S>C", 10, true, 7),
            FlowColumn::Duration => ("DUR", 7, true, 9),
            FlowColumn::LastSeen => ("LAST SEEN", 12, false, 12),
            FlowColumn::History => ("HISTORY", 8, false, 13),
            FlowColumn::Findings => ("FIND", 5, true, 5),
        };
        ColumnSpec {
            header,
            width,
            right,
            keep,
            fill: false,
        }
    }

    fn column_name(column: FlowColumn) -> &'static str {
        column.name()
    }

    fn len(report: &Report) -> usize {
        report.flows.len()
    }

    fn key(report: &Report, i: usize) -> u64 {
        flow(report, i).id
    }

    fn cell(report: &Report, i: usize, column: FlowColumn) -> String {
        let f = flow(report, i);
        match column {
            FlowColumn::Id => f.id.to_string(),
            FlowColumn::Proto => f.proto.map_or("-", |p| p.name()).to_string(),
            FlowColumn::By => f.classified_by.map_or("-", |m| m.name()).to_string(),
            FlowColumn::Client => f.client.to_string(),
            FlowColumn::Server => f.server.to_string(),
            FlowColumn::State => f.state.to_string(),
            FlowColumn::PacketsToServer => f.to_server.packets.to_string(),
            FlowColumn::PacketsToClient => f.to_client.packets.to_string(),
            FlowColumn::BytesToServer => bytes(f.to_server.bytes),
            FlowColumn::BytesToClient => bytes(f.to_client.bytes),
            FlowColumn::Duration => duration(f.duration_secs),
            FlowColumn::LastSeen => time_of_day(f.last),
            FlowColumn::History => f.history.clone(),
            FlowColumn::Findings => f.findings.to_string(),
        }
    }

    fn compare(report: &Report, a: usize, b: usize, column: FlowColumn) -> Ordering {
        let (a, b) = (flow(report, a), flow(report, b));
        match column {
            FlowColumn::Id => a.id.cmp(&b.id),
            FlowColumn::Proto => a.proto.cmp(&b.proto),
            FlowColumn::By => a
                .classified_by
                .map(|m| m.name())
                .cmp(&b.classified_by.map(|m| m.name())),
            FlowColumn::Client => a.client.cmp(&b.client),
            FlowColumn::Server => a.server.cmp(&b.server),
            FlowColumn::State => a.state.cmp(b.state),
            FlowColumn::PacketsToServer => a.to_server.packets.cmp(&b.to_server.packets),
            FlowColumn::PacketsToClient => a.to_client.packets.cmp(&b.to_client.packets),
            FlowColumn::BytesToServer => a.to_server.bytes.cmp(&b.to_server.bytes),
            FlowColumn::BytesToClient => a.to_client.bytes.cmp(&b.to_client.bytes),
            FlowColumn::Duration => a.duration_secs.total_cmp(&b.duration_secs),
            FlowColumn::LastSeen => a.last.cmp(&b.last),
            FlowColumn::History => a.history.cmp(&b.history),
            FlowColumn::Findings => a.findings.cmp(&b.findings),
        }
    }

    fn search_text(report: &Report, i: usize, out: &mut String) {
        let f = flow(report, i);
        let _ = write!(
            out,
            "{} {} {} {} {} {} {}",
            f.id,
            f.proto.map_or("-", |p| p.name()),
            f.classified_by.map_or("-", |m| m.name()),
            f.client,
            f.server,
            f.state,
            f.history
        );
    }

    fn matches(report: &Report, i: usize, query: &Query, text: &str) -> bool {
        let f = flow(report, i);
        query.matches(|term| match term {
            TermKind::Text(needle) => text.contains(needle.as_str()),
            other => flow_term(f, other),
        })
    }
}

/// Whether one (positive) filter term other than free text holds for a flow.
pub fn flow_term(f: &FlowRecord, term: &TermKind) -> bool {
    match term {
        TermKind::Proto(p) => p.matches(f.proto),
        TermKind::Port(p) => f.client.port == *p || f.server.port == *p,
        TermKind::Host(block) => block.contains(f.client.ip) || block.contains(f.server.ip),
        TermKind::State(s) => f.state.eq_ignore_ascii_case(s),
        TermKind::By(m) => f.classified_by == Some(*m),
        TermKind::Finding => f.findings > 0,
        TermKind::Flow(id) => f.id == *id,
        // Free text is matched against the row's text by the table; the others are keys for
        // findings, which the Flows table refuses before they get here.
        TermKind::Text(_) | TermKind::Severity(_) | TermKind::Code(_) => false,
    }
}
