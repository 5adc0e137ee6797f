//! `?`: every key, and the filter language.

use super::centered;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

const KEYS: [(&str, &str); 17] = [
    ("q  Ctrl-C", "quit"),
    ("?", "this help (any key closes it)"),
    ("Tab  Shift-Tab", "next / previous view"),
    ("1-5", "Flows, Licensing, Heartbeats, Sessions, Findings"),
    ("↑ ↓  j k", "move the selection (detail: scroll)"),
    ("PgUp PgDn", "page up / down"),
    ("Home End  g G", "first / last row"),
    ("/", "filter the table (Enter keeps, Esc cancels)"),
    ("s  S", "sort by the next column / reverse the order"),
    ("Enter  d", "Flows: open or close the flow's detail"),
    ("Enter", "Findings: go to the finding's flow"),
    (
        "J K  [ ]",
        "detail: next/previous flow, previous/next section",
    ),
    ("p", "pause the view (a live capture goes on)"),
    ("e", "export the rows shown to JSON and CSV files"),
    ("w", "write the selected flow's packets to a pcap file"),
    ("Esc", "close the detail pane"),
    ("mouse", "wheel scrolls, click selects a row or a view"),
];

const FILTER: [&str; 3] = [
    "proto:ica|cgp|lmgrd|vendor_daemon|ima|flexlm|none  port:27000  by:payload",
    "host:10.0.0.5 host:10.0.0.0/24  state:S0  finding  flow:12",
    "Findings: sev:medium code:flexlm.  Other words: text.  !term negates",
];

pub fn draw(frame: &mut Frame, area: Rect) {
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
    lines.push(Line::styled(" Filter terms (all must hold):", key_style));
    lines.extend(FILTER.iter().map(|l| Line::raw(format!("  {l}"))));
    let height = lines.len() as u16 + 2;
    let bx = centered(area, 78, height);
    frame.render_widget(Clear, bx);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" ctxscope keys ")),
        bx,
    );
}
