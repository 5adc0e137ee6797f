//! The Sessions view: ICA, CGP and EDT sessions, and for the selected one every field, the
//! transport it ended up on (with its TLS or DTLS handshake, or the EDT flows it fell back
//! from), its connections (an EDT one with its measurements), channels, keep-alives and findings
//! in the detail pane.

use super::facts::{edt_fields, handshake_fields};
use super::licensing::{beat_style, cadence};
use super::record::{Doc, Record, RecordView, dim_style};
use crate::model::{CitrixSession, Report, RttStats, SessionEnd};
use crate::output::facts::launch_summary;
use crate::tui::app::{App, Hits, Tab};
use crate::tui::table::TableView;
use crate::tui::table::sessions::{SessionColumn, Sessions};
use crate::tui::text::{bytes, duration, or_dash, round_trip, sparkline, time_of_day_micros};
use ctxscope_dissectors::ica::EncryptionKind;
use ctxscope_dissectors::{Proto, Summary};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;

/// The Sessions view.
pub struct View;

impl RecordView for View {
    type Model = Sessions;
    const TAB: Tab = Tab::Sessions;
    const RECORDS: &'static str = "sessions";
    const PANE: (&'static str, &'static str) = ("Sessions", "no session selected");

    fn table(app: &mut App) -> (&mut TableView<Sessions>, &mut Hits) {
        (&mut app.sessions, &mut app.hits)
    }

    fn none(app: &App) -> String {
        let t = app.totals();
        let [ica, cgp, edt] = [Proto::ICA, Proto::CGP, Proto::EDT].map(|p| t.flows_of(p));
        format!(
            "no ICA, CGP or EDT sessions in this capture ({ica} ICA and {cgp} CGP connections, {edt} EDT flows)"
        )
    }

    fn cell_style(report: &Report, i: usize, column: SessionColumn) -> Style {
        let s = &report.sessions[i];
        match column {
            SessionColumn::Encryption => encryption_style(s),
            SessionColumn::State => state_style(s),
            SessionColumn::KeepAlive => beat_style(s.keepalive_state()),
            SessionColumn::Reconnects if s.reconnects > 0 => Style::new().fg(Color::Cyan),
            _ => Style::new(),
        }
    }

    fn record(report: &Report, i: usize, inner: Rect) -> Option<Record<'_>> {
        let s = report.sessions.get(i)?;
        Some(Record {
            title: format!(
                " Session {} ({}) {} → {}",
                s.id,
                s.via.label(),
                s.client,
                s.server
            ),
            doc: document(s, report, usize::from(inner.width)),
            top: None,
        })
    }
}

/// Basic encryption (a key anyone can read), none and a deprecated TLS version in warning
/// colours.
fn encryption_style(s: &CitrixSession) -> Style {
    if let Some(h) = &s.tls {
        return match &h.server_hello {
            Some(chosen) if chosen.version.is_legacy() => Style::new().fg(Color::Yellow),
            Some(_) => Style::new().fg(Color::Green),
            None => dim_style(),
        };
    }
    match s.encryption {
        Some(EncryptionKind::None) => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Some(EncryptionKind::Basic) => Style::new().fg(Color::Yellow),
        _ if s.key_exchanged_in_clear => Style::new().fg(Color::Yellow),
        Some(EncryptionKind::Rc5) => Style::new().fg(Color::Green),
        Some(EncryptionKind::Unknown) => Style::new(),
        None => dim_style(),
    }
}

fn state_style(s: &CitrixSession) -> Style {
    match (s.open, s.ended_by) {
        (true, _) => Style::new().fg(Color::Green),
        (false, Some(SessionEnd::Reset)) => {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        }
        (false, Some(SessionEnd::Disconnect | SessionEnd::TcpClose)) => {
            Style::new().fg(Color::Yellow)
        }
        _ => Style::new(),
    }
}

fn document(s: &CitrixSession, report: &Report, width: usize) -> Doc {
    let mut doc = Doc::default();
    doc.section(format!("Session {}: {} → {}", s.id, s.client, s.server));
    doc.field("transport", s.transport_text());
    doc.styled_field("state", s.state(), state_style(s));
    let edt = s.is_edt();
    if edt {
        doc.dim("nothing inside EDT is read: no logon, no ICA frames, no channels");
    } else {
        logon(&mut doc, s);
    }
    doc.styled_field("encryption", s.encryption_text(), encryption_style(s));
    if let Some(p) = &s.proxied_to {
        doc.field("proxied to", p.to_string());
    }
    doc.field(
        "seen",
        format!(
            "{} to {} ({})",
            time_of_day_micros(s.start),
            time_of_day_micros(s.last),
            duration(s.last.since(s.start).as_secs_f64())
        ),
    );
    doc.field("reconnects", s.reconnects.to_string());
    if !edt {
        doc.field(
            "ICA frames",
            format!(
                "{} client>server, {} server>client",
                s.frames[0], s.frames[1]
            ),
        );
        doc.field(
            "ICA payload",
            format!(
                "{} client>server, {} server>client",
                bytes(s.bytes[0]),
                bytes(s.bytes[1])
            ),
        );
    }

    if let Some(h) = &s.tls {
        doc.section(if edt {
            "DTLS handshake"
        } else {
            "TLS handshake"
        });
        for (name, value) in handshake_fields(h, None, "-") {
            doc.field(name, value);
        }
    }

    if !s.edt_attempts.is_empty() {
        doc.section(format!(
            "Fell back from EDT: UDP flows without an answer ({})",
            s.edt_attempts.len()
        ));
        for &id in &s.edt_attempts {
            flow_link(&mut doc, report, id, "EDT attempt");
        }
    }

    doc.section(format!("Connections ({})", s.flows.len()));
    for (n, &id) in s.flows.iter().enumerate() {
        let role = if n == 0 {
            "first connection".to_string()
        } else if edt {
            format!("continued ({n})")
        } else {
            format!("reconnect {n}")
        };
        flow_link(&mut doc, report, id, &role);
    }

    if edt {
        for &id in &s.flows {
            let Some(Summary::Edt(m)) = report.flow(id).and_then(|f| f.summary.as_ref()) else {
                continue;
            };
            doc.section(format!("EDT measurements, flow {id}"));
            for (name, value) in edt_fields(m) {
                doc.field(name, value);
            }
        }
        launch(&mut doc, s, width);
        doc.findings(report, &session_flows(s), width);
        return doc;
    }

    doc.section(format!("Virtual channels ({})", s.channels.len()));
    if s.channels.is_empty() {
        doc.dim("none bound or used");
    } else {
        doc.line(ratatui::text::Line::styled(
            format!(
                "  {:>4}  {:<10} {:>11} {:>11} {:>11} {:>11}",
                "CH", "NAME", "WRITES C>S", "WRITES S>C", "BYTES C>S", "BYTES S>C"
            ),
            dim_style(),
        ));
    }
    for c in &s.channels {
        doc.text(format!(
            "{:>4}  {:<10} {:>11} {:>11} {:>11} {:>11}",
            c.channel,
            or_dash(c.name.as_ref()),
            c.writes[0],
            c.writes[1],
            bytes(c.bytes[0]),
            bytes(c.bytes[1])
        ));
    }

    doc.section("Keep-alives");
    match &s.keepalive {
        Some(k) => {
            doc.text(k.kind.label());
            cadence(&mut doc, k, s.open, report, width);
        }
        None => doc.dim("none seen"),
    }

    latency(&mut doc, s);
    launch(&mut doc, s, width);
    doc.findings(report, &session_flows(s), width);
    doc
}

/// Round trips on each side of the capture point, each with its minutes as a sparkline, and
/// the server's think time.
fn latency(doc: &mut Doc, s: &CitrixSession) {
    let sides = [
        ("client RTT", &s.rtt_client_side),
        ("server RTT", &s.rtt_server_side),
    ];
    if sides.iter().all(|(_, st)| st.is_none()) && s.think_time.is_none() {
        return;
    }
    doc.section("Latency from the capture point (sparkline: median per minute, last hour)");
    for (name, stats) in sides {
        let Some(st) = stats else {
            doc.field(name, "no sample");
            continue;
        };
        let medians: Vec<u64> = st
            .minutes
            .iter()
            .map(|m| (m.median_ms * 1e3) as u64)
            .collect();
        doc.field(
            name,
            format!("{}  {}", figures(st, "samples"), sparkline(&medians)),
        );
    }
    if let Some(think) = &s.think_time {
        doc.field("server think", figures(think, "exchanges"));
    }
}

/// "85 ms median, p95 210 ms, 340 samples".
fn figures(st: &RttStats, unit: &str) -> String {
    format!(
        "{} median, p95 {}, {} {unit}",
        round_trip(st.median_ms),
        round_trip(st.p95_ms),
        st.samples
    )
}

/// The launch: its length and slowest phase, then its steps, each with the time since the
/// one before.
fn launch(doc: &mut Doc, s: &CitrixSession, width: usize) {
    let l = &s.launch;
    let Some(first) = l.steps.first() else {
        return;
    };
    doc.section(format!("Launch: {}", launch_summary(l)));
    let steps: Vec<String> = l
        .steps
        .iter()
        .skip(1)
        .map(|st| format!("{} +{}", st.step.name(), round_trip(st.after_ms)))
        .collect();
    let text = format!(
        "{} {}, {}",
        first.step.name(),
        time_of_day_micros(first.at),
        steps.join(", ")
    );
    doc.wrapped(2, text.trim_end_matches(", "), width, Style::new());
}

/// Who logged on, and whether a password crossed.
fn logon(doc: &mut Doc, s: &CitrixSession) {
    doc.field("client name", or_dash(s.client_name.as_ref()));
    doc.field("application", or_dash(s.application.as_ref()));
    doc.field("client build", or_dash(s.client_build.as_ref()));
    doc.field("domain", or_dash(s.domain.as_ref()));
    doc.field("user", or_dash(s.user_name.as_ref()));
    if s.password_present {
        doc.styled_field(
            "password",
            "sent in the init phase (its value is never kept)",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        );
    } else {
        doc.field("password", "not sent");
    }
}

/// The session's connections and the EDT flows it fell back from: their findings are its.
fn session_flows(s: &CitrixSession) -> Vec<u64> {
    s.flows.iter().chain(&s.edt_attempts).copied().collect()
}

/// A line naming flow `id` (Enter opens it in Flows): its ends, state and duration, and `role`.
fn flow_link(doc: &mut Doc, report: &Report, id: u64, role: &str) {
    let facts = report.flow(id).map_or_else(
        || "not in the report (over the flow record cap)".to_string(),
        |f| {
            format!(
                "{} → {}  {} {}  {}",
                f.client,
                f.server,
                f.transport.name(),
                f.state,
                duration(f.duration_secs)
            )
        },
    );
    doc.link(id, vec![Span::raw(format!("flow {id:<5} {facts}  {role}"))]);
}
