//! The Sessions table: ICA, CGP (session reliability) and EDT sessions, with who, what, over
//! which transport, how protected and how they ended.

use super::{ColumnSpec, FlowLinks, Sort, TableModel, has_findings, sort_rows};
use crate::model::{CitrixSession, FlowId, Report, RttStats, SeriesState};
use crate::tui::query::{Query, TermKind};
use crate::tui::text::{duration, or_dash, round_trip};
use std::fmt::Write as _;
use strum::VariantArray;

/// The columns, in display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, VariantArray)]
pub enum SessionColumn {
    Id,
    Transport,
    Client,
    Server,
    ClientName,
    Application,
    Build,
    Encryption,
    Channels,
    FramesToServer,
    FramesToClient,
    Reconnects,
    KeepAlive,
    ClientRtt,
    ServerRtt,
    Launch,
    State,
}

pub struct Sessions;

fn session(report: &Report, i: usize) -> &CitrixSession {
    &report.sessions[i]
}

/// The keep-alive series: `OVERDUE`, `ok`, `closed`, or `-` without one.
pub fn keepalive(s: &CitrixSession) -> &'static str {
    s.keepalive_state().map_or("-", SeriesState::word)
}

/// Open, and its keep-alives stopped.
pub fn in_trouble(s: &CitrixSession) -> bool {
    s.keepalive_state() == Some(SeriesState::Overdue)
}

/// A side's median round trip, `-` without a sample.
fn median(stats: Option<&RttStats>) -> String {
    stats.map_or("-".into(), |st| round_trip(st.median_ms))
}

/// A side's median in whole microseconds, to sort by (none first).
fn micros(stats: &Option<RttStats>) -> Option<u64> {
    stats.as_ref().map(|st| (st.median_ms * 1e3).round() as u64)
}

impl TableModel for Sessions {
    type Column = SessionColumn;
    const KEYS: &'static [&'static str] = &["proto", "host", "port", "flow", "state", "finding"];
    const DEFAULT_SORT: Sort<SessionColumn> = Sort {
        column: SessionColumn::Id,
        descending: false,
    };

    fn spec(column: SessionColumn) -> ColumnSpec {
        let (header, width, right, keep) = match column {
            // What the issue asks of a session first: client name, published application,
            // encryption, channels, state; the transport and reconnects next.
            SessionColumn::Id => ("ID", 4, true, 0),
            // `edt/dtls`, `fallback` at most.
            SessionColumn::Transport => ("VIA", 8, false, 3),
            SessionColumn::Client => ("CLIENT", 15, false, 8),
            SessionColumn::Server => ("SERVER", 21, false, 6),
            // ICA client names run to 20 characters.
            SessionColumn::ClientName => ("CLIENT NAME", 20, false, 1),
            SessionColumn::Application => ("APP", 8, false, 1),
            SessionColumn::Build => ("BUILD", 6, true, 11),
            // `basic, key in clear`; longer notes are cut.
            SessionColumn::Encryption => ("ENCRYPTION", 19, false, 2),
            SessionColumn::Channels => ("CH", 3, true, 4),
            SessionColumn::FramesToServer => ("FR C>S", 7, true, 9),
            SessionColumn::FramesToClient => ("FR S>C", 7, true, 10),
            SessionColumn::Reconnects => ("RECON", 6, true, 5),
            SessionColumn::KeepAlive => ("KEEPALIVE", 10, false, 7),
            // Medians ("850 µs", "1.2 s") and the launch to the first screen.
            SessionColumn::ClientRtt => ("C RTT", 7, true, 6),
            SessionColumn::ServerRtt => ("S RTT", 7, true, 7),
            SessionColumn::Launch => ("LAUNCH", 7, true, 8),
            SessionColumn::State => ("STATE", 10, false, 0),
        };
        ColumnSpec {
            header,
            width,
            right,
            keep,
            fill: column == SessionColumn::Application,
            // Beyond what the issue asks of a session (and the reconnect count): these make
            // way for a published application's whole name.
            extra: matches!(
                column,
                SessionColumn::Client
                    | SessionColumn::Server
                    | SessionColumn::KeepAlive
                    | SessionColumn::Build
                    | SessionColumn::FramesToServer
                    | SessionColumn::FramesToClient
            ),
        }
    }

    fn len(report: &Report) -> usize {
        report.sessions.len()
    }

    fn key(report: &Report, i: usize) -> u64 {
        session(report, i).id
    }

    fn cell(report: &Report, i: usize, column: SessionColumn) -> String {
        let s = session(report, i);
        match column {
            SessionColumn::Id => s.id.to_string(),
            SessionColumn::Transport => s.via.label().to_string(),
            SessionColumn::Client => s.client.to_string(),
            SessionColumn::Server => s.server.to_string(),
            SessionColumn::ClientName => or_dash(s.client_name.as_ref()),
            SessionColumn::Application => or_dash(s.application.as_ref()),
            SessionColumn::Build => or_dash(s.client_build.as_ref()),
            SessionColumn::Encryption => s.encryption_text(),
            // Nothing inside EDT is read.
            SessionColumn::Channels
            | SessionColumn::FramesToServer
            | SessionColumn::FramesToClient
                if s.is_edt() =>
            {
                "-".into()
            }
            SessionColumn::Channels => s.channels.len().to_string(),
            SessionColumn::FramesToServer => s.frames[0].to_string(),
            SessionColumn::FramesToClient => s.frames[1].to_string(),
            SessionColumn::Reconnects => s.reconnects.to_string(),
            SessionColumn::KeepAlive => keepalive(s).to_string(),
            SessionColumn::ClientRtt => median(s.rtt_client_side.as_ref()),
            SessionColumn::ServerRtt => median(s.rtt_server_side.as_ref()),
            SessionColumn::Launch => s.launch.duration_secs().map_or("-".into(), duration),
            SessionColumn::State => s.state().to_string(),
        }
    }

    fn sort(report: &Report, rows: &mut [usize], column: SessionColumn, descending: bool) {
        let s = |i: usize| session(report, i);
        let d = descending;
        let id = |i: usize| s(i).id;
        match column {
            SessionColumn::Id => sort_rows(rows, d, |i| (id(i), id(i))),
            SessionColumn::Transport => sort_rows(rows, d, |i| (s(i).via, id(i))),
            SessionColumn::Client => sort_rows(rows, d, |i| (s(i).client, id(i))),
            SessionColumn::Server => sort_rows(rows, d, |i| (s(i).server, id(i))),
            SessionColumn::ClientName => sort_rows(rows, d, |i| (s(i).client_name.clone(), id(i))),
            SessionColumn::Application => sort_rows(rows, d, |i| (s(i).application.clone(), id(i))),
            SessionColumn::Build => sort_rows(rows, d, |i| (s(i).client_build, id(i))),
            SessionColumn::Encryption => sort_rows(rows, d, |i| (s(i).encryption_text(), id(i))),
            SessionColumn::Channels => sort_rows(rows, d, |i| (s(i).channels.len(), id(i))),
            SessionColumn::FramesToServer => sort_rows(rows, d, |i| (s(i).frames[0], id(i))),
            SessionColumn::FramesToClient => sort_rows(rows, d, |i| (s(i).frames[1], id(i))),
            SessionColumn::Reconnects => sort_rows(rows, d, |i| (s(i).reconnects, id(i))),
            SessionColumn::KeepAlive => sort_rows(rows, d, |i| (s(i).keepalive_state(), id(i))),
            SessionColumn::ClientRtt => {
                sort_rows(rows, d, |i| (micros(&s(i).rtt_client_side), id(i)))
            }
            SessionColumn::ServerRtt => {
                sort_rows(rows, d, |i| (micros(&s(i).rtt_server_side), id(i)))
            }
            SessionColumn::Launch => sort_rows(rows, d, |i| {
                let launch = s(i).launch.duration_secs().map(|secs| (secs * 1e6) as u64);
                (launch, id(i))
            }),
            SessionColumn::State => sort_rows(rows, d, |i| (s(i).state(), id(i))),
        }
    }

    fn search_text(report: &Report, i: usize, out: &mut String) {
        let s = session(report, i);
        let _ = write!(
            out,
            "{} {} {} {} {} {} {} {} {}",
            s.id,
            s.via.label(),
            s.client,
            s.server,
            or_dash(s.client_name.as_ref()),
            or_dash(s.application.as_ref()),
            s.encryption_text(),
            keepalive(s),
            s.state()
        );
        for text in [&s.user_name, &s.domain].into_iter().flatten() {
            let _ = write!(out, " {text}");
        }
    }

    fn matches(report: &Report, i: usize, query: &Query, text: &str) -> bool {
        let s = session(report, i);
        query.matches(|term| match term {
            TermKind::Text(needle) => text.contains(needle.as_str()),
            TermKind::Proto(p) => p.matches(Some(s.transport)),
            TermKind::Host(block) => block.contains(s.client) || block.contains(s.server.ip),
            TermKind::Port(p) => s.server.port == *p,
            TermKind::Flow(id) => s.flows.contains(id),
            TermKind::State(st) => s.state().eq_ignore_ascii_case(st),
            TermKind::Finding => has_findings(report, &s.flows),
            // Refused by KEYS before they get here.
            _ => false,
        })
    }
}

impl FlowLinks for Sessions {
    fn flows(report: &Report, i: usize) -> Vec<FlowId> {
        session(report, i).flows.clone()
    }
}
