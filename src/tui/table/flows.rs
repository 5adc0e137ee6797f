//! The Flows table: one row per connection (TCP) or UDP flow.

use super::{ColumnSpec, Sort, TableModel, f64_order, sort_rows};
use crate::model::{FlowRecord, Report};
use crate::tui::query::{Query, TermKind};
use crate::tui::text::{bytes, duration, time_of_day};
use std::fmt::Write as _;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowColumn {
    Id,
    Transport,
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

fn flow(report: &Report, i: usize) -> &FlowRecord {
    &report.flows[i]
}

impl TableModel for Flows {
    type Column = FlowColumn;
    const COLUMNS: &'static [FlowColumn] = &[
        FlowColumn::Id,
        FlowColumn::Transport,
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
    const KEYS: &'static [&'static str] = &[
        "proto",
        "transport",
        "port",
        "host",
        "state",
        "by",
        "finding",
        "flow",
    ];
    const DEFAULT_SORT: Sort<FlowColumn> = Sort {
        column: FlowColumn::Id,
        descending: false,
    };

    fn spec(column: FlowColumn) -> ColumnSpec {
        // Widths leave room for the header and its sort arrow.
        let (header, width, right, keep) = match column {
            FlowColumn::Id => ("ID", 6, true, 0),
            // The transport (layer 4): `tcp` or `udp`. Past 80 columns; at 160 it takes the
            // place of the time the flow was last seen.
            FlowColumn::Transport => ("L4", 4, false, 12),
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
            FlowColumn::LastSeen => ("LAST SEEN", 12, false, 14),
            FlowColumn::History => ("HISTORY", 8, false, 13),
            FlowColumn::Findings => ("FIND", 5, true, 5),
        };
        ColumnSpec {
            header,
            width,
            right,
            keep,
            // A long-lived flow's history runs on: it takes the width left over.
            fill: column == FlowColumn::History,
            extra: false,
        }
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
            FlowColumn::Transport => f.transport.name().to_string(),
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

    fn sort(report: &Report, rows: &mut [usize], column: FlowColumn, descending: bool) {
        let f = |i: usize| flow(report, i);
        let d = descending;
        match column {
            FlowColumn::Id => sort_rows(rows, d, |i| (f(i).id, f(i).id)),
            FlowColumn::Transport => sort_rows(rows, d, |i| (f(i).transport, f(i).id)),
            FlowColumn::Proto => sort_rows(rows, d, |i| (f(i).proto, f(i).id)),
            FlowColumn::By => {
                sort_rows(rows, d, |i| (f(i).classified_by.map(|m| m.name()), f(i).id))
            }
            FlowColumn::Client => sort_rows(rows, d, |i| (f(i).client, f(i).id)),
            FlowColumn::Server => sort_rows(rows, d, |i| (f(i).server, f(i).id)),
            FlowColumn::State => sort_rows(rows, d, |i| (f(i).state, f(i).id)),
            FlowColumn::PacketsToServer => {
                sort_rows(rows, d, |i| (f(i).to_server.packets, f(i).id))
            }
            FlowColumn::PacketsToClient => {
                sort_rows(rows, d, |i| (f(i).to_client.packets, f(i).id))
            }
            FlowColumn::BytesToServer => sort_rows(rows, d, |i| (f(i).to_server.bytes, f(i).id)),
            FlowColumn::BytesToClient => sort_rows(rows, d, |i| (f(i).to_client.bytes, f(i).id)),
            FlowColumn::Duration => {
                sort_rows(rows, d, |i| (f64_order(f(i).duration_secs), f(i).id))
            }
            FlowColumn::LastSeen => sort_rows(rows, d, |i| (f(i).last, f(i).id)),
            FlowColumn::History => sort_rows(rows, d, |i| (f(i).history.as_str(), f(i).id)),
            FlowColumn::Findings => sort_rows(rows, d, |i| (f(i).findings, f(i).id)),
        }
    }

    fn same_row(old: &Report, j: usize, new: &Report, i: usize) -> bool {
        // A live snapshot shares the records of flows that did not change.
        Arc::ptr_eq(&old.flows[j], &new.flows[i])
    }

    fn search_text(report: &Report, i: usize, out: &mut String) {
        let f = flow(report, i);
        let _ = write!(
            out,
            "{} {} {} {} {} {} {} {}",
            f.id,
            f.transport.name(),
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
        TermKind::Transport(t) => f.transport == *t,
        TermKind::Port(p) => f.client.port == *p || f.server.port == *p,
        TermKind::Host(block) => block.contains(f.client.ip) || block.contains(f.server.ip),
        TermKind::State(s) => f.state.eq_ignore_ascii_case(s),
        TermKind::By(m) => f.classified_by == Some(*m),
        TermKind::Finding => f.findings > 0,
        TermKind::Flow(id) => f.id == *id,
        // Free text is matched against the row's text by the table; the others are keys of
        // other tables, which the Flows table refuses before they get here.
        TermKind::Text(_)
        | TermKind::Severity(_)
        | TermKind::Code(_)
        | TermKind::Vendor(_)
        | TermKind::Status(_)
        | TermKind::Kind(_) => false,
    }
}
