//! Licensing, Heartbeats and Sessions: their analyses are not in the report yet. Until they
//! are, each tab says what it will show and points at the flows that already exist.

use crate::tui::app::{App, Tab};
use ctxscope_dissectors::Proto;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, tab: Tab) {
    let t = app.totals();
    let (headline, promise, seen, filter) = match tab {
        Tab::Licensing => (
            "No licensing data in this capture yet.",
            "This view will list lmgrd handshakes, the vendor-daemon ports lmgrd announced, and the vendor-daemon connections that followed.",
            format!(
                "FlexLM connections seen: {} lmgrd, {} vendor daemon.",
                t.flows_of(Proto::Lmgrd),
                t.flows_of(Proto::VendorDaemon)
            ),
            "proto:flexlm",
        ),
        Tab::Heartbeats => (
            "No heartbeat data in this capture yet.",
            "This view will show, per long-lived license and IMA connection, the idle-separated exchanges, their intervals and any missed heartbeat.",
            format!(
                "Candidate connections seen: {} vendor daemon, {} IMA.",
                t.flows_of(Proto::VendorDaemon),
                t.flows_of(Proto::Ima)
            ),
            "proto:vendor_daemon",
        ),
        _ => (
            "No ICA or CGP session data in this capture yet.",
            "This view will list ICA and CGP (session reliability) sessions: client name, published application, encryption, and reconnections.",
            format!(
                "Connections seen: {} ICA, {} CGP.",
                t.flows_of(Proto::Ica),
                t.flows_of(Proto::Cgp)
            ),
            "proto:ica",
        ),
    };
    let lines = vec![
        Line::default(),
        Line::styled(
            format!("  {headline}"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::default(),
        Line::raw(format!("  {promise}")),
        Line::default(),
        Line::raw(format!("  {seen}")),
        Line::styled(
            format!("  To list them: press 1 for Flows, then / and type {filter}"),
            Style::new().fg(Color::DarkGray),
        ),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().title(format!(" {} ", tab.title()))),
        area,
    );
}
