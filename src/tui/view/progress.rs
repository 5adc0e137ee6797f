//! The loading screen of a capture file: how far, how fast, and that `q` works.

use super::centered;
use crate::tui::app::App;
use crate::tui::text::{bytes, clean, duration, si};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Padding, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let Some(p) = app.loading() else {
        return;
    };
    let bx = centered(area, 74, 8);
    let block = Block::bordered()
        .padding(Padding::horizontal(1))
        .title(format!(" Loading {} ", clean(&app.source().name)));
    let inner = block.inner(bx);
    frame.render_widget(block, bx);
    let [gauge, counts, speed, _, hint] = Layout::vertical([Constraint::Length(1); 5]).areas(inner);
    let ratio = if p.total > 0 {
        (p.bytes as f64 / p.total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(format!("{:.0}%", ratio * 100.0))
            .gauge_style(Style::new().fg(Color::Green)),
        gauge,
    );
    frame.render_widget(
        Paragraph::new(format!(
            "{} of {}, {} packets",
            bytes(p.bytes),
            bytes(p.total),
            p.packets
        )),
        counts,
    );
    let secs = p.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        format!(", {} packets/s", si(p.packets as f64 / secs))
    } else {
        String::new()
    };
    frame.render_widget(Paragraph::new(format!("{}{rate}", duration(secs))), speed);
    frame.render_widget(
        Paragraph::new(Line::styled("q quits", Style::new().fg(Color::DarkGray))),
        hint,
    );
}
