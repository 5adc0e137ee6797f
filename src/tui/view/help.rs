//! `?`: every key, and the filter language.

use super::centered;
use crate::tui::query::proto_values;
use ctxscope_dissectors::Registry;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// Fits 80x24 with the filter language below (13 + 9 lines and the border).
const KEYS: [(&str, &str); 13] = [
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
    (
        "s  S  p",
        "sort by next column / reverse the order; p pauses the view",
    ),
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

/// Characters of a filter line (the box's inner width less the indent).
const WIDTH: usize = 74;
/// The view's name column of a filter line.
const LABEL: usize = 12;

/// Each view's filter terms, as the help lists them (the Flows view's protocols come from the
/// registry).
fn filters(registry: &Registry) -> [(&'static str, Vec<String>); 5] {
    let terms = |list: &[&str]| list.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    let mut flows = vec![format!("proto:{}", proto_values(registry).join("|"))];
    flows.extend(terms(&[
        "transport:udp|tcp",
        "by:payload",
        "port:27000",
        "host:10.0.0.0/24",
        "state:S0",
        "finding",
        "flow:12",
    ]));
    [
        ("Flows", flows),
        (
            "Licensing",
            terms(&[
                "status:ok|lmgrd_only|dynamic_port|not_connected|unreachable",
                "vendor:citrix",
                "host:",
                "port:",
                "flow:",
                "finding",
            ]),
        ),
        (
            "Heartbeats",
            terms(&[
                "kind:license|cgp|tcp",
                "state:ok|overdue|closed",
                "host:",
                "port:",
            ]),
        ),
        (
            "Sessions",
            terms(&[
                "proto:ica|cgp|edt",
                "state:open|logoff|disconnect|finish|reset",
            ]),
        ),
        (
            "Findings",
            terms(&[
                "sev:medium",
                "code:flexlm.",
                "flow:",
                "proto:",
                "port:",
                "host:",
            ]),
        ),
    ]
}

/// A view's `terms` after its name, two spaces apart, in lines of at most [`WIDTH`]; a term
/// longer than a line (`proto:` with many protocols) breaks after one of its `|`.
fn wrap(view: &str, terms: &[String]) -> Vec<String> {
    let mut lines = vec![format!("{view:<LABEL$}")];
    for term in terms {
        for (n, piece) in pieces(term, WIDTH - LABEL).into_iter().enumerate() {
            let Some(line) = lines.last_mut() else {
                break;
            };
            let gap = if n == 0 && line.len() > LABEL {
                "  "
            } else {
                ""
            };
            if line.len() + gap.len() + piece.len() > WIDTH || (n > 0 && line.len() > LABEL) {
                lines.push(format!("{:LABEL$}{piece}", ""));
            } else {
                line.push_str(gap);
                line.push_str(&piece);
            }
        }
    }
    lines
}

/// `term` cut after its `|`s into pieces of at most `room` characters (one piece if it fits).
fn pieces(term: &str, room: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in term.split_inclusive('|') {
        match out.last_mut() {
            Some(piece) if piece.len() + part.len() <= room => piece.push_str(part),
            _ => out.push(part.to_string()),
        }
    }
    out
}

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
    for (view, terms) in filters(registry) {
        lines.extend(
            wrap(view, &terms)
                .into_iter()
                .map(|l| Line::raw(format!("  {l}"))),
        );
    }
    let height = lines.len() as u16 + 2;
    let bx = centered(area, 78, height);
    frame.render_widget(Clear, bx);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" ctxscope keys ")),
        bx,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_lines_wrap_between_terms_and_inside_a_long_one() {
        let terms: Vec<String> = ["a:1", "b:22", "c:333"].map(String::from).into();
        assert_eq!(wrap("View", &terms), ["View        a:1  b:22  c:333"]);
        let long: Vec<String> = vec![
            format!("proto:{}", ["abcdefghij"; 8].join("|")),
            "x:1".into(),
        ];
        let lines = wrap("Flows", &long);
        assert!(lines.iter().all(|l| l.len() <= WIDTH), "{lines:#?}");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("Flows       proto:abcdefghij|") && lines[0].ends_with('|'));
        assert!(lines[1].starts_with("            abcdefghij") && lines[1].ends_with("  x:1"));
        // Every builtin view's terms fit the box.
        for (view, terms) in filters(&Registry::builtin()) {
            for line in wrap(view, &terms) {
                assert!(line.len() <= WIDTH, "{line}");
            }
        }
    }
}
