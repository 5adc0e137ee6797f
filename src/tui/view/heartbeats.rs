//! The Heartbeats view: the series table with a timeline per row, and for the selected series
//! a larger timeline, its statistics and its beats in the detail pane.

use super::licensing::beat_style;
use super::record::{Doc, Record, RecordView, Top, dim_style};
use crate::model::{HeartbeatSeries, Report};
use crate::tui::app::{App, Hits, Tab};
use crate::tui::beats::Strip;
use crate::tui::table::TableView;
use crate::tui::table::heartbeats::{HeartbeatColumn, Heartbeats, timeline};
use crate::tui::text::{duration, or_dash, time_of_day, time_of_day_micros};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

/// A gap this many median intervals long is marked in the list of beats.
const GAP: f64 = 1.5;

/// The Heartbeats view.
pub struct View;

impl RecordView for View {
    type Model = Heartbeats;
    const TAB: Tab = Tab::Heartbeats;
    const RECORDS: &'static str = "heartbeat series";
    const PANE: (&'static str, &'static str) = ("Heartbeats", "no series selected");

    fn table(app: &mut App) -> (&mut TableView<Heartbeats>, &mut Hits) {
        (&mut app.heartbeats, &mut app.hits)
    }

    fn none(_app: &App) -> String {
        "no heartbeats or keep-alives in this capture: they show on long-lived license, CGP and ICA connections".into()
    }

    fn cell_style(report: &Report, i: usize, column: HeartbeatColumn) -> Style {
        let h = &report.heartbeats[i];
        match column {
            HeartbeatColumn::State | HeartbeatColumn::Timeline => beat_style(Some(h.state())),
            _ => Style::new(),
        }
    }

    /// The timeline on top (when there is room), the scrollable document below it.
    fn record(report: &Report, i: usize, inner: Rect) -> Option<Record<'_>> {
        let h = report.heartbeats.get(i)?;
        Some(Record {
            title: format!(
                " Flow {} {} {} → {}",
                h.flow,
                h.stats.kind.label(),
                h.client,
                h.server
            ),
            doc: document(h, report, usize::from(inner.width)),
            top: spark_rows(inner.height).map(|rows| {
                let draw: Top = Box::new(move |frame, area| draw_timeline(frame, area, report, h));
                (rows, draw)
            }),
        })
    }
}

/// Rows for the timeline above the document, when the pane has room: bars, then an axis.
fn spark_rows(pane_height: u16) -> Option<u16> {
    match pane_height {
        h if h >= 14 => Some(5 + 1),
        h if h >= 8 => Some(3 + 1),
        _ => None,
    }
}

/// The series' timeline as bars over the width of `area`, its axis on the last row.
fn draw_timeline(frame: &mut Frame, area: Rect, report: &Report, h: &HeartbeatSeries) {
    let [spark_area, axis_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let strip = timeline(report, h, usize::from(area.width));
    let data: Vec<u64> = strip.buckets.iter().map(|b| b.unwrap_or(0)).collect();
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .max(data.iter().copied().max().unwrap_or(1).max(1))
            .style(beat_style(Some(h.state()))),
        spark_area,
    );
    frame.render_widget(
        Paragraph::new(axis_line(&strip, usize::from(area.width))),
        axis_area,
    );
}

/// Under the timeline: where it starts and ends, and how long a column is.
fn axis_line(strip: &Strip, width: usize) -> Line<'static> {
    let from = time_of_day(strip.from);
    let to = time_of_day(strip.to);
    let mut middle = format!("1 column = {}", duration(strip.bucket_secs));
    if strip.hidden > 0 {
        middle.push_str(&format!(", {} older beats not shown", strip.hidden));
    }
    let room = width.saturating_sub(from.len() + to.len());
    let text = if room >= middle.chars().count() + 2 {
        format!("{from}{middle:^room$}{to}")
    } else {
        format!("{from}{:room$}{to}", "")
    };
    Line::styled(text, dim_style())
}

/// Whether a silence of `secs` is a gap: over [`GAP`] median intervals.
fn is_gap(secs: f64, median: Option<f64>) -> bool {
    median.is_some_and(|m| m > 0.0 && secs > m * GAP)
}

/// The gaps between kept beats, and the silence since the last beat of an open series.
fn gaps(h: &HeartbeatSeries, report: &Report) -> usize {
    let s = &h.stats;
    let median = s.interval_median_secs;
    let between = s
        .beats
        .windows(2)
        .filter(|w| is_gap(w[1].since(w[0]).as_secs_f64(), median))
        .count();
    let since = silence_now(h, report).is_some_and(|secs| is_gap(secs, median));
    between + usize::from(since)
}

/// An open series: the time from its last beat to the end of the capture.
fn silence_now(h: &HeartbeatSeries, report: &Report) -> Option<f64> {
    let (last, end) = (h.stats.last?, report.capture.last?);
    (h.open && end > last).then(|| end.since(last).as_secs_f64())
}

fn document(h: &HeartbeatSeries, report: &Report, width: usize) -> Doc {
    let s = &h.stats;
    let mut doc = Doc::default();
    doc.section(format!("{} series", s.kind.label()));
    doc.link(
        h.flow,
        vec![Span::raw(format!(
            "flow {}  {}  {} → {}  {}",
            h.flow,
            or_dash(h.proto.map(|p| p.name()).as_ref()),
            h.client,
            h.server,
            if h.open { "open" } else { "closed" }
        ))],
    );
    let state = h.state();
    doc.styled_field("state", state.word(), beat_style(Some(state)));
    let kept = if s.beats.len() as u64 == s.count {
        String::new()
    } else {
        format!(" (the last {} are kept)", s.beats.len())
    };
    doc.field("beats", format!("{}{kept}", s.count));
    doc.field("source", s.source.word());
    doc.field("first", s.first.map_or("-".into(), time_of_day_micros));
    doc.field("last", s.last.map_or("-".into(), time_of_day_micros));
    doc.field(
        "interval median",
        s.interval_median_secs.map_or("-".into(), duration),
    );
    doc.field("jitter", s.jitter_secs.map_or("-".into(), duration));
    doc.field("overdue after", s.limit_secs.map_or("-".into(), duration));
    doc.field("longest silence", duration(s.longest_silence_secs));
    doc.field("overdue episodes", s.overdue_episodes.to_string());
    let gaps = gaps(h, report);
    if gaps > 0 {
        doc.styled_field(
            "gaps",
            format!(
                "{gaps} {} over {GAP} intervals (marked below)",
                if gaps == 1 { "silence" } else { "silences" }
            ),
            Style::new().fg(Color::Yellow),
        );
    }

    doc.section(format!("Beats ({} kept)", s.beats.len()));
    let median = s.interval_median_secs;
    let gap_note = |secs: f64| {
        let m = median.filter(|_| is_gap(secs, median))?;
        Some(Span::styled(
            format!("  gap: {:.1} intervals", secs / m),
            Style::new().fg(Color::Yellow),
        ))
    };
    let mut previous = None;
    for &b in &s.beats {
        let Some(p) = previous.replace(b) else {
            doc.text(time_of_day_micros(b));
            continue;
        };
        let secs = b.since(p).as_secs_f64();
        let mut spans = vec![Span::raw(format!(
            "  {}  +{}",
            time_of_day_micros(b),
            duration(secs)
        ))];
        spans.extend(gap_note(secs));
        doc.line(Line::from(spans));
    }
    if let (Some(secs), Some(end)) = (silence_now(h, report), report.capture.last) {
        let mut spans = vec![Span::styled(
            format!(
                "  {}  nothing since (+{})",
                time_of_day_micros(end),
                duration(secs)
            ),
            dim_style(),
        )];
        spans.extend(gap_note(secs));
        doc.line(Line::from(spans));
    }

    doc.findings(report, &[h.flow], width);
    doc
}
