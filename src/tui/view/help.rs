//! `?`: every key, and the filter language.

use super::centered;
use crate::tui::query::proto_values;
use ctxscope_dissectors::Registry;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// Fits 80x24 with the filter language below (14 + 8 lines and the border).
const KEYS: [(&str, &str); 14] = [
    ("q  Ctrl-C", "quit (? shows this help, any key closes it)"),
    (
        "Tab S-Tab 1-5",
        "next / previous view, or a view by its number",
    ),
    ("↑ ↓  j k", "move the selection; in a detail: scroll"),
    (
        "PgUp PgDn g G",
        "page up / down, first / last row (also Home End)",
    ),
    (
        "← →  h l",
        "columns out of view (« »); in a detail: scroll sideways",
    ),
    (
        "/  Ctrl-U",
        "filter (Enter keeps, Esc cancels, Ctrl-U clears)",
    ),
    ("s  S", "sort by the next column / reverse the order"),
    (
        "Enter  d",
        "open or close the row's detail (Findings: go to its flow)",
    ),
    (
        "f  Enter",
        "go to the row's first flow; in a detail, to the ▶ flow",
    ),
    (
        "J K  [ ]  Esc",
        "detail: next/previous row, section; Esc closes it",
    ),
    ("p", "pause the view (a live capture goes on)"),
    (
        "e",
        "export the rows shown: JSON and CSV in the current directory",
    ),
    (
        "w",
        "the selected flow's packets to a pcap there (live: needs -w)",
    ),
    (
        "mouse",
        "wheel scrolls, click selects a row, a view or a listed flow",
    ),
];

/// The filter keys of each view, after the Flows line (whose protocols come from the registry).
const FILTER: [&str; 6] = [
    "            port:27000  host:10.0.0.0/24  state:S0  finding  flow:12",
    "Licensing   status:ok|lmgrd_only|dynamic_port|not_connected|unreachable",
    "            vendor:citrix  host:  port:  flow:  finding",
    "Heartbeats  kind:license|cgp|tcp  state:ok|overdue|closed  host:  port:",
    "Sessions    proto:ica|cgp  state:open|logoff|disconnect|finish|reset",
    "Findings    sev:medium  code:flexlm.  flow:  proto:  port:  host:",
];

pub fn draw(frame: &mut Frame, area: Rect, registry: &Registry) {
    let key_style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<15}"), key_style),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::styled(
        " Filter (all terms must hold; !term negates; other words are free text):",
        key_style,
    ));
    let flows = format!(
        "Flows       proto:{}  by:payload",
        proto_values(registry).join("|")
    );
    let filters = std::iter::once(flows.as_str()).chain(FILTER);
    lines.extend(filters.map(|l| Line::raw(format!("  {l}"))));
    let height = lines.len() as u16 + 2;
    let bx = centered(area, 78, height);
    frame.render_widget(Clear, bx);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" ctxscope keys ")),
        bx,
    );
}
