//! The Licensing table: one row per client, license server and vendor daemon: did the client
//! reach lmgrd, which vendor port was it sent to, did the vendor connection work, and are
//! checkouts and heartbeats flowing.

use super::{ColumnSpec, FlowLinks, Sort, TableModel, has_findings, sort_rows};
use crate::model::{
    FlowId, LicensingSession, Report, SeriesState, SessionStatus, name_of, port_class,
};
use crate::tui::query::{Query, TermKind};
use crate::tui::text::{or_dash, time_of_day};
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use strum::VariantArray;

/// The columns, in display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, VariantArray)]
pub enum LicensingColumn {
    Client,
    Server,
    Vendor,
    Status,
    Lmgrd,
    Announced,
    VendorConnections,
    Checkouts,
    Checkins,
    LastBeat,
    Beat,
}

pub struct Licensing;

fn session(report: &Report, i: usize) -> &LicensingSession {
    &report.licensing[i]
}

/// The heartbeats' state: `OVERDUE`, `ok`, `closed`, or `-` without heartbeats.
pub fn beat(s: &LicensingSession) -> &'static str {
    s.beat_state().map_or("-", SeriesState::word)
}

/// Needs attention: licensing fails, or a vendor connection went quiet.
pub fn in_trouble(s: &LicensingSession) -> bool {
    matches!(
        s.status,
        SessionStatus::Unreachable
            | SessionStatus::LmgrdError
            | SessionStatus::NotConnected
            | SessionStatus::ConnectionReset
    ) || s.beat_state() == Some(SeriesState::Overdue)
}

/// The session's identity across snapshots (its position in the list can change while live
/// connections are folded in).
pub fn identity(s: &LicensingSession) -> u64 {
    let mut h = DefaultHasher::new();
    (s.client, s.server, &s.vendor).hash(&mut h);
    h.finish()
}

/// `1 redirected, 2 refused`: handshakes per outcome, in order of first appearance.
pub fn handshake_counts(s: &LicensingSession) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for h in &s.handshakes {
        let o = name_of(&h.outcome);
        match counts.iter_mut().find(|(n, _)| *n == o) {
            Some((_, c)) => *c += 1,
            None => counts.push((o, 1)),
        }
    }
    if counts.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = counts.iter().map(|(n, c)| format!("{c} {n}")).collect();
    parts.join(", ")
}

/// `items` joined with `, `, runs of the same item as one with a count (`7279 open x3`);
/// `-` for none.
fn summarise(items: impl Iterator<Item = String>) -> String {
    let mut runs: Vec<(String, usize)> = Vec::new();
    for item in items {
        match runs.last_mut() {
            Some((last, n)) if *last == item => *n += 1,
            _ => runs.push((item, 1)),
        }
    }
    if runs.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = runs
        .into_iter()
        .map(|(item, n)| if n > 1 { format!("{item} x{n}") } else { item })
        .collect();
    parts.join(", ")
}

/// `7279 static connected, 52011 dynamic not_seen`
pub fn announced(s: &LicensingSession) -> String {
    summarise(
        s.handshakes
            .iter()
            .filter_map(|h| h.announced.as_ref())
            .map(|a| {
                format!(
                    "{} {} {}",
                    a.port,
                    port_class(a.static_port),
                    name_of(&a.result())
                )
            }),
    )
}

/// `7279 open, 7279 reset`
fn vendor_connections(s: &LicensingSession) -> String {
    summarise(
        s.vendor_connections
            .iter()
            .map(|v| format!("{} {}", v.port, name_of(&v.outcome))),
    )
}

fn ports(s: &LicensingSession) -> impl Iterator<Item = u16> + '_ {
    s.handshakes
        .iter()
        .flat_map(|h| std::iter::once(h.lmgrd_port).chain(h.announced.as_ref().map(|a| a.port)))
        .chain(s.vendor_connections.iter().map(|v| v.port))
}

/// The flows of a session: its lmgrd handshakes, then its vendor connections.
pub fn flows(s: &LicensingSession) -> Vec<FlowId> {
    let mut ids: Vec<FlowId> = Vec::new();
    let all = s
        .handshakes
        .iter()
        .map(|h| h.flow)
        .chain(s.vendor_connections.iter().map(|v| v.flow));
    for id in all {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

impl TableModel for Licensing {
    type Column = LicensingColumn;
    const KEYS: &'static [&'static str] = &["host", "port", "vendor", "status", "flow", "finding"];
    /// Worst first: unreachable, not connected, dynamic port, lmgrd only, ok.
    const DEFAULT_SORT: Sort<LicensingColumn> = Sort {
        column: LicensingColumn::Status,
        descending: true,
    };

    fn spec(column: LicensingColumn) -> ColumnSpec {
        let (header, width, right, keep) = match column {
            LicensingColumn::Client => ("CLIENT", 15, false, 1),
            LicensingColumn::Server => ("LICENSE SERVER", 15, false, 2),
            LicensingColumn::Vendor => ("VENDOR", 8, false, 5),
            // Fits the longest status word, heartbeat_overdue.
            LicensingColumn::Status => ("STATUS", 17, false, 0),
            LicensingColumn::Lmgrd => ("LMGRD", 18, false, 6),
            LicensingColumn::Announced => ("ANNOUNCED PORT", 21, false, 3),
            LicensingColumn::VendorConnections => ("VENDOR CONN", 16, false, 7),
            LicensingColumn::Checkouts => ("CHK OUT", 8, true, 8),
            LicensingColumn::Checkins => ("CHK IN", 7, true, 9),
            LicensingColumn::LastBeat => ("LAST BEAT", 12, false, 10),
            LicensingColumn::Beat => ("BEAT", 7, false, 4),
        };
        ColumnSpec {
            header,
            width,
            right,
            keep,
            // Summaries of lists: they take the width left over.
            fill: matches!(
                column,
                LicensingColumn::Lmgrd
                    | LicensingColumn::Announced
                    | LicensingColumn::VendorConnections
            ),
            extra: column == LicensingColumn::Checkins,
        }
    }

    fn len(report: &Report) -> usize {
        report.licensing.len()
    }

    fn key(report: &Report, i: usize) -> u64 {
        identity(session(report, i))
    }

    fn cell(report: &Report, i: usize, column: LicensingColumn) -> String {
        let s = session(report, i);
        match column {
            LicensingColumn::Client => s.client.to_string(),
            LicensingColumn::Server => s.server.to_string(),
            LicensingColumn::Vendor => or_dash(s.vendor.as_ref()),
            LicensingColumn::Status => name_of(&s.status),
            LicensingColumn::Lmgrd => handshake_counts(s),
            LicensingColumn::Announced => announced(s),
            LicensingColumn::VendorConnections => vendor_connections(s),
            LicensingColumn::Checkouts => s.checkouts.to_string(),
            LicensingColumn::Checkins => s.checkins.to_string(),
            LicensingColumn::LastBeat => s.last_beat().map_or("-".into(), time_of_day),
            LicensingColumn::Beat => beat(s).to_string(),
        }
    }

    fn sort(report: &Report, rows: &mut [usize], column: LicensingColumn, descending: bool) {
        let s = |i: usize| session(report, i);
        let d = descending;
        // Ties keep the order sessions were first seen in.
        let id = |i: usize| i as u64;
        match column {
            LicensingColumn::Client => sort_rows(rows, d, |i| ((s(i).client, s(i).server), id(i))),
            LicensingColumn::Server => sort_rows(rows, d, |i| ((s(i).server, s(i).client), id(i))),
            LicensingColumn::Vendor => sort_rows(rows, d, |i| (s(i).vendor.clone(), id(i))),
            LicensingColumn::Status => sort_rows(rows, d, |i| (s(i).status, id(i))),
            LicensingColumn::Lmgrd => sort_rows(rows, d, |i| (handshake_counts(s(i)), id(i))),
            LicensingColumn::Announced => sort_rows(rows, d, |i| (announced(s(i)), id(i))),
            LicensingColumn::VendorConnections => {
                sort_rows(rows, d, |i| (vendor_connections(s(i)), id(i)))
            }
            LicensingColumn::Checkouts => sort_rows(rows, d, |i| (s(i).checkouts, id(i))),
            LicensingColumn::Checkins => sort_rows(rows, d, |i| (s(i).checkins, id(i))),
            LicensingColumn::LastBeat => sort_rows(rows, d, |i| (s(i).last_beat(), id(i))),
            LicensingColumn::Beat => sort_rows(rows, d, |i| (s(i).beat_state(), id(i))),
        }
    }

    fn search_text(report: &Report, i: usize, out: &mut String) {
        let s = session(report, i);
        let _ = write!(
            out,
            "{} {} {} {} {} {} {} {}",
            s.client,
            s.server,
            or_dash(s.vendor.as_ref()),
            name_of(&s.status),
            handshake_counts(s),
            announced(s),
            vendor_connections(s),
            beat(s)
        );
        // Who asked, from where, and for what: what an admin remembers of a session.
        for h in &s.handshakes {
            for text in [&h.user, &h.client_host].into_iter().flatten() {
                let _ = write!(out, " {text}");
            }
        }
        for f in &s.features {
            let _ = write!(out, " {}", f.feature);
        }
    }

    fn matches(report: &Report, i: usize, query: &Query, text: &str) -> bool {
        let s = session(report, i);
        query.matches(|term| match term {
            TermKind::Text(needle) => text.contains(needle.as_str()),
            TermKind::Host(block) => block.contains(s.client) || block.contains(s.server),
            TermKind::Port(p) => ports(s).any(|x| x == *p),
            TermKind::Vendor(v) => s
                .vendor
                .as_ref()
                .is_some_and(|x| x.as_str().eq_ignore_ascii_case(v)),
            TermKind::Status(status) => s.status == *status,
            TermKind::Flow(id) => flows(s).contains(id),
            TermKind::Finding => has_findings(report, &flows(s)),
            // Refused by KEYS before they get here.
            _ => false,
        })
    }
}

impl FlowLinks for Licensing {
    fn flows(report: &Report, i: usize) -> Vec<FlowId> {
        flows(session(report, i))
    }
}

#[cfg(test)]
mod tests {
    use super::summarise;

    #[test]
    fn repeated_items_are_counted() {
        let items = ["7279 open", "7279 open", "7280 reset", "7279 open"];
        assert_eq!(
            summarise(items.iter().map(|s| s.to_string())),
            "7279 open x2, 7280 reset, 7279 open"
        );
        assert_eq!(summarise(std::iter::empty()), "-");
    }
}
