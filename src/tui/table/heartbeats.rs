//! The Heartbeats table: one row per heartbeat or keep-alive series of a long-lived connection,
//! with its cadence and a timeline of its beats.

use super::{ColumnSpec, FlowLinks, Sort, TableModel, f64_order, has_findings, sort_rows};
use crate::model::{FlowId, HeartbeatSeries, Report, SeriesState};
use crate::tui::beats::{Strip, strip};
use crate::tui::query::{Query, TermKind};
use crate::tui::text::{duration, or_dash, time_of_day};
use ctxscope_dissectors::Timestamp;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatColumn {
    Flow,
    Proto,
    Kind,
    Source,
    Client,
    Server,
    Beats,
    LastBeat,
    Median,
    Jitter,
    Silence,
    State,
    Timeline,
}

pub struct Heartbeats;

fn series(report: &Report, i: usize) -> &HeartbeatSeries {
    &report.heartbeats[i]
}

pub fn in_trouble(h: &HeartbeatSeries) -> bool {
    h.state() == SeriesState::Overdue
}

/// Where a series' timeline ends: now (the end of the capture) while it is open, so a silence
/// still going on shows; its last beat once closed.
pub fn series_end(report: &Report, open: bool, last: Option<Timestamp>) -> Timestamp {
    let capture_end = report.capture.last.filter(|_| open);
    capture_end.max(last).unwrap_or_default()
}

/// The series' timeline in `width` buckets.
pub fn timeline(report: &Report, h: &HeartbeatSeries, width: usize) -> Strip {
    let s = &h.stats;
    strip(
        &s.beats,
        series_end(report, h.open, s.last),
        s.interval_median_secs,
        width,
    )
}

/// Identity across snapshots: (flow, kind), the order the report lists series in.
fn identity(h: &HeartbeatSeries) -> u64 {
    h.flow << 2 | h.stats.kind as u64
}

/// The longest silence in intervals (how far a series fell behind its own cadence).
fn gappiness(h: &HeartbeatSeries) -> f64 {
    let s = &h.stats;
    match s.interval_median_secs {
        Some(m) if m > 0.0 => s.longest_silence_secs / m,
        _ => 0.0,
    }
}

impl TableModel for Heartbeats {
    type Column = HeartbeatColumn;
    const COLUMNS: &'static [HeartbeatColumn] = &[
        HeartbeatColumn::Flow,
        HeartbeatColumn::Proto,
        HeartbeatColumn::Kind,
        HeartbeatColumn::Source,
        HeartbeatColumn::Client,
        HeartbeatColumn::Server,
        HeartbeatColumn::Beats,
        HeartbeatColumn::LastBeat,
        HeartbeatColumn::Median,
        HeartbeatColumn::Jitter,
        HeartbeatColumn::Silence,
        HeartbeatColumn::State,
        HeartbeatColumn::Timeline,
    ];
    const KEYS: &'static [&'static str] =
        &["proto", "host", "port", "flow", "kind", "state", "finding"];
    const DEFAULT_SORT: Sort<HeartbeatColumn> = Sort {
        column: HeartbeatColumn::Flow,
        descending: false,
    };

    fn spec(column: HeartbeatColumn) -> ColumnSpec {
        let (header, width, right, keep) = match column {
            HeartbeatColumn::Flow => ("FLOW", 6, true, 0),
            HeartbeatColumn::Proto => ("PROTO", 13, false, 9),
            HeartbeatColumn::Kind => ("KIND", 13, false, 2),
            HeartbeatColumn::Source => ("SOURCE", 8, false, 11),
            HeartbeatColumn::Client => ("CLIENT", 21, false, 8),
            HeartbeatColumn::Server => ("SERVER", 21, false, 3),
            HeartbeatColumn::Beats => ("BEATS", 6, true, 4),
            HeartbeatColumn::LastBeat => ("LAST BEAT", 12, false, 10),
            HeartbeatColumn::Median => ("MEDIAN", 7, true, 6),
            HeartbeatColumn::Jitter => ("JITTER", 7, true, 7),
            HeartbeatColumn::Silence => ("SILENCE", 8, true, 5),
            HeartbeatColumn::State => ("STATE", 7, false, 1),
            HeartbeatColumn::Timeline => ("TIMELINE", 12, false, 0),
        };
        ColumnSpec {
            header,
            width,
            right,
            keep,
            fill: column == HeartbeatColumn::Timeline,
            extra: false,
        }
    }

    fn len(report: &Report) -> usize {
        report.heartbeats.len()
    }

    fn key(report: &Report, i: usize) -> u64 {
        identity(series(report, i))
    }

    fn cell(report: &Report, i: usize, column: HeartbeatColumn) -> String {
        let h = series(report, i);
        let s = &h.stats;
        match column {
            HeartbeatColumn::Flow => h.flow.to_string(),
            HeartbeatColumn::Proto => h.proto.map_or("-", |p| p.name()).to_string(),
            HeartbeatColumn::Kind => s.kind.label().to_string(),
            HeartbeatColumn::Source => s.source.word().to_string(),
            HeartbeatColumn::Client => h.client.to_string(),
            HeartbeatColumn::Server => h.server.to_string(),
            HeartbeatColumn::Beats => s.count.to_string(),
            HeartbeatColumn::LastBeat => s.last.map_or("-".into(), time_of_day),
            HeartbeatColumn::Median => s.interval_median_secs.map_or("-".into(), duration),
            HeartbeatColumn::Jitter => s.jitter_secs.map_or("-".into(), duration),
            HeartbeatColumn::Silence => duration(s.longest_silence_secs),
            HeartbeatColumn::State => h.state().word().to_string(),
            HeartbeatColumn::Timeline => timeline(report, h, 12).text(),
        }
    }

    fn sized_cell(report: &Report, i: usize, column: HeartbeatColumn, width: u16) -> String {
        match column {
            HeartbeatColumn::Timeline => timeline(report, series(report, i), width.into()).text(),
            other => Self::cell(report, i, other),
        }
    }

    fn sort(report: &Report, rows: &mut [usize], column: HeartbeatColumn, descending: bool) {
        let h = |i: usize| series(report, i);
        let d = descending;
        let id = |i: usize| identity(h(i));
        match column {
            HeartbeatColumn::Flow => sort_rows(rows, d, |i| (h(i).flow, id(i))),
            HeartbeatColumn::Proto => sort_rows(rows, d, |i| (h(i).proto, id(i))),
            HeartbeatColumn::Kind => sort_rows(rows, d, |i| (h(i).stats.kind as u8, id(i))),
            HeartbeatColumn::Source => sort_rows(rows, d, |i| (h(i).stats.source as u8, id(i))),
            HeartbeatColumn::Client => sort_rows(rows, d, |i| (h(i).client, id(i))),
            HeartbeatColumn::Server => sort_rows(rows, d, |i| (h(i).server, id(i))),
            HeartbeatColumn::Beats => sort_rows(rows, d, |i| (h(i).stats.count, id(i))),
            HeartbeatColumn::LastBeat => sort_rows(rows, d, |i| (h(i).stats.last, id(i))),
            HeartbeatColumn::Median => sort_rows(rows, d, |i| {
                let m = h(i).stats.interval_median_secs;
                (m.map(f64_order), id(i))
            }),
            HeartbeatColumn::Jitter => {
                sort_rows(rows, d, |i| (h(i).stats.jitter_secs.map(f64_order), id(i)))
            }
            HeartbeatColumn::Silence => sort_rows(rows, d, |i| {
                (f64_order(h(i).stats.longest_silence_secs), id(i))
            }),
            HeartbeatColumn::State => sort_rows(rows, d, |i| (h(i).state(), id(i))),
            HeartbeatColumn::Timeline => {
                sort_rows(rows, d, |i| (f64_order(gappiness(h(i))), id(i)))
            }
        }
    }

    fn search_text(report: &Report, i: usize, out: &mut String) {
        let h = series(report, i);
        let _ = write!(
            out,
            "{} {} {} {} {} {} {}",
            h.flow,
            or_dash(h.proto.map(|p| p.name()).as_ref()),
            h.stats.kind.label(),
            h.stats.source.word(),
            h.client,
            h.server,
            h.state().word()
        );
    }

    fn matches(report: &Report, i: usize, query: &Query, text: &str) -> bool {
        let h = series(report, i);
        query.matches(|term| match term {
            TermKind::Text(needle) => text.contains(needle.as_str()),
            TermKind::Proto(p) => p.matches(h.proto),
            TermKind::Host(block) => block.contains(h.client.ip) || block.contains(h.server.ip),
            TermKind::Port(p) => h.client.port == *p || h.server.port == *p,
            TermKind::Flow(id) => h.flow == *id,
            TermKind::Kind(kind) => h.stats.kind == *kind,
            TermKind::State(s) => h.state().word().eq_ignore_ascii_case(s),
            TermKind::Finding => has_findings(report, &[h.flow]),
            // Refused by KEYS before they get here.
            _ => false,
        })
    }
}

impl FlowLinks for Heartbeats {
    fn flows(report: &Report, i: usize) -> Vec<FlowId> {
        vec![series(report, i).flow]
    }
}
