//! The Licensing, Heartbeats and Sessions views: a table of records above the selected one's
//! detail pane, drawn by [`draw`] from what each view provides ([`RecordView`]). The pane
//! shows the record's document (sections of lines, some of them links to flows), scrolled,
//! with the cursor on a link, under a title.
//!
//! A row's document is small (the analysis caps every list it holds), so it is built whole
//! for each frame; only the lines on screen are drawn.

use crate::model::{FlowId, Report};
use crate::tui::app::{App, Hits, RecordPane, Tab};
use crate::tui::table::{TableModel, TableView};
use crate::tui::text::{clean, ellipsize, time_of_day, wrap};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::clip::clip_sideways;
use super::severity_cell;
use super::table::{draw_table, empty_text};

/// What a view of records provides; [`draw`] does the rest.
pub trait RecordView {
    type Model: TableModel;
    const TAB: Tab;
    /// The records, for "no ... match the filter" (`licensing sessions`).
    const RECORDS: &'static str;
    /// The pane's name, and what it says with no row selected (`no session selected`).
    const PANE: (&'static str, &'static str);

    /// The view's table, and where the drawing notes what is where for the mouse.
    fn table(app: &mut App) -> (&mut TableView<Self::Model>, &mut Hits);
    /// What the table says when the capture has no records.
    fn none(app: &App) -> String;
    fn cell_style(report: &Report, i: usize, column: <Self::Model as TableModel>::Column) -> Style;
    /// What the pane shows of row `i`, in a pane whose inner area is `inner`.
    fn record(report: &Report, i: usize, inner: Rect) -> Option<Record<'_>>;
}

/// A view of records: its table, and below it the detail pane when it is open.
pub fn draw<V: RecordView>(frame: &mut Frame, area: Rect, app: &mut App) {
    let report = app.report().cloned();
    let (table_area, pane_area) = split(area, app.pane(V::TAB).is_some());
    let none = V::none(app);
    let (table, hits) = V::table(app);
    let empty = empty_text(report.is_some(), table.is_filtered(), V::RECORDS, || none);
    draw_table(
        frame,
        table_area,
        table,
        report.as_deref(),
        V::cell_style,
        &empty,
        hits,
    );
    draw_pane(
        frame,
        pane_area,
        app,
        V::TAB,
        report.as_deref(),
        V::PANE,
        V::record,
    );
}

/// The table's area and the pane's (empty when no pane is open; the Flows view's detail is
/// placed the same way): the table keeps a third of the height, at least a few rows.
pub fn split(area: Rect, pane_open: bool) -> (Rect, Rect) {
    if !pane_open {
        return (area, Rect::default());
    }
    let rows = (area.height / 3).max(5).min(area.height);
    let [t, d] = Layout::vertical([Constraint::Length(rows), Constraint::Min(0)]).areas(area);
    (t, d)
}

/// The frame of a pane: a blue rule with the title.
fn block(title: String) -> Block<'static> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(Style::new().fg(Color::Blue))
        .title(title)
}

/// A pane's title cut to the pane's `width` (an ellipsis marks the cut).
pub fn fit_title(title: String, width: u16) -> String {
    match ellipsize(&title, usize::from(width)) {
        std::borrow::Cow::Borrowed(_) => title,
        std::borrow::Cow::Owned(cut) => cut,
    }
}

/// What a view shows in its pane for the selected row.
pub struct Record<'a> {
    /// The pane's title; its position (`line 3/40`) follows it.
    pub title: String,
    pub doc: Doc,
    /// Rows above the document and what draws them (the Heartbeats timeline).
    pub top: Option<(u16, Top<'a>)>,
}

/// Draws in the rows above a pane's document.
pub type Top<'a> = Box<dyn FnOnce(&mut Frame, Rect) + 'a>;

/// The detail pane of `tab` in `area`, when it is open and there is a report: the record
/// `record` makes of the selected row (given the row's index into the report's list and the
/// pane's inner area), or `nothing` (`no session selected`) under `name` when no row is
/// selected.
fn draw_pane<'a>(
    frame: &mut Frame,
    area: Rect,
    app: &mut App,
    tab: Tab,
    report: Option<&'a Report>,
    (name, nothing): (&str, &str),
    record: impl FnOnce(&'a Report, usize, Rect) -> Option<Record<'a>>,
) {
    app.hits.detail = Rect::default();
    let Some(report) = report else {
        return;
    };
    let (selected, key) = app.selection(tab);
    let Some(pane) = app.pane_mut(tab) else {
        return;
    };
    pane.show_row(key);
    let inner = block(String::new()).inner(area);
    app.hits.detail = inner;
    let Some(Record { title, doc, top }) = selected.and_then(|i| record(report, i, inner)) else {
        frame.render_widget(block(format!(" {name} ")), area);
        frame.render_widget(Paragraph::new(format!("  {nothing}")), inner);
        return;
    };
    let doc_area = match top {
        Some((rows, draw)) => {
            let [top_area, doc_area] =
                Layout::vertical([Constraint::Length(rows), Constraint::Min(0)]).areas(inner);
            draw(frame, top_area);
            doc_area
        }
        None => inner,
    };
    app.hits.detail = doc_area;
    let Some(pane) = app.pane_mut(tab) else {
        return;
    };
    let at = draw_doc(frame, doc_area, pane, doc);
    frame.render_widget(
        block(fit_title(format!("{title}  {at} "), area.width)),
        area,
    );
}

/// A pane's content: lines, where its sections start, and which lines name a flow.
#[derive(Default)]
pub struct Doc {
    lines: Vec<Line<'static>>,
    sections: Vec<usize>,
    /// Line index and flow of each link.
    links: Vec<(usize, FlowId)>,
}

pub fn heading_style() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

pub fn dim_style() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// `  name        value`, names aligned: a field of a pane (the Flows detail pane's too).
pub fn field_line(name: &str, value: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("  {name:<18}"), dim_style()),
        Span::raw(clean(value).into_owned()),
    ])
}

impl Doc {
    /// Starts a section: a blank line (unless it is the first), then its heading.
    pub fn section(&mut self, title: impl Into<String>) {
        if !self.lines.is_empty() {
            self.lines.push(Line::default());
        }
        self.sections.push(self.lines.len());
        self.lines.push(Line::styled(
            clean(&title.into()).into_owned(),
            heading_style(),
        ));
    }

    pub fn line(&mut self, line: Line<'static>) {
        self.lines.push(line);
    }

    /// An indented line of plain text.
    pub fn text(&mut self, text: impl AsRef<str>) {
        self.lines
            .push(Line::raw(format!("  {}", clean(text.as_ref()))));
    }

    pub fn dim(&mut self, text: impl AsRef<str>) {
        self.lines.push(Line::styled(
            format!("  {}", clean(text.as_ref())),
            dim_style(),
        ));
    }

    /// `  name        value`, names aligned.
    pub fn field(&mut self, name: &str, value: impl AsRef<str>) {
        self.lines.push(field_line(name, value.as_ref()));
    }

    /// A field whose value has a style of its own (a warning, a status colour).
    pub fn styled_field(&mut self, name: &str, value: impl AsRef<str>, style: Style) {
        self.lines.push(Line::from(vec![
            Span::styled(format!("  {name:<18}"), dim_style()),
            Span::styled(clean(value.as_ref()).into_owned(), style),
        ]));
    }

    /// A line naming `flow`, for Enter to jump to; the pane draws the cursor in front of it.
    pub fn link(&mut self, flow: FlowId, spans: Vec<Span<'static>>) {
        self.links.push((self.lines.len(), flow));
        self.lines.push(Line::from(spans));
    }

    /// `text` wrapped to `width` columns, every line indented by `indent` spaces.
    pub fn wrapped(&mut self, indent: usize, text: &str, width: usize, style: Style) {
        for l in wrap(&clean(text), width.saturating_sub(indent).max(20)) {
            self.lines
                .push(Line::styled(format!("{:indent$}{l}", ""), style));
        }
    }

    /// The findings of `flows`: severity, code and flow, then the message wrapped.
    pub fn findings(&mut self, report: &Report, flows: &[FlowId], width: usize) {
        let mine: Vec<_> = report
            .findings
            .iter()
            .filter(|f| {
                f.flow.is_some_and(|id| flows.contains(&id))
                    || f.related_flow.is_some_and(|id| flows.contains(&id))
            })
            .collect();
        self.section(format!("Findings ({})", mine.len()));
        if mine.is_empty() {
            self.dim("none");
        }
        for f in mine {
            self.line(Line::from(vec![
                Span::raw("  "),
                severity_cell(f.severity),
                Span::raw(format!(
                    "{}  flow {}  x{}  {}",
                    f.code,
                    crate::tui::table::findings::flows_cell(f),
                    f.count,
                    time_of_day(f.first)
                )),
            ]));
            self.wrapped(4, &f.message, width, Style::new());
        }
    }
}

/// Draws the lines of `doc` on screen in `area`, with the cursor on its link; stores the
/// document's shape in `pane` for the keys. Returns the title's position text (`line 3/40`).
fn draw_doc(frame: &mut Frame, area: Rect, pane: &mut RecordPane, doc: Doc) -> String {
    let height = usize::from(area.height);
    let total = doc.lines.len();
    pane.links = doc.links;
    pane.sections = doc.sections;
    pane.fit(total, height);
    let cursor_line = pane.links.get(pane.cursor).map(|&(line, _)| line);
    let links = &pane.links;
    let shown: Vec<Line> = doc
        .lines
        .into_iter()
        .enumerate()
        .skip(pane.scroll)
        .take(height)
        .map(|(at, mut line)| {
            if links.iter().any(|&(l, _)| l == at) {
                let selected = cursor_line == Some(at);
                line.spans
                    .insert(0, Span::raw(if selected { "▶ " } else { "  " }));
                if selected {
                    line = line.style(Style::new().add_modifier(Modifier::REVERSED));
                }
            }
            line
        })
        .collect();
    let shown = clip_sideways(shown, &mut pane.hscroll, usize::from(area.width));
    frame.render_widget(Paragraph::new(shown), area);
    format!("line {}/{total}", (pane.scroll + 1).min(total))
}
