//! Drawing: render functions from the app state (and the report it holds) to a frame.
//!
//! Each frame costs O(visible rows): tables draw only the rows on screen, the detail pane
//! formats only the lines on screen.

mod bar;
mod clip;
mod detail;
mod facts;
mod fields;
mod heartbeats;
mod help;
mod licensing;
mod progress;
mod record;
mod sessions;
mod status;
mod table;

use super::app::{App, SourceKind, Tab};
use super::text::{self, clean};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    // A file loading shows its progress until the first partial results arrive; from then
    // on the views, with the progress in the status bar.
    if app.loading().is_some() && app.report().is_none() {
        progress::draw(frame, area, app);
    } else {
        let width = usize::from(area.width);
        let bottom_height = u16::try_from(bottom_lines(app, width).len()).unwrap_or(1);
        let [tabs, body, status, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(2),
            Constraint::Length(bottom_height),
        ])
        .areas(area);
        draw_tabs(frame, tabs, app);
        match app.tab() {
            Tab::Flows => table::draw_flows(frame, body, app),
            Tab::Licensing => record::draw::<licensing::View>(frame, body, app),
            Tab::Heartbeats => record::draw::<heartbeats::View>(frame, body, app),
            Tab::Sessions => record::draw::<sessions::View>(frame, body, app),
            Tab::Findings => table::draw_findings(frame, body, app),
        }
        status::draw(frame, status, app);
        // After the body: the hints depend on what the table showed.
        frame.render_widget(Paragraph::new(bottom_lines(app, width)), bottom);
    }
    if app.help_shown() {
        help::draw(frame, area, app.registry());
    }
}

/// The tab bar: `1 Flows (15)  2 Licensing (3 !1) ...`, the current view in brackets; `!n`
/// counts rows that need attention. Shorter names are used when the full ones do not fit.
fn draw_tabs(frame: &mut Frame, area: Rect, app: &mut App) {
    let titles = |short: bool| -> Vec<(Tab, String, usize)> {
        Tab::ALL
            .into_iter()
            .enumerate()
            .map(|(i, tab)| {
                let name = if short {
                    tab.short_title()
                } else {
                    tab.title()
                };
                let trouble = app.totals().trouble_in(tab);
                let count = app.report().map(|r| match tab {
                    Tab::Flows => r.flows.len(),
                    Tab::Licensing => r.licensing.len(),
                    Tab::Heartbeats => r.heartbeats.len(),
                    Tab::Sessions => r.sessions.len(),
                    Tab::Findings => r.findings.len(),
                });
                let label = match count {
                    Some(n) => format!("{} {name} ({n}", i + 1),
                    None => format!("{} {name}", i + 1),
                };
                (tab, label, trouble)
            })
            .collect()
    };
    let width = |titles: &[(Tab, String, usize)]| -> usize {
        titles
            .iter()
            .map(|(_, label, trouble)| {
                let mark = if *trouble > 0 {
                    format!(" !{trouble}").len()
                } else {
                    0
                };
                // Brackets or spaces around, a closing parenthesis, a space between.
                label.chars().count() + mark + 4
            })
            .sum()
    };
    let full = titles(false);
    let titles = if width(&full) <= usize::from(area.width) {
        full
    } else {
        titles(true)
    };
    let mut spans = Vec::new();
    let mut x = area.x;
    app.hits.tabs.clear();
    app.hits.tab_row = area.y;
    let counted = app.report().is_some();
    for (tab, label, trouble) in titles {
        let current = tab == app.tab();
        // Brackets mark the current view even where colours do not show.
        let (open, close, style) = if current {
            (
                "[",
                "]",
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            )
        } else {
            (" ", " ", Style::new())
        };
        let mut parts = vec![Span::styled(format!("{open}{label}"), style)];
        if trouble > 0 {
            parts.push(Span::styled(
                format!(" !{trouble}"),
                style.fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
        }
        let end = if counted { ")" } else { "" };
        parts.push(Span::styled(format!("{end}{close}"), style));
        let width: u16 = parts.iter().map(|p| p.width() as u16).sum();
        app.hits.tabs.push((x, x.saturating_add(width), tab));
        x = x.saturating_add(width + 1);
        spans.extend(parts);
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Lines of a message at the bottom, at the most (a longer one ends in `…`).
const MESSAGE_LINES: usize = 3;

/// The bottom line(s): the filter being typed (and why it does not parse), a message, or the
/// keys of the view. Messages wrap over up to three lines; nothing runs off the edge unmarked.
fn bottom_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let red = Style::new().fg(Color::Red);
    if let Some(input) = app.input() {
        let typed = Line::from(vec![
            Span::styled("/", Style::new().fg(Color::Yellow)),
            Span::raw(clean(&input.text).into_owned()),
            Span::styled("_", Style::new().add_modifier(Modifier::SLOW_BLINK)),
        ]);
        // A filter longer than the line shows its end, where the typing is.
        let skip = typed.width().saturating_sub(width);
        let mut typed = clip::clip(typed, skip, width);
        let (note, style) = match &input.error {
            Some(e) => (clean(e).into_owned(), red),
            None => (
                "Enter keeps, Esc cancels".to_string(),
                Style::new().fg(Color::DarkGray),
            ),
        };
        if typed.width() + 3 + text::width(&note) <= width {
            typed.spans.push(Span::styled(format!("   {note}"), style));
            return vec![typed];
        }
        if input.error.is_none() {
            return vec![typed];
        }
        // The error on lines of its own.
        let mut lines = vec![typed];
        lines.extend(
            text::wrap_at_most(&note, width, MESSAGE_LINES - 1)
                .into_iter()
                .map(|l| Line::styled(l, style)),
        );
        return lines;
    }
    if let Some(m) = app.message() {
        let style = if m.error {
            red.add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(Color::Green)
        };
        let lines = text::wrap_at_most(&clean(&m.text), width, MESSAGE_LINES);
        if !lines.is_empty() {
            return lines.into_iter().map(|l| Line::styled(l, style)).collect();
        }
    }
    vec![hints(app, width)]
}

/// The main keys of the view, those that do something here; on a narrow screen the less
/// needed go first (`?` lists them all).
fn hints(app: &App, width: usize) -> Line<'static> {
    let table = [("Tab views", 5), ("/ filter", 2), ("s/S sort", 4)];
    let mut keys: Vec<(&str, u8)> = vec![("? help", 0), ("q quit", 6)];
    match app.tab() {
        Tab::Flows if app.detail().is_some() => keys.extend([
            ("↑↓ scroll", 3),
            ("←→ sideways", 4),
            ("[ ] sections", 5),
            ("J/K next/prev flow", 2),
        ]),
        _ if app.pane_open() => keys.extend([
            ("↑↓ flows", 2),
            ("Enter go to flow", 1),
            ("←→ sideways", 4),
            ("PgUp/PgDn [ ] scroll", 5),
            ("J/K rows", 3),
        ]),
        Tab::Findings => {
            keys.extend(table);
            keys.extend([("Enter go to flow", 1), ("e export", 3)]);
        }
        Tab::Flows => {
            keys.extend(table);
            keys.extend([("Enter detail", 1), ("e export", 3)]);
        }
        _ => {
            keys.extend(table);
            keys.extend([("Enter detail", 1), ("f flow", 3), ("e export", 3)]);
        }
    }
    // `w` needs packets to copy: a file, or a live capture that keeps them.
    let keeps_packets = !matches!(app.source().kind, SourceKind::Live { write: None });
    if app.tab() == Tab::Flows && keeps_packets {
        keys.push(("w pcap", 3));
    }
    if app.pane_open() {
        keys.push(("Esc close", 1));
    } else if app.hits.columns_hidden {
        keys.push(("←→ columns", 1));
    }
    let dim = Style::new().fg(Color::DarkGray);
    let items = keys
        .into_iter()
        .map(|(text, rank)| {
            let spans = vec![Span::styled(text, dim)];
            if rank == 0 {
                bar::Item::kept(0, spans)
            } else {
                bar::Item::new(rank, spans)
            }
        })
        .collect();
    bar::fit_with(items, width, "  ", "")
}

/// Colour of a finding severity.
fn severity_style(s: ctxscope_dissectors::Severity) -> Style {
    use ctxscope_dissectors::Severity::*;
    match s {
        High => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Medium => Style::new().fg(Color::Yellow),
        Low => Style::new().fg(Color::Cyan),
        Info => Style::new().fg(Color::Gray),
    }
}

/// A finding's severity at the start of its line: coloured, padded to the longest name.
fn severity_cell(s: ctxscope_dissectors::Severity) -> Span<'static> {
    Span::styled(format!("{:<7}", s.name()), severity_style(s))
}

/// A centred rectangle of at most `width` x `height` inside `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
