//! The tables: only the visible rows are built, and columns that do not fit the width are left
//! out, least important first. The Flows and Findings views are drawn here; the other views
//! draw their tables with [`draw_table`].

use super::{detail, severity_style};
use crate::model::Report;
use crate::tui::app::App;
use crate::tui::table::findings::{FindingColumn, flows_cell};
use crate::tui::table::flows::FlowColumn;
use crate::tui::table::{TableModel, TableView};
use crate::tui::text::{clean, time_of_day};
use ctxscope_dissectors::Proto;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap,
};

const HIGHLIGHT: &str = "▶ ";
const HIGHLIGHT_WIDTH: u16 = 2;

pub fn draw_flows(frame: &mut Frame, area: Rect, app: &mut App) {
    let (table_area, detail_area) = if app.detail().is_some() {
        // The table keeps a third of the height (at least a few rows), the detail the rest.
        let rows = (area.height / 3).max(5).min(area.height);
        let [t, d] = Layout::vertical([Constraint::Length(rows), Constraint::Min(0)]).areas(area);
        (t, d)
    } else {
        (area, Rect::default())
    };
    let report = app.report().cloned();
    let empty = empty_text(report.is_some(), app.flows.is_filtered(), "flows", || {
        "no TCP flows in this capture yet".into()
    });
    app.hits.table = draw_table(
        frame,
        table_area,
        &mut app.flows,
        report.as_deref(),
        flow_style,
        &empty,
    );
    app.hits.detail = detail_area;
    if app.detail().is_some() {
        detail::draw(frame, detail_area, app);
    }
}

pub fn draw_findings(frame: &mut Frame, area: Rect, app: &mut App) {
    let report = app.report().cloned();
    let empty = empty_text(
        report.is_some(),
        app.findings.is_filtered(),
        "findings",
        || "no findings: nothing in this capture needs attention".into(),
    );
    // Below the table, the selected finding in full (messages are longer than a column).
    let (table_area, panel) = if area.height >= 10 {
        let [t, p] = Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(area);
        (t, Some(p))
    } else {
        (area, None)
    };
    app.hits.table = draw_table(
        frame,
        table_area,
        &mut app.findings,
        report.as_deref(),
        finding_style,
        &empty,
    );
    app.hits.detail = Rect::default();
    let selected = report
        .as_deref()
        .zip(app.findings.selected_index())
        .and_then(|(r, i)| r.findings.get(i));
    if let (Some(panel), Some(f)) = (panel, selected) {
        let head = Line::from(vec![
            Span::styled(f.severity.name(), severity_style(f.severity)),
            Span::raw(format!(
                "  {}  flow {}  x{}  {} to {}",
                f.code,
                flows_cell(f),
                f.count,
                time_of_day(f.first),
                time_of_day(f.last)
            )),
        ]);
        let text = vec![head, Line::raw(clean(&f.message).into_owned())];
        frame.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: false }).block(
                Block::new()
                    .borders(Borders::TOP)
                    .border_style(Style::new().fg(Color::Blue)),
            ),
            panel,
        );
    }
}

/// What an empty table says: waiting for data, nothing matches the filter, or (`none`) there
/// is nothing of the kind.
pub(super) fn empty_text(
    has_report: bool,
    filtered: bool,
    what: &str,
    none: impl FnOnce() -> String,
) -> String {
    match (has_report, filtered) {
        (false, _) => "waiting for the first packets...".into(),
        (true, true) => format!("no {what} match the filter"),
        (true, false) => none(),
    }
}

fn flow_style(report: &Report, i: usize, column: FlowColumn) -> Style {
    let f = &report.flows[i];
    match column {
        FlowColumn::Proto => match f.proto {
            Some(Proto::Ica) => Style::new().fg(Color::Green),
            Some(Proto::Cgp) => Style::new().fg(Color::LightGreen),
            Some(Proto::Lmgrd | Proto::VendorDaemon) => Style::new().fg(Color::Magenta),
            Some(Proto::Ima) => Style::new().fg(Color::Blue),
            None => Style::new().fg(Color::DarkGray),
        },
        FlowColumn::Findings if f.findings > 0 => {
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        }
        _ => Style::new(),
    }
}

fn finding_style(report: &Report, i: usize, column: FindingColumn) -> Style {
    match column {
        FindingColumn::Severity => severity_style(report.findings[i].severity),
        _ => Style::new(),
    }
}

/// Draws `view` in `area` (header row + rows); returns the rows' area.
pub(super) fn draw_table<M: TableModel>(
    frame: &mut Frame,
    area: Rect,
    view: &mut TableView<M>,
    report: Option<&Report>,
    style: fn(&Report, usize, M::Column) -> Style,
    empty: &str,
) -> Rect {
    if area.height == 0 {
        return area;
    }
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    let columns = fit::<M>(area.width);
    let header = Row::new(columns.iter().map(|&c| {
        let spec = M::spec(c);
        let mut title = spec.header.to_string();
        if view.sort.column == c {
            title.push(if view.sort.descending { '↓' } else { '↑' });
        }
        aligned(title, spec.right)
    }))
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let widths = columns.iter().map(|&c| {
        let spec = M::spec(c);
        if spec.fill {
            Constraint::Min(spec.width)
        } else {
            Constraint::Length(spec.width)
        }
    });
    let range = view.visible(usize::from(body.height));
    let (Some(report), false) = (report, range.is_empty()) else {
        frame.render_widget(Table::new(Vec::<Row>::new(), widths).header(header), area);
        frame.render_widget(
            Paragraph::new(format!("  {empty}")).style(Style::new().fg(Color::DarkGray)),
            body,
        );
        return body;
    };
    let selected = view.selected_position() - range.start;
    let sizes = cell_widths::<M>(&columns, area.width);
    let rows = view.rows()[range].iter().map(|&i| {
        Row::new(columns.iter().zip(&sizes).map(|(&c, &w)| {
            let text = clean(&M::sized_cell(report, i, c, w)).into_owned();
            aligned(text, M::spec(c).right).style(style(report, i, c))
        }))
    });
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut state);
    body
}

fn aligned(text: String, right: bool) -> Cell<'static> {
    let line = Line::from(text);
    Cell::from(if right { line.right_aligned() } else { line })
}

/// The width each of `columns` gets in `width`: its own, or for a filling column what the
/// others leave (as the table lays them out: highlight symbol, then one space between).
fn cell_widths<M: TableModel>(columns: &[M::Column], width: u16) -> Vec<u16> {
    let fixed: u16 = columns
        .iter()
        .map(|&c| M::spec(c))
        .filter(|s| !s.fill)
        .map(|s| s.width + 1)
        .sum();
    // `fixed` counts a space after every fixed column: with the filling one that is one
    // space per gap between columns.
    let left = width.saturating_sub(HIGHLIGHT_WIDTH + fixed);
    columns
        .iter()
        .map(|&c| {
            let spec = M::spec(c);
            if spec.fill {
                left.max(spec.width)
            } else {
                spec.width
            }
        })
        .collect()
}

/// The columns that fit `width`, most important first, shown in display order.
fn fit<M: TableModel>(width: u16) -> Vec<M::Column> {
    let mut by_importance: Vec<M::Column> = M::COLUMNS.to_vec();
    by_importance.sort_by_key(|&c| M::spec(c).keep);
    let mut used = HIGHLIGHT_WIDTH;
    let mut chosen = Vec::new();
    for c in by_importance {
        let need = M::spec(c).width + 1;
        if used + need <= width.saturating_add(1) {
            used += need;
            chosen.push(c);
        }
    }
    M::COLUMNS
        .iter()
        .copied()
        .filter(|c| chosen.contains(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::table::findings::Findings;
    use crate::tui::table::flows::Flows;
    use crate::tui::table::heartbeats::{HeartbeatColumn, Heartbeats};
    use crate::tui::table::licensing::{Licensing, LicensingColumn};
    use crate::tui::table::sessions::{SessionColumn, Sessions};

    fn headers_fit<M: TableModel>() {
        for &c in M::COLUMNS {
            let spec = M::spec(c);
            let with_arrow = spec.header.chars().count() + 1;
            assert!(usize::from(spec.width) >= with_arrow, "{c:?}");
        }
    }

    #[test]
    fn every_header_fits_with_its_sort_arrow() {
        headers_fit::<Flows>();
        headers_fit::<Findings>();
        headers_fit::<Licensing>();
        headers_fit::<Heartbeats>();
        headers_fit::<Sessions>();
    }

    #[test]
    fn the_new_tables_fit_80_and_160_columns() {
        use HeartbeatColumn as H;
        use LicensingColumn as L;
        use SessionColumn as S;
        // The status (up to heartbeat_overdue) leaves no room for the beat column at 80; the
        // status names an overdue heartbeat itself.
        assert_eq!(
            fit::<Licensing>(80),
            vec![L::Client, L::Server, L::Status, L::Announced]
        );
        assert_eq!(fit::<Licensing>(160).len(), Licensing::COLUMNS.len());
        assert_eq!(
            fit::<Heartbeats>(80),
            vec![
                H::Flow,
                H::Kind,
                H::Server,
                H::Beats,
                H::Median,
                H::State,
                H::Timeline
            ]
        );
        assert_eq!(fit::<Heartbeats>(160).len(), Heartbeats::COLUMNS.len());
        assert_eq!(
            fit::<Sessions>(80),
            vec![
                S::Id,
                S::Transport,
                S::ClientName,
                S::Application,
                S::Encryption,
                S::Channels,
                S::State
            ]
        );
        assert_eq!(fit::<Sessions>(160).len(), Sessions::COLUMNS.len());
    }

    #[test]
    fn a_filling_column_takes_what_the_others_leave() {
        use HeartbeatColumn as H;
        let columns = fit::<Heartbeats>(80);
        let widths = cell_widths::<Heartbeats>(&columns, 80);
        // Highlight symbol, the columns, one space between each.
        let used: u16 = widths.iter().sum::<u16>() + HIGHLIGHT_WIDTH + widths.len() as u16 - 1;
        assert_eq!(used, 80);
        assert_eq!(widths.last(), Some(&12));
        let all = fit::<Heartbeats>(200);
        let widths = cell_widths::<Heartbeats>(&all, 200);
        assert_eq!(all.last(), Some(&H::Timeline));
        assert_eq!(
            widths.iter().sum::<u16>() + HIGHLIGHT_WIDTH + widths.len() as u16 - 1,
            200
        );
    }

    #[test]
    fn narrow_screens_keep_the_important_columns() {
        use FlowColumn as F;
        assert_eq!(
            fit::<Flows>(80),
            vec![F::Id, F::Proto, F::Client, F::Server, F::State, F::Findings]
        );
        assert_eq!(fit::<Flows>(160).len(), Flows::COLUMNS.len());
        assert_eq!(fit::<Flows>(158).len(), Flows::COLUMNS.len() - 1);
        assert_eq!(fit::<Flows>(10), vec![F::Id]);
        assert_eq!(
            fit::<Findings>(80),
            vec![
                FindingColumn::Severity,
                FindingColumn::Code,
                FindingColumn::Flow,
                FindingColumn::Count,
                FindingColumn::Message
            ]
        );
    }
}
