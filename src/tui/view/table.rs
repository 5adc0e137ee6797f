//! The tables: only the visible rows are built, and columns that do not fit the width are left
//! out, least important first. The Flows and Findings views are drawn here; the other views
//! draw their tables with [`draw_table`].

use super::clip::clip;
use super::{detail, severity_style};
use crate::model::Report;
use crate::tui::app::{App, Hits};
use crate::tui::table::findings::{FindingColumn, flows_cell};
use crate::tui::table::flows::FlowColumn;
use crate::tui::table::{TableModel, TableView};
use crate::tui::text::{self, clean, ellipsize, time_of_day, wrap_at_most};
use ctxscope_dissectors::{Colour, Proto};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};

const HIGHLIGHT: &str = "▶ ";
const HIGHLIGHT_WIDTH: u16 = 2;

pub fn draw_flows(frame: &mut Frame, area: Rect, app: &mut App) {
    let (table_area, detail_area) = super::record::split(area, app.detail().is_some());
    let report = app.report().cloned();
    let empty = empty_text(report.is_some(), app.flows.is_filtered(), "flows", || {
        "no TCP flows in this capture yet".into()
    });
    draw_table(
        frame,
        table_area,
        &mut app.flows,
        report.as_deref(),
        flow_style,
        &empty,
        &mut app.hits,
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
    let selected = report
        .as_deref()
        .zip(app.findings.selected_index())
        .and_then(|(r, i)| r.findings.get(i));
    // Below the table, the selected finding in full (messages are longer than a column):
    // as many lines as the message needs, up to half the view; a longer one ends in `…`.
    let message = selected.map(|f| clean(&f.message).into_owned());
    let (table_area, panel) = if area.height >= 10 {
        let width = usize::from(area.width);
        let max = usize::from(area.height / 2).saturating_sub(2).max(2);
        let lines = message
            .as_deref()
            .map_or(1, |m| wrap_at_most(m, width, max).len())
            .max(1);
        let height = u16::try_from(lines + 2).unwrap_or(4);
        let [t, p] = Layout::vertical([Constraint::Min(3), Constraint::Length(height)]).areas(area);
        (t, Some(p))
    } else {
        (area, None)
    };
    draw_table(
        frame,
        table_area,
        &mut app.findings,
        report.as_deref(),
        finding_style,
        &empty,
        &mut app.hits,
    );
    app.hits.detail = Rect::default();
    if let (Some(panel), Some(f), Some(message)) = (panel, selected, message) {
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
        let width = usize::from(panel.width);
        let room = usize::from(panel.height).saturating_sub(2);
        let mut text = vec![clip(head, 0, width)];
        text.extend(
            wrap_at_most(&message, width, room)
                .into_iter()
                .map(Line::raw),
        );
        frame.render_widget(
            Paragraph::new(text).block(
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
        FlowColumn::Proto => Style::new().fg(f.proto.map_or(Color::DarkGray, proto_colour)),
        FlowColumn::Findings if f.findings > 0 => {
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        }
        _ => Style::new(),
    }
}

/// The colour the protocol's spec asks for.
fn proto_colour(proto: Proto) -> Color {
    match proto.spec().colour {
        Colour::Black => Color::Black,
        Colour::Red => Color::Red,
        Colour::Green => Color::Green,
        Colour::Yellow => Color::Yellow,
        Colour::Blue => Color::Blue,
        Colour::Magenta => Color::Magenta,
        Colour::Cyan => Color::Cyan,
        Colour::Gray => Color::Gray,
        Colour::DarkGray => Color::DarkGray,
        Colour::LightRed => Color::LightRed,
        Colour::LightGreen => Color::LightGreen,
        Colour::LightYellow => Color::LightYellow,
        Colour::LightBlue => Color::LightBlue,
        Colour::LightMagenta => Color::LightMagenta,
        Colour::LightCyan => Color::LightCyan,
        Colour::White => Color::White,
    }
}

fn finding_style(report: &Report, i: usize, column: FindingColumn) -> Style {
    match column {
        FindingColumn::Severity => severity_style(report.findings[i].severity),
        _ => Style::new(),
    }
}

/// Draws `view` in `area` (header row + rows); notes in `hits` where the rows are (for the
/// mouse) and whether columns are hidden (for the hint line).
pub(super) fn draw_table<M: TableModel>(
    frame: &mut Frame,
    area: Rect,
    view: &mut TableView<M>,
    report: Option<&Report>,
    style: fn(&Report, usize, M::Column) -> Style,
    empty: &str,
    hits: &mut Hits,
) {
    hits.table = area;
    hits.columns_hidden = false;
    if area.height == 0 {
        return;
    }
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    hits.table = body;
    let range = view.visible(usize::from(body.height));
    // How wide the text of each filling column is on screen.
    let want = |c: M::Column| -> u16 {
        let widest = report.map_or(0, |r| {
            view.rows()[range.clone()]
                .iter()
                .map(|&i| text::width(&M::cell(r, i, c)))
                .max()
                .unwrap_or(0)
        });
        u16::try_from(widest).unwrap_or(u16::MAX)
    };
    let layout = Columns::<M>::fit(area.width, view.column_offset, want);
    view.column_offset = layout.offset;
    hits.columns_hidden = layout.hidden_left || layout.hidden_right;
    let header = Row::new(layout.columns.iter().map(|&c| {
        let spec = M::spec(c);
        let mut title = spec.header.to_string();
        if view.sort.column == c {
            title.push(if view.sort.descending { '↓' } else { '↑' });
        }
        aligned(title, spec.right)
    }))
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let widths = layout.widths.iter().map(|&w| Constraint::Length(w));
    let Some(report) = report.filter(|_| !range.is_empty()) else {
        frame.render_widget(Table::new(Vec::<Row>::new(), widths).header(header), area);
        layout.draw_marks(frame, area);
        frame.render_widget(
            Paragraph::new(format!("  {empty}")).style(Style::new().fg(Color::DarkGray)),
            body,
        );
        return;
    };
    let selected = view.selected_position() - range.start;
    let rows = view.rows()[range].iter().map(|&i| {
        Row::new(layout.columns.iter().zip(&layout.widths).map(|(&c, &w)| {
            let text = clean(&M::sized_cell(report, i, c, w)).into_owned();
            let text = ellipsize(&text, usize::from(w)).into_owned();
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
    layout.draw_marks(frame, area);
}

fn aligned(text: String, right: bool) -> Cell<'static> {
    let line = Line::from(text);
    Cell::from(if right { line.right_aligned() } else { line })
}

/// Widest a filling column asks to be when it makes other columns give way.
const FILL_WANT_MAX: u16 = 40;
/// Marks for columns out of view, in the header row's gutter (where rows have the selection
/// symbol): `«` more to the left, `»` more to the right. They cost no column width.
const MORE_LEFT: &str = "«";
const MORE_RIGHT: &str = "»";

/// Which columns a table shows in a width, and how wide each is.
///
/// At offset 0 the most important columns that fit are shown (in display order). Scrolling
/// right (offset `k` > 0) keeps the first column (the row's name) and shows the others in
/// display order from the `k`-th on, as many as fit, so every column can be reached.
/// Columns that fill take the width left over, shared between them.
pub struct Columns<M: TableModel> {
    pub columns: Vec<M::Column>,
    pub widths: Vec<u16>,
    /// The offset, clamped to what scrolling can reach.
    pub offset: usize,
    pub hidden_left: bool,
    pub hidden_right: bool,
}

impl<M: TableModel> Columns<M> {
    /// The columns for `width` at `offset`; `want(c)` is how wide a filling column's text
    /// is on screen (others are never asked).
    pub fn fit(width: u16, offset: usize, want: impl Fn(M::Column) -> u16) -> Columns<M> {
        let all = M::COLUMNS;
        let first = Columns::priority(width, &want);
        if first.columns.len() == all.len() || all.len() < 2 {
            return first;
        }
        // The last start that still shows something new at the right.
        let last_start = (0..all.len() - 1)
            .find(|&s| window::<M>(width, s).last() == all.last())
            .unwrap_or(all.len() - 2);
        let offset = offset.min(last_start + 1);
        if offset == 0 {
            return Columns {
                hidden_right: true,
                ..first
            };
        }
        let start = offset - 1;
        let columns = window::<M>(width, start);
        Columns {
            offset,
            hidden_left: start > 0,
            hidden_right: columns.last() != all.last(),
            ..Columns::sized(columns, width, &want)
        }
    }

    /// The most important columns that fit; then, while a filling column is too narrow for
    /// its text, the least important extra column (`ColumnSpec::extra`) that matters less
    /// than it makes room.
    fn priority(width: u16, want: &impl Fn(M::Column) -> u16) -> Columns<M> {
        let mut columns = by_importance::<M>(width);
        loop {
            let sized = Columns::sized(columns.clone(), width, want);
            let short = sized
                .columns
                .iter()
                .zip(&sized.widths)
                .filter(|&(&c, &w)| M::spec(c).fill && w < want(c).min(FILL_WANT_MAX))
                .map(|(&c, _)| M::spec(c).keep)
                .min();
            let Some(keep) = short else {
                return sized;
            };
            let give = columns
                .iter()
                .enumerate()
                .filter(|&(_, &c)| {
                    let spec = M::spec(c);
                    spec.extra && spec.keep > keep
                })
                .max_by_key(|&(_, &c)| M::spec(c).keep)
                .map(|(i, _)| i);
            match give {
                Some(i) => drop(columns.remove(i)),
                None => return sized,
            }
        }
    }

    /// `columns` with their widths: filling columns first get what their text needs (most
    /// important first), then share what is still left.
    fn sized(columns: Vec<M::Column>, width: u16, want: &impl Fn(M::Column) -> u16) -> Columns<M> {
        let mut widths: Vec<u16> = columns.iter().map(|&c| M::spec(c).width).collect();
        // The highlight symbol, the columns, a space between each.
        let gaps = u16::try_from(columns.len().saturating_sub(1)).unwrap_or(u16::MAX);
        let used = HIGHLIGHT_WIDTH
            .saturating_add(widths.iter().sum::<u16>())
            .saturating_add(gaps);
        let mut spare = width.saturating_sub(used);
        let mut fills: Vec<usize> = (0..columns.len())
            .filter(|&i| M::spec(columns[i]).fill)
            .collect();
        fills.sort_by_key(|&i| M::spec(columns[i]).keep);
        for &i in &fills {
            let need = want(columns[i])
                .min(FILL_WANT_MAX)
                .saturating_sub(widths[i]);
            let take = need.min(spare);
            widths[i] += take;
            spare -= take;
        }
        if let Some(n) = u16::try_from(fills.len()).ok().filter(|&n| n > 0) {
            for (k, &i) in fills.iter().enumerate() {
                // The first filling column takes the remainder.
                widths[i] += spare / n + if k == 0 { spare % n } else { 0 };
            }
        }
        Columns {
            columns,
            widths,
            offset: 0,
            hidden_left: false,
            hidden_right: false,
        }
    }

    fn draw_marks(&self, frame: &mut Frame, area: Rect) {
        let style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
        let buf = frame.buffer_mut();
        if self.hidden_left {
            buf.set_string(area.x, area.y, MORE_LEFT, style);
        }
        if self.hidden_right && area.width > 1 {
            let x = area.x + u16::from(self.hidden_left);
            buf.set_string(x, area.y, MORE_RIGHT, style);
        }
    }
}

/// Columns a row of `columns` needs: the highlight symbol, then each column and a space
/// (the last one's space may fall off the edge).
fn fits<M: TableModel>(columns: &[M::Column], width: u16) -> bool {
    let need: u16 = columns.iter().map(|&c| M::spec(c).width + 1).sum();
    HIGHLIGHT_WIDTH + need <= width.saturating_add(1)
}

/// The columns that fit `width`, most important first, shown in display order.
fn by_importance<M: TableModel>(width: u16) -> Vec<M::Column> {
    let mut ranked: Vec<M::Column> = M::COLUMNS.to_vec();
    ranked.sort_by_key(|&c| M::spec(c).keep);
    let mut chosen: Vec<M::Column> = Vec::new();
    for c in ranked {
        chosen.push(c);
        if !fits::<M>(&chosen, width) {
            chosen.pop();
        }
    }
    M::COLUMNS
        .iter()
        .copied()
        .filter(|c| chosen.contains(c))
        .collect()
}

/// The first column, then the others in display order from `start` (among the others) on,
/// as many as fit `width`.
fn window<M: TableModel>(width: u16, start: usize) -> Vec<M::Column> {
    let all = M::COLUMNS;
    let mut shown = vec![all[0]];
    for &c in all[1..].iter().skip(start) {
        shown.push(c);
        if !fits::<M>(&shown, width) {
            shown.pop();
            break;
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::table::findings::Findings;
    use crate::tui::table::flows::Flows;
    use crate::tui::table::heartbeats::{HeartbeatColumn, Heartbeats};
    use crate::tui::table::licensing::{Licensing, LicensingColumn};
    use crate::tui::table::sessions::{SessionColumn, Sessions};

    /// Columns for `width` when the text of filling columns fits their least width.
    fn fit<M: TableModel>(width: u16) -> Vec<M::Column> {
        Columns::<M>::fit(width, 0, |_| 0).columns
    }

    /// What a row of `c` takes: the highlight symbol, the columns, a space between each.
    fn used<M: TableModel>(c: &Columns<M>) -> u16 {
        c.widths.iter().sum::<u16>() + HIGHLIGHT_WIDTH + c.widths.len() as u16 - 1
    }

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
        // At 160 the round trips and the launch take the place of the build and frame counts.
        let at_160: Vec<SessionColumn> = Sessions::COLUMNS
            .iter()
            .copied()
            .filter(|c| ![S::Build, S::FramesToServer, S::FramesToClient].contains(c))
            .collect();
        assert_eq!(fit::<Sessions>(160), at_160);
    }

    #[test]
    fn filling_columns_share_what_the_others_leave() {
        // One filling column: the timeline, to the last column.
        let c = Columns::<Heartbeats>::fit(200, 0, |_| 0);
        assert_eq!(c.columns.last(), Some(&HeartbeatColumn::Timeline));
        assert_eq!(used(&c), 200);
        // Three (lmgrd, announced port, vendor connection) at 160: each gets a share.
        let c = Columns::<Licensing>::fit(160, 0, |_| 0);
        assert_eq!(used(&c), 160);
        let at = |col| c.columns.iter().position(|&x| x == col).unwrap();
        let spec = |col| Licensing::spec(col).width;
        for col in [
            LicensingColumn::Lmgrd,
            LicensingColumn::Announced,
            LicensingColumn::VendorConnections,
        ] {
            assert!(c.widths[at(col)] > spec(col), "{col:?}");
        }
        let c = Columns::<Heartbeats>::fit(80, 0, |_| 0);
        assert!(c.hidden_right && !c.hidden_left);
        assert_eq!(used(&c), 80);
    }

    #[test]
    fn narrow_screens_keep_the_important_columns() {
        use FindingColumn as X;
        use FlowColumn as F;
        assert_eq!(
            fit::<Flows>(80),
            vec![F::Id, F::Proto, F::Client, F::Server, F::State, F::Findings]
        );
        // Every column from 164 on; at 160 the transport takes the last-seen time's place.
        assert_eq!(fit::<Flows>(164).len(), Flows::COLUMNS.len());
        assert_eq!(fit::<Flows>(163).len(), Flows::COLUMNS.len() - 1);
        assert!(!fit::<Flows>(160).contains(&F::LastSeen));
        assert!(fit::<Flows>(160).contains(&F::Transport));
        assert_eq!(fit::<Flows>(10), vec![F::Id]);
        // The issue lists severity, time, code and message for findings.
        assert_eq!(
            fit::<Findings>(80),
            vec![X::Severity, X::Time, X::Code, X::Message]
        );
    }

    #[test]
    fn scrolling_right_reaches_every_column() {
        use FlowColumn as F;
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let c = Columns::<Flows>::fit(80, offset, |_| 0);
            assert_eq!(c.offset, offset, "clamped only past the end");
            assert_eq!(c.columns[0], F::Id, "the first column stays");
            assert_eq!(c.hidden_left, offset > 1);
            seen.extend(c.columns.iter().copied());
            if !c.hidden_right {
                break;
            }
            offset += 1;
        }
        for col in Flows::COLUMNS {
            assert!(seen.contains(col), "{col:?} never shown");
        }
        // Past the end, the offset is clamped to the last one.
        let last = Columns::<Flows>::fit(80, 99, |_| 0);
        assert_eq!(last.offset, offset);
        assert_eq!(last.columns.last(), Some(&F::Findings));
        // A filling column whose text is cut takes the place of less important columns:
        // the published application over the client build and frame counts.
        let apps = Columns::<Sessions>::fit(160, 0, |c| {
            if c == SessionColumn::Application {
                20
            } else {
                0
            }
        });
        let at = apps
            .columns
            .iter()
            .position(|&c| c == SessionColumn::Application)
            .unwrap();
        assert!(apps.widths[at] >= 20, "{:?}", apps.widths);
        assert!(!apps.columns.contains(&SessionColumn::Build));
        assert!(apps.columns.contains(&SessionColumn::Channels));
        assert!(apps.hidden_right, "the columns it took stay a scroll away");
        // Never the more important ones: findings keep their code, whatever the message.
        let findings = Columns::<Findings>::fit(80, 0, |_| 200);
        assert_eq!(findings.columns, fit::<Findings>(80));
        // Wide enough for everything: no scrolling at all.
        let wide = Columns::<Flows>::fit(200, 3, |_| 0);
        assert_eq!(
            (wide.offset, wide.hidden_left, wide.hidden_right),
            (0, false, false)
        );
    }
}
