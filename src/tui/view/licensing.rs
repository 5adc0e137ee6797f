//! The Licensing view: the sessions table, and the selected session's handshakes, announced
//! ports, vendor connections and features in the detail pane.

use super::record::{Doc, Record, RecordView, dim_style};
use crate::model::{
    AnnouncedOutcome, CadenceStats, ConnectionOutcome, FlowId, HandshakeOutcome, LicensingSession,
    Report, SeriesState, SessionStatus, name_of, port_class,
};
use crate::tui::app::{App, Hits, Tab};
use crate::tui::beats::strip;
use crate::tui::table::TableView;
use crate::tui::table::licensing::{Licensing, LicensingColumn};
use crate::tui::text::{duration, or_dash, time_of_day, time_of_day_micros};
use ctxscope_dissectors::{Proto, Timestamp};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;

/// The Licensing view.
pub struct View;

impl RecordView for View {
    type Model = Licensing;
    const TAB: Tab = Tab::Licensing;
    const RECORDS: &'static str = "licensing sessions";
    const PANE: (&'static str, &'static str) = ("Licensing", "no session selected");

    fn table(app: &mut App) -> (&mut TableView<Licensing>, &mut Hits) {
        (&mut app.licensing, &mut app.hits)
    }

    fn none(app: &App) -> String {
        let t = app.totals();
        let (lmgrd, vendor) = (t.flows_of(Proto::LMGRD), t.flows_of(Proto::VENDOR_DAEMON));
        format!(
            "no FlexLM licensing in this capture ({lmgrd} lmgrd and {vendor} vendor daemon connections)"
        )
    }

    fn cell_style(report: &Report, i: usize, column: LicensingColumn) -> Style {
        let s = &report.licensing[i];
        match column {
            LicensingColumn::Status => status_style(s.status),
            LicensingColumn::Beat => beat_style(s.beat_state()),
            LicensingColumn::Announced
                if s.handshakes
                    .iter()
                    .filter_map(|h| h.announced.as_ref())
                    .any(|a| !a.static_port || a.connection == AnnouncedOutcome::NotSeen) =>
            {
                Style::new().fg(Color::Yellow)
            }
            _ => Style::new(),
        }
    }

    fn record(report: &Report, i: usize, inner: Rect) -> Option<Record<'_>> {
        let s = report.licensing.get(i)?;
        Some(Record {
            title: format!(
                " Licensing {} → {} {}",
                s.client,
                s.server,
                or_dash(s.vendor.as_ref())
            ),
            doc: document(s, report, usize::from(inner.width)),
            top: None,
        })
    }
}

pub fn status_style(status: SessionStatus) -> Style {
    match status {
        SessionStatus::Ok => Style::new().fg(Color::Green),
        SessionStatus::DynamicPort
        | SessionStatus::Damaged
        | SessionStatus::CheckoutDenied
        | SessionStatus::ConnectionReset => Style::new().fg(Color::Yellow),
        SessionStatus::HeartbeatOverdue
        | SessionStatus::NotConnected
        | SessionStatus::LmgrdError
        | SessionStatus::Unreachable => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        SessionStatus::LmgrdOnly => dim_style(),
    }
}

/// Overdue red, ok green, the rest (closed, no series) dim.
pub fn beat_style(state: Option<SeriesState>) -> Style {
    match state {
        Some(SeriesState::Overdue) => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Some(SeriesState::Ok) => Style::new().fg(Color::Green),
        Some(SeriesState::Closed) | None => dim_style(),
    }
}

fn document(s: &LicensingSession, report: &Report, width: usize) -> Doc {
    let mut doc = Doc::default();
    doc.section(format!(
        "{} → license server {}, vendor daemon {}",
        s.client,
        s.server,
        or_dash(s.vendor.as_ref())
    ));
    doc.styled_field(
        "status",
        format!("{}: {}", name_of(&s.status), s.status.meaning()),
        status_style(s.status),
    );
    if let Some(notes) = s.notes_text() {
        doc.field("notes", notes);
    }
    if let Some(damage) = s.integrity_text() {
        doc.field("damaged", damage);
    }
    doc.field(
        "seen",
        format!(
            "{} to {} ({})",
            time_of_day_micros(s.first),
            time_of_day_micros(s.last),
            duration(s.last.since(s.first).as_secs_f64())
        ),
    );
    doc.field("licenses", s.licenses().to_string());
    if s.dropped > 0 {
        doc.styled_field(
            "not kept",
            format!("{} records (lists full)", s.dropped),
            Style::new().fg(Color::Yellow),
        );
    }

    doc.section(format!("lmgrd handshakes ({})", s.handshakes.len()));
    if s.handshakes.is_empty() {
        doc.dim("none: the client went straight to the vendor daemon");
    }
    for h in &s.handshakes {
        let outcome = Span::styled(name_of(&h.outcome), handshake_style(h.outcome));
        let what = format!("lmgrd :{}", h.lmgrd_port);
        connection_link(&mut doc, h.flow, h.at, what, outcome, None);
        let mut who = Vec::new();
        if let Some(u) = &h.user {
            who.push(format!("user {u}"));
        }
        if let Some(c) = &h.client_host {
            who.push(format!("host {c}"));
        }
        if let Some(v) = &h.client_version {
            who.push(format!("client v{v}"));
        }
        if let Some(v) = &h.server_version {
            who.push(format!("lmgrd v{v}"));
        }
        if !who.is_empty() {
            doc.text(format!("    {}", who.join("  ")));
        }
        if let Some(a) = &h.announced {
            let style = match (a.static_port, a.connection) {
                (_, AnnouncedOutcome::NotSeen) => {
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
                }
                (false, _) => Style::new().fg(Color::Yellow),
                (true, _) => Style::new().fg(Color::Green),
            };
            let used = a
                .vendor_flow
                .map_or(String::new(), |f| format!(" (flow {f})"));
            doc.line(ratatui::text::Line::from(vec![
                Span::raw(format!("      announced {}:{} ", a.host, a.port)),
                Span::styled(
                    format!(
                        "{} → {}{used}",
                        port_class(a.static_port),
                        name_of(&a.result())
                    ),
                    style,
                ),
            ]));
        }
    }

    doc.section(format!(
        "Vendor daemon connections ({})",
        s.vendor_connections.len()
    ));
    if s.vendor_connections.is_empty() {
        doc.dim("none");
    }
    for v in &s.vendor_connections {
        let outcome = Span::styled(name_of(&v.outcome), connection_style(v.outcome));
        let what = format!(":{} {}", v.port, port_class(v.static_port));
        let by = Some(v.announcement());
        connection_link(&mut doc, v.flow, v.started, what, outcome, by);
        doc.text(format!(
            "    {}, {} heartbeat messages",
            v.licenses(),
            v.heartbeat_messages
        ));
        match &v.heartbeats {
            Some(c) => cadence(&mut doc, c, v.is_open(), report, width),
            None => doc.dim("    no heartbeats seen"),
        }
    }

    doc.section(format!("Features ({})", s.features.len()));
    if s.features.is_empty() {
        doc.dim("none seen");
    }
    for f in &s.features {
        doc.text(format!("{:<28} {}", f.feature.to_string(), f.licenses()));
    }

    doc.findings(report, &crate::tui::table::licensing::flows(s), width);
    doc
}

/// A link to one of the session's connections: when it started, `what` it was, how it went
/// (`outcome`, coloured) and a note after it.
fn connection_link(
    doc: &mut Doc,
    flow: FlowId,
    at: Timestamp,
    what: String,
    outcome: Span<'static>,
    note: Option<String>,
) {
    let mut spans = vec![
        Span::raw(format!("flow {flow:<5} {}  {what}  ", time_of_day(at))),
        outcome,
    ];
    spans.extend(note.map(|n| Span::raw(format!("  {n}"))));
    doc.link(flow, spans);
}

/// Heartbeat statistics of a series, and its timeline on one line.
pub fn cadence(doc: &mut Doc, c: &CadenceStats, open: bool, report: &Report, width: usize) {
    let state = SeriesState::of(open, c.overdue);
    doc.line(ratatui::text::Line::from(vec![
        Span::raw(format!(
            "      {} beats ({}), last {}, median {}, jitter {}, longest silence {}  ",
            c.count,
            c.source.word(),
            c.last.map_or("-".into(), time_of_day),
            c.interval_median_secs.map_or("-".into(), duration),
            c.jitter_secs.map_or("-".into(), duration),
            duration(c.longest_silence_secs)
        )),
        Span::styled(state.word(), beat_style(Some(state))),
    ]));
    let end = crate::tui::table::heartbeats::series_end(report, open, c.last);
    let line = strip(
        &c.beats,
        end,
        c.interval_median_secs,
        width.saturating_sub(8).clamp(8, 72),
    );
    doc.line(ratatui::text::Line::from(vec![
        Span::raw("      "),
        Span::styled(line.text(), beat_style(Some(state))),
    ]));
}

fn handshake_style(o: HandshakeOutcome) -> Style {
    match o {
        HandshakeOutcome::Redirected | HandshakeOutcome::Answered => Style::new().fg(Color::Green),
        HandshakeOutcome::Refused
        | HandshakeOutcome::NoAnswer
        | HandshakeOutcome::Error
        | HandshakeOutcome::NoRedirect => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        HandshakeOutcome::Connected | HandshakeOutcome::InProgress => Style::new(),
    }
}

fn connection_style(o: ConnectionOutcome) -> Style {
    match o {
        ConnectionOutcome::Open | ConnectionOutcome::Closed => Style::new().fg(Color::Green),
        ConnectionOutcome::Reset => Style::new().fg(Color::Yellow),
        ConnectionOutcome::Refused | ConnectionOutcome::NoAnswer => {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        }
        ConnectionOutcome::Seen => Style::new(),
    }
}
