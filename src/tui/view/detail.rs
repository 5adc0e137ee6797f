//! The detail pane of one flow: overview, TCP (or UDP) counters per direction, what an EDT
//! flow measured and what a TLS or DTLS handshake showed, its findings, the decoded events in
//! order, and a hex/ASCII view of each direction's reassembled bytes (TCP).
//!
//! The pane is one scrollable document of sections. Events and hex lines are formatted only
//! when on screen, so a flow with a megabyte of stream costs no more to draw than a small one.

use super::clip::clip_sideways;
use super::facts::{edt_fields, tls_fields};
use super::fields::{compact, event_fields, ordered};
use super::record::field_line;
use super::severity_cell;
use crate::model::{FlowRecord, Report};
use crate::tui::app::App;
use crate::tui::stream::{DirStream, FlowStream, HexLine, KEEP_BYTES, StreamStatus};
use crate::tui::text::{bytes, clean, duration, time_of_day_micros};
use ctxscope_dissectors::{Dir, Event, Summary, Transport};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use std::fmt::Write as _;

pub fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let Some(report) = app.report().cloned() else {
        return;
    };
    let Some(shown) = app.detail().map(|d| d.flow) else {
        return;
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(Style::new().fg(Color::Blue));
    let inner = block.inner(area);
    if app.flows.selected_key() != Some(shown) {
        // The pane follows the selection; without one, it shows nothing rather than a flow
        // the table no longer points at.
        frame.render_widget(block.title(" Flow detail "), area);
        frame.render_widget(
            Paragraph::new(" no flow selected: none match the filter (Esc closes this pane)")
                .style(Style::new().fg(Color::DarkGray)),
            inner,
        );
        return;
    }
    let Some(detail) = app.detail_mut() else {
        return;
    };
    let Some(flow) = report.flow(detail.flow) else {
        frame.render_widget(block, area);
        frame.render_widget(
            Paragraph::new(format!(" flow {} is no longer in the report", detail.flow)),
            inner,
        );
        return;
    };
    let stream = detail.stream.clone();
    let guard = stream.as_ref().and_then(|s| s.lock().ok());
    let doc = Doc::build(flow, &report, guard.as_deref());
    let height = usize::from(inner.height);
    detail.scroll = detail.scroll.min(doc.len.saturating_sub(height));
    detail.page = height;
    detail.sections.clone_from(&doc.sections);
    let end = (detail.scroll + height).min(doc.len);
    let lines: Vec<Line> = (detail.scroll..end).map(|i| doc.line(i)).collect();
    let lines = clip_sideways(lines, &mut detail.hscroll, usize::from(inner.width));
    let title = format!(
        " Flow {} ({}) {} → {}  line {}/{} ",
        flow.id,
        flow.proto.map_or("unclassified", |p| p.name()),
        flow.client,
        flow.server,
        (detail.scroll + 1).min(doc.len),
        doc.len
    );
    frame.render_widget(
        block.title(super::record::fit_title(title, area.width)),
        area,
    );
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The pane's content: parts, some formatted up front (small), some on demand.
struct Doc<'a> {
    parts: Vec<Part<'a>>,
    /// First line of each section.
    sections: Vec<usize>,
    len: usize,
}

enum Part<'a> {
    Lines(Vec<Line<'static>>),
    Events(&'a [Event]),
    Hex(&'a DirStream),
}

impl Part<'_> {
    fn len(&self) -> usize {
        match self {
            Part::Lines(l) => l.len(),
            Part::Events(e) => e.len(),
            Part::Hex(d) => d.line_count(),
        }
    }
}

fn heading(text: String) -> Line<'static> {
    Line::from(Span::styled(
        text,
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
    ))
}

fn dim(text: String) -> Line<'static> {
    Line::from(Span::styled(text, Style::new().fg(Color::DarkGray)))
}

impl<'a> Doc<'a> {
    fn build(f: &'a FlowRecord, report: &Report, stream: Option<&'a FlowStream>) -> Doc<'a> {
        let mut doc = Doc {
            parts: Vec::new(),
            sections: Vec::new(),
            len: 0,
        };
        doc.section(overview(f));
        doc.section(counters(f));
        match &f.summary {
            Some(Summary::Edt(s)) => {
                doc.section(fields(
                    "EDT (UDP datagrams: nothing inside is decoded)",
                    edt_fields(s),
                ));
                if let Some(d) = &s.dtls {
                    doc.section(fields("DTLS handshake", tls_fields(&d.tls, d.version())));
                }
            }
            Some(Summary::Tls(s)) => doc.section(fields("TLS handshake", tls_fields(s, None))),
            _ => {}
        }
        doc.section(findings(f, report));
        let dropped = if f.events_dropped > 0 {
            format!(", {} more not kept", f.events_dropped)
        } else {
            String::new()
        };
        let events = if f.events.is_empty() {
            vec![heading("Events".into()), dim("  none decoded".into())]
        } else {
            vec![heading(format!("Events ({}{dropped})", f.events.len()))]
        };
        doc.section(events);
        doc.push(Part::Events(&f.events));
        if f.transport == Transport::Udp {
            doc.section(vec![
                heading("Datagrams".into()),
                dim("  a UDP flow's datagrams are measured above, not joined into a stream".into()),
            ]);
            return doc;
        }
        for dir in Dir::BOTH {
            doc.section(stream_heading(f, dir, stream));
            if let Some(s) = stream {
                doc.push(Part::Hex(s.dir(dir)));
            }
        }
        doc
    }

    fn section(&mut self, mut lines: Vec<Line<'static>>) {
        self.sections.push(self.len);
        lines.push(Line::default());
        self.push(Part::Lines(lines));
    }

    fn push(&mut self, part: Part<'a>) {
        self.len += part.len();
        self.parts.push(part);
    }

    fn line(&self, mut n: usize) -> Line<'static> {
        for p in &self.parts {
            let len = p.len();
            if n >= len {
                n -= len;
                continue;
            }
            return match p {
                Part::Lines(lines) => lines.get(n).cloned().unwrap_or_default(),
                Part::Events(events) => events.get(n).map(event_line).unwrap_or_default(),
                Part::Hex(d) => d.line(n).map(hex_line).unwrap_or_default(),
            };
        }
        Line::default()
    }
}

fn overview(f: &FlowRecord) -> Vec<Line<'static>> {
    let proto = match (f.proto, f.classified_by) {
        (Some(p), Some(m)) => format!("{} (classified by {})", p.name(), m.name()),
        (Some(p), None) => p.name().to_string(),
        _ => "not classified".to_string(),
    };
    let open = if f.open_at_end {
        ", open at the end"
    } else {
        ""
    };
    let roles = serde_json::to_value(f.roles)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut lines = vec![
        heading(format!(
            "Flow {}  {}  {proto}  state {}{open}",
            f.id,
            f.transport.name().to_uppercase(),
            f.state
        )),
        Line::from(format!(
            "  client {:<24} server {:<24} roles from {}",
            f.client.to_string(),
            f.server.to_string(),
            roles.replace('_', " ")
        )),
        Line::from(format!(
            "  first  {:<24} last   {:<24} duration {}",
            time_of_day_micros(f.first),
            time_of_day_micros(f.last),
            duration(f.duration_secs)
        )),
    ];
    let mut extra = String::new();
    if let Some(rtt) = f.handshake_rtt_ms {
        let _ = write!(extra, "handshake RTT {rtt:.3} ms   ");
    }
    if let Some(parent) = f.announced_by {
        let _ = write!(extra, "port announced by lmgrd on flow {parent}   ");
    }
    let _ = write!(
        extra,
        "history {}",
        if f.history.is_empty() {
            "-"
        } else {
            &f.history
        }
    );
    lines.push(Line::from(format!("  {}", clean(&extra))));
    // EDT and TLS summaries have sections of their own.
    if let Some(summary) = f
        .summary
        .as_ref()
        .filter(|s| !matches!(s, Summary::Edt(_) | Summary::Tls(_)))
    {
        let fields: Vec<String> = ordered(summary)
            .iter()
            .filter(|(k, _)| k != "proto")
            .map(|(k, v)| format!("{k}={}", compact(v)))
            .collect();
        lines.push(Line::from(format!(
            "  summary {}",
            clean(&fields.join(" "))
        )));
    }
    lines
}

/// A section of named fields under `title`.
fn fields(title: &str, fields: Vec<(&'static str, String)>) -> Vec<Line<'static>> {
    let mut lines = vec![heading(title.to_string())];
    lines.extend(fields.iter().map(|(name, value)| field_line(name, value)));
    lines
}

/// The counters a UDP flow keeps (the others are TCP's).
const UDP_COUNTERS: [&str; 4] = ["packets", "bytes", "payload_bytes", "delivered_bytes"];

/// Both directions' counters side by side; the names come from the model, so new counters
/// show up without a change here.
fn counters(f: &FlowRecord) -> Vec<Line<'static>> {
    let udp = f.transport == Transport::Udp;
    let keep = |(k, _): &(String, serde_json::Value)| !udp || UDP_COUNTERS.contains(&k.as_str());
    let out: Vec<_> = ordered(&f.to_server).into_iter().filter(keep).collect();
    let back = ordered(&f.to_client);
    // The label column fits the longest counter name, whatever the model adds.
    let width = out.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(20);
    let mut lines = vec![heading(format!(
        "{:<w$}{:>14}{:>14}",
        f.transport.name().to_uppercase(),
        "client>server",
        "server>client",
        w = width + 2
    ))];
    for (key, value) in &out {
        let other = back
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| compact(v))
            .unwrap_or_default();
        lines.push(Line::from(format!(
            "  {:<width$}{:>14}{:>14}",
            key.replace('_', " "),
            compact(value),
            other
        )));
    }
    lines
}

fn findings(f: &FlowRecord, report: &Report) -> Vec<Line<'static>> {
    let mine: Vec<_> = report
        .findings
        .iter()
        .filter(|x| x.flow == Some(f.id) || x.related_flow == Some(f.id))
        .collect();
    let mut lines = vec![heading(format!("Findings ({})", mine.len()))];
    if mine.is_empty() {
        lines.push(dim("  none".into()));
    }
    for x in mine {
        lines.push(Line::from(vec![
            Span::raw("  "),
            severity_cell(x.severity),
            Span::raw(format!("{} x{}  {}", x.code, x.count, clean(&x.message))),
        ]));
    }
    lines
}

fn stream_heading(f: &FlowRecord, dir: Dir, stream: Option<&FlowStream>) -> Vec<Line<'static>> {
    let (from, to, record) = match dir {
        Dir::ToServer => (f.client, f.server, &f.to_server),
        Dir::ToClient => (f.server, f.client, &f.to_client),
    };
    let arrow = match dir {
        Dir::ToServer => "client > server",
        Dir::ToClient => "server > client",
    };
    let mut lines = vec![heading(format!("Stream {arrow}  {from} → {to}"))];
    let Some(s) = stream else {
        lines.push(dim("  not loaded".into()));
        return lines;
    };
    let d = s.dir(dir);
    let note = match &s.status {
        StreamStatus::Reading { done, total } => {
            let pct = if *total > 0 { done * 100 / total } else { 0 };
            format!("  reading the capture file again for this flow's bytes... {pct}%")
        }
        StreamStatus::Failed(e) => format!("  could not read the stream: {}", clean(e)),
        StreamStatus::Live => format!(
            "  live: {} reassembled since this flow was selected (earlier bytes are not kept: \
             start with --write FILE to see them)",
            bytes(d.delivered())
        ),
        StreamStatus::LiveWithHistory => format!(
            "  live: {} reassembled (before this flow was selected: from the --write file)",
            bytes(d.delivered())
        ),
        StreamStatus::LiveHistoryFailed(e) => format!(
            "  live: {} reassembled since this flow was selected; the earlier bytes could not \
             be read from the --write file: {}",
            bytes(d.delivered()),
            clean(e)
        ),
        StreamStatus::Complete if d.delivered() == 0 && d.missing == 0 => "  no payload".into(),
        StreamStatus::Complete => {
            let mut note = format!("  {} reassembled", bytes(d.delivered()));
            if d.missing > 0 {
                let _ = write!(note, ", {} missing (capture gaps)", bytes(d.missing));
            }
            note
        }
    };
    lines.push(dim(note));
    if d.is_full() {
        lines.push(Line::from(Span::styled(
            format!(
                "  only the first {} are shown; this direction carried {} of payload",
                bytes(KEEP_BYTES as u64),
                bytes(record.tcp.payload_bytes)
            ),
            Style::new().fg(Color::Yellow),
        )));
    }
    lines
}

/// `03:13:00.123456 C>S ica init_request version=3 name=WFICA32`
fn event_line(e: &Event) -> Line<'static> {
    let dir = match e.dir {
        Some(Dir::ToServer) => "C>S",
        Some(Dir::ToClient) => "S>C",
        None => "   ",
    };
    let (proto, fields) = event_fields(&e.body);
    let mut text = String::new();
    for (k, v) in &fields {
        if k == "type" {
            text.push_str(&compact(v));
        } else {
            let _ = write!(text, " {k}={}", compact(v));
        }
    }
    let proto_style = if proto == "anomaly" {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new().fg(Color::Green)
    };
    Line::from(vec![
        Span::styled(
            format!("  {} {dir} ", time_of_day_micros(e.ts)),
            Style::new().fg(Color::DarkGray),
        ),
        Span::styled(format!("{proto} "), proto_style),
        Span::raw(clean(text.trim_start()).into_owned()),
    ])
}

/// `00000010  7f 7f 49 43 41 00 01 02  03 04 05 06 07 08 09 0a  |..ICA...........|`
fn hex_line(line: HexLine<'_>) -> Line<'static> {
    match line {
        HexLine::Gap { offset, len } => Line::from(Span::styled(
            format!("  {offset:08x}  [{len} bytes not captured]"),
            Style::new().fg(Color::Red),
        )),
        HexLine::Data { offset, bytes } => {
            let mut hex = String::with_capacity(50);
            for (i, b) in bytes.iter().enumerate() {
                if i == 8 {
                    hex.push(' ');
                }
                let _ = write!(hex, "{b:02x} ");
            }
            let ascii: String = bytes
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        char::from(b)
                    } else {
                        '.'
                    }
                })
                .collect();
            Line::from(vec![
                Span::styled(
                    format!("  {offset:08x}  "),
                    Style::new().fg(Color::DarkGray),
                ),
                Span::raw(format!("{hex:<49} ")),
                Span::styled(format!("|{ascii}|"), Style::new().fg(Color::Cyan)),
            ])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_lines_show_offset_bytes_and_printable_ascii() {
        let bytes: Vec<u8> = (0x3e..0x4e).collect();
        assert_eq!(
            hex_line(HexLine::Data {
                offset: 0x10,
                bytes: &bytes
            })
            .to_string(),
            "  00000010  3e 3f 40 41 42 43 44 45  46 47 48 49 4a 4b 4c 4d  |>?@ABCDEFGHIJKLM|"
        );
        assert_eq!(
            hex_line(HexLine::Data {
                offset: 0,
                bytes: &[0x1b, b'[', 0x7f]
            })
            .to_string(),
            // The ASCII column lines up with full lines.
            format!("  00000000  {:<50}|.[.|", "1b 5b 7f")
        );
        assert_eq!(
            hex_line(HexLine::Gap { offset: 32, len: 7 }).to_string(),
            "  00000020  [7 bytes not captured]"
        );
    }

    #[test]
    fn events_are_one_line_without_ts_and_dir() {
        use ctxscope_dissectors::{Anomaly, Severity, Timestamp};
        let e = Event::new(
            Timestamp::from_parts(3600, 5_000),
            Dir::ToClient,
            Anomaly::new("ica.bad_frame", Severity::Low, "length 9 > 4\x1b"),
        );
        assert_eq!(
            event_line(&e).to_string(),
            "  01:00:00.000005 S>C anomaly code=ica.bad_frame severity=low message=\"length 9 > 4\\u001b\""
        );
    }
}
