//! The status bar: where the data comes from, how much, how fast, what was found, and the
//! view's state (sort, filter, paused).

use super::severity_style;
use crate::tui::app::{App, SourceKind, Tab};
use crate::tui::table::{TableModel, TableView};
use crate::tui::text::{bytes, clean, date_time, duration, si};
use ctxscope_dissectors::Severity;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use std::path::Path;

/// The sparkline needs this much width to be worth showing.
const SPARK_MIN_WIDTH: u16 = 120;
const SPARK_WIDTH: u16 = 30;

const SEP: &str = " │ ";

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let [top, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let bar = Style::new().bg(Color::Rgb(30, 30, 46));
    let (text, spark) = if top.width >= SPARK_MIN_WIDTH {
        let [t, s] =
            Layout::horizontal([Constraint::Min(1), Constraint::Length(SPARK_WIDTH)]).areas(top);
        (t, Some(s))
    } else {
        (top, None)
    };
    frame.render_widget(Paragraph::new(source_line(app)).style(bar), text);
    if let Some(s) = spark {
        draw_sparkline(frame, s, app, bar);
    }
    frame.render_widget(Paragraph::new(view_line(app)).style(bar), bottom);
}

fn source_line(app: &App) -> Line<'static> {
    let source = app.source();
    let mut spans = Vec::new();
    let report = app.report();
    let (packets, wire_bytes) = match (app.counters(), report) {
        (Some(c), _) => (c.packets, c.bytes),
        (None, Some(r)) => (r.capture.packets, r.capture.bytes),
        (None, None) => (0, 0),
    };
    match &source.kind {
        SourceKind::File(path) => {
            let name = Path::new(path)
                .file_name()
                .map_or_else(|| source.name.clone(), |n| n.to_string_lossy().into_owned());
            spans.push(Span::styled(
                format!(" {}", clean(&name)),
                Style::new().add_modifier(Modifier::BOLD),
            ));
            if let Some((first, last)) = report.and_then(|r| r.capture.first.zip(r.capture.last)) {
                spans.push(Span::raw(format!(
                    "{SEP}{} +{}",
                    date_time(first),
                    duration(last.since(first).as_secs_f64())
                )));
            }
        }
        SourceKind::Live { write } => {
            spans.push(Span::styled(
                format!(" {} (live)", clean(&source.name)),
                Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            ));
            spans.push(Span::raw(format!(
                "{SEP}up {}",
                duration(app.elapsed().as_secs_f64())
            )));
            if let Some(w) = write {
                spans.push(Span::raw(format!(
                    "{SEP}writing {}",
                    clean(&w.display().to_string())
                )));
            }
        }
    }
    spans.push(Span::raw(format!(
        "{SEP}{packets} pkts {}",
        bytes(wire_bytes)
    )));
    if app.is_live() {
        let kernel = app.counters().and_then(|c| c.kernel);
        let drops = kernel.map_or(0, |k| k.dropped + k.if_dropped);
        let style = if drops > 0 {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let text = match kernel {
            Some(_) => format!("drops {drops}"),
            None => "drops ?".to_string(),
        };
        spans.push(Span::raw(SEP));
        spans.push(Span::styled(text, style));
    }
    if let Some(c) = app.counters() {
        let (pps, bps) = c.timeline.rate();
        let label = if app.is_live() { "" } else { "avg " };
        spans.push(Span::raw(format!(
            "{SEP}{label}{}pkt/s {}bit/s",
            with_space(si(pps)),
            with_space(si(bps))
        )));
    }
    Line::from(spans)
}

/// `950` -> `950 `, `12.3 k` -> `12.3 k` (units follow a prefix directly).
fn with_space(s: String) -> String {
    if s.ends_with(char::is_alphabetic) {
        s
    } else {
        s + " "
    }
}

fn draw_sparkline(frame: &mut Frame, area: Rect, app: &App, bar: Style) {
    let Some(c) = app.counters() else {
        frame.render_widget(Paragraph::new("").style(bar), area);
        return;
    };
    let data = c.timeline.bins(usize::from(area.width));
    frame.render_widget(
        Sparkline::default().data(&data).style(bar.fg(Color::Green)),
        area,
    );
}

fn view_line(app: &App) -> Line<'static> {
    let totals = app.totals();
    let mut spans = vec![Span::raw(" findings")];
    for s in [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let n = totals.findings_of(s);
        let style = if n > 0 {
            severity_style(s)
        } else {
            Style::new().fg(Color::DarkGray)
        };
        spans.push(Span::styled(format!(" {} {n}", s.name()), style));
    }
    match app.tab() {
        Tab::Flows => table_state(&mut spans, "flows", &app.flows),
        Tab::Licensing => table_state(&mut spans, "sessions", &app.licensing),
        Tab::Heartbeats => table_state(&mut spans, "series", &app.heartbeats),
        Tab::Sessions => table_state(&mut spans, "sessions", &app.sessions),
        Tab::Findings => table_state(&mut spans, "findings", &app.findings),
    }
    if app.is_paused() {
        spans.push(Span::raw(SEP));
        spans.push(Span::styled(
            "PAUSED",
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

fn table_state<M: TableModel>(spans: &mut Vec<Span<'static>>, what: &str, t: &TableView<M>) {
    spans.push(Span::raw(format!(
        "{SEP}{what} {} of {}{SEP}sort {} {}",
        t.rows().len(),
        t.total(),
        M::column_name(t.sort.column),
        if t.sort.descending { "↓" } else { "↑" }
    )));
    if t.is_filtered() {
        spans.push(Span::raw(SEP));
        spans.push(Span::styled(
            format!("filter: {}", clean(&t.filter_text)),
            Style::new().fg(Color::Yellow),
        ));
    }
}
