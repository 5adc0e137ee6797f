//! Drawing: render functions from the app state (and the report it holds) to a frame.
//!
//! Each frame costs O(visible rows): tables draw only the rows on screen, the detail pane
//! formats only the lines on screen.

mod detail;
mod fields;
mod heartbeats;
mod help;
mod licensing;
mod progress;
mod record;
mod sessions;
mod status;
mod table;

use super::app::{App, Tab};
use super::text::clean;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    if app.loading().is_some() {
        progress::draw(frame, area, app);
    } else {
        let [tabs, body, status, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(area);
        draw_tabs(frame, tabs, app);
        match app.tab() {
            Tab::Flows => table::draw_flows(frame, body, app),
            Tab::Licensing => licensing::draw(frame, body, app),
            Tab::Heartbeats => heartbeats::draw(frame, body, app),
            Tab::Sessions => sessions::draw(frame, body, app),
            Tab::Findings => table::draw_findings(frame, body, app),
        }
        status::draw(frame, status, app);
        draw_bottom(frame, bottom, app);
    }
    if app.help_shown() {
        help::draw(frame, area);
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

fn draw_bottom(frame: &mut Frame, area: Rect, app: &App) {
    let line = if let Some(input) = app.input() {
        let mut spans = vec![
            Span::styled("/", Style::new().fg(Color::Yellow)),
            Span::raw(clean(&input.text).into_owned()),
            Span::styled("_", Style::new().add_modifier(Modifier::SLOW_BLINK)),
        ];
        match &input.error {
            Some(e) => spans.push(Span::styled(
                format!("   {}", clean(e)),
                Style::new().fg(Color::Red),
            )),
            None => spans.push(Span::styled(
                "   Enter keeps, Esc cancels",
                Style::new().fg(Color::DarkGray),
            )),
        }
        Line::from(spans)
    } else if let Some(m) = app.message() {
        let style = if m.error {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(Color::Green)
        };
        Line::from(Span::styled(clean(&m.text).into_owned(), style))
    } else {
        Line::from(Span::styled(hints(app), Style::new().fg(Color::DarkGray)))
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn hints(app: &App) -> &'static str {
    match app.tab() {
        Tab::Flows if app.detail().is_some() => {
            "? help  q quit  ↑↓ scroll  [ ] sections  J/K next/prev flow  w pcap  Esc close"
        }
        Tab::Flows => {
            "? help  q quit  Tab views  / filter  s/S sort  Enter detail  e export  w pcap"
        }
        Tab::Findings => {
            "? help  q quit  Tab views  / filter  s/S sort  Enter go to flow  e export"
        }
        _ if app.pane_open() => {
            "? help  ↑↓ flows  Enter go to flow  PgUp/PgDn [ ] scroll  J/K rows  Esc close"
        }
        _ => "? help  q quit  Tab views  / filter  s/S sort  Enter detail  f flow  e export",
    }
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
