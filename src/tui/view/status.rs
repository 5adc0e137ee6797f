//! The status bar: where the data comes from, how much, how fast, what was found, and the
//! view's state (sort, filter, paused).

use super::bar::{self, Fill, Item};
use super::severity_style;
use crate::tui::app::{App, SourceKind, Tab};
use crate::tui::table::{TableModel, TableView};
use crate::tui::text::{bytes, clean, date_time, duration, si, sparkline, time_of_day};
use ctxscope_dissectors::Severity;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;
use std::path::Path;

/// The rate's sparkline: at least this wide (or left out), at most as wide as this.
const SPARK_MIN: usize = 8;
const SPARK_MAX: usize = 30;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let [top, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let bar = Style::new().bg(Color::Rgb(30, 30, 46));
    let source = bar::fit(source_items(app), usize::from(top.width));
    frame.render_widget(Paragraph::new(source).style(bar), top);
    let view = bar::fit(view_items(app), usize::from(bottom.width));
    frame.render_widget(Paragraph::new(view).style(bar), bottom);
}

/// Where the data comes from and how much of it, most important kept longest: the source,
/// packets, kernel drops (live) and the packet rate always; then the sparkline, the bit rate,
/// bytes, and last the capture's date or the time up and the `--write` path.
fn source_items(app: &App) -> Vec<Item> {
    let source = app.source();
    let mut items = Vec::new();
    let report = app.report();
    let (packets, wire_bytes) = match (app.counters(), report) {
        (Some(c), _) => (c.packets, c.bytes),
        (None, Some(r)) => (r.capture.packets, r.capture.bytes),
        (None, None) => (0, 0),
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    match &source.kind {
        SourceKind::File(path) => {
            let name = Path::new(path)
                .file_name()
                .map_or_else(|| source.name.clone(), |n| n.to_string_lossy().into_owned());
            items.push(Item::kept(0, vec![Span::styled(clean(&name).into_owned(), bold)]).cut());
            if let Some(p) = app.loading() {
                let pct = (p.bytes * 100).checked_div(p.total).unwrap_or(0);
                items.push(Item::kept(
                    0,
                    vec![Span::styled(
                        format!("loading {pct}%"),
                        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                    )],
                ));
            }
            if let Some((first, last)) = report.and_then(|r| r.capture.first.zip(r.capture.last)) {
                let span = duration(last.since(first).as_secs_f64());
                items.push(
                    Item::new(6, vec![Span::raw(format!("{} +{span}", date_time(first)))])
                        .short(vec![Span::raw(format!("{} +{span}", time_of_day(first)))]),
                );
            }
        }
        SourceKind::Live { write } => {
            items.push(
                Item::kept(
                    0,
                    vec![Span::styled(
                        format!("{} (live)", clean(&source.name)),
                        bold.fg(Color::Green),
                    )],
                )
                .cut(),
            );
            items.push(Item::new(
                6,
                vec![Span::raw(format!(
                    "up {}",
                    duration(app.elapsed().as_secs_f64())
                ))],
            ));
            if let Some(w) = write {
                items.push(
                    Item::new(
                        7,
                        vec![Span::raw(format!(
                            "writing {}",
                            clean(&w.display().to_string())
                        ))],
                    )
                    .cut(),
                );
            }
        }
    }
    items.push(Item::kept(0, vec![Span::raw(format!("{packets} pkts"))]));
    items.push(Item::new(4, vec![Span::raw(bytes(wire_bytes))]).glued());
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
        items.push(Item::kept(0, vec![Span::styled(text, style)]));
    }
    if let Some(c) = app.counters() {
        let (pps, bps) = c.timeline.rate();
        let label = if app.is_live() { "" } else { "avg " };
        items.push(Item::kept(
            1,
            vec![Span::raw(format!("{label}{}pkt/s", with_space(si(pps))))],
        ));
        items.push(Item::new(3, vec![Span::raw(format!("{}bit/s", with_space(si(bps))))]).glued());
        let timeline = c.timeline.clone();
        items.push(Item::fill(
            2,
            Fill {
                min: SPARK_MIN,
                max: SPARK_MAX,
                draw: Box::new(move |w| {
                    Span::styled(sparkline(&timeline.bins(w)), Style::new().fg(Color::Green))
                }),
            },
        ));
    }
    items
}

/// `950` -> `950 `, `12.3 k` -> `12.3 k` (units follow a prefix directly).
fn with_space(s: String) -> String {
    if s.ends_with(char::is_alphabetic) {
        s
    } else {
        s + " "
    }
}

/// The view's state: findings by severity, the table's rows, filter and sort, paused. The
/// findings, the row count, the filter and PAUSED stay; the sort goes first.
fn view_items(app: &App) -> Vec<Item> {
    let totals = app.totals();
    let severities = [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];
    let counts = |names: fn(Severity) -> &'static str| -> Vec<Span<'static>> {
        severities
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let n = totals.findings_of(s);
                let style = if n > 0 {
                    severity_style(s)
                } else {
                    Style::new().fg(Color::DarkGray)
                };
                let space = if i == 0 { "" } else { " " };
                Span::styled(format!("{space}{} {n}", names(s)), style)
            })
            .collect()
    };
    let mut full = vec![Span::raw("findings ")];
    full.extend(counts(Severity::name));
    let mut items = vec![Item::kept(2, full).short(counts(short_name))];
    match app.tab() {
        Tab::Flows => table_items(&mut items, Tab::Flows, &app.flows),
        Tab::Licensing => table_items(&mut items, Tab::Licensing, &app.licensing),
        Tab::Heartbeats => table_items(&mut items, Tab::Heartbeats, &app.heartbeats),
        Tab::Sessions => table_items(&mut items, Tab::Sessions, &app.sessions),
        Tab::Findings => table_items(&mut items, Tab::Findings, &app.findings),
    }
    if app.is_paused() {
        items.push(Item::kept(
            0,
            vec![Span::styled(
                "PAUSED",
                Style::new()
                    .fg(Color::Black)
                    .bg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            )],
        ));
    }
    items
}

fn short_name(s: Severity) -> &'static str {
    match s {
        Severity::High => "hi",
        Severity::Medium => "med",
        Severity::Low => "low",
        Severity::Info => "info",
    }
}

/// `flows 3 of 15`, the sort by its column's header, the filter.
fn table_items<M: TableModel>(items: &mut Vec<Item>, tab: Tab, t: &TableView<M>) {
    let rows = format!(
        "{} {} of {}",
        tab.title().to_lowercase(),
        t.rows().len(),
        t.total()
    );
    items.push(Item::kept(1, vec![Span::raw(rows)]));
    items.push(Item::new(
        3,
        vec![Span::raw(format!(
            "sort {} {}",
            M::spec(t.sort.column).header,
            if t.sort.descending { "↓" } else { "↑" }
        ))],
    ));
    if t.is_filtered() {
        items.push(
            Item::kept(
                0,
                vec![Span::styled(
                    format!("filter: {}", clean(&t.filter_text)),
                    Style::new().fg(Color::Yellow),
                )],
            )
            .cut(),
        );
    }
}
