//! The state of the UI and how keys, mouse and new data change it. Pure: no terminal, no
//! threads, no files; what needs the outside world is returned as an [`Effect`] for the
//! runtime to carry out.

use super::export::{Export, Table};
use super::feed::timeline::Timeline;
use super::feed::{FeedMsg, Progress, Snapshot};
use super::stream::SharedStream;
use super::table::findings::Findings;
use super::table::flows::Flows;
use super::table::heartbeats::{self, Heartbeats};
use super::table::licensing::{self, Licensing};
use super::table::sessions::{self, Sessions};
use super::table::{AnyTable, FlowLinks, TableView};
use crate::model::FlowId;
use crate::model::KernelStats;
use crate::model::{FlowRecord, Report};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ctxscope_dissectors::{Proto, Registry, Severity};
use ratatui::layout::{Position, Rect};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Flows,
    Licensing,
    Heartbeats,
    Sessions,
    Findings,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Flows,
        Tab::Licensing,
        Tab::Heartbeats,
        Tab::Sessions,
        Tab::Findings,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Flows => "Flows",
            Tab::Licensing => "Licensing",
            Tab::Heartbeats => "Heartbeats",
            Tab::Sessions => "Sessions",
            Tab::Findings => "Findings",
        }
    }

    /// A shorter title, for narrow terminals.
    pub fn short_title(self) -> &'static str {
        match self {
            Tab::Flows => "Flows",
            Tab::Licensing => "Lic",
            Tab::Heartbeats => "Beats",
            Tab::Sessions => "Sess",
            Tab::Findings => "Find",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tabs whose rows open a [`RecordPane`], and where their pane is kept.
    fn pane_slot(self) -> Option<usize> {
        match self {
            Tab::Licensing => Some(0),
            Tab::Heartbeats => Some(1),
            Tab::Sessions => Some(2),
            Tab::Flows | Tab::Findings => None,
        }
    }

    fn step(self, by: isize) -> Tab {
        let n = Tab::ALL.len() as isize;
        Tab::ALL[(self.index() as isize + by).rem_euclid(n) as usize]
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    File(PathBuf),
    Live { write: Option<PathBuf> },
}

/// What the UI is looking at.
#[derive(Clone, Debug)]
pub struct SourceInfo {
    /// As the user named it (file path or interface).
    pub name: String,
    pub kind: SourceKind,
}

/// Work for the runtime.
#[derive(Debug)]
pub enum Effect {
    Quit,
    /// Write these rows to JSON and CSV files.
    Export(Export),
    /// Write this flow's packets to a pcap file.
    WritePcap(Arc<FlowRecord>),
    /// The detail pane shows this flow: collect its stream (and stop collecting any other).
    OpenStream(FlowId),
    /// The detail pane closed.
    CloseStream,
}

/// Counters of the latest snapshot; they keep moving while the view is paused.
#[derive(Clone, Debug)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
    pub kernel: Option<KernelStats>,
    pub timeline: Timeline,
}

/// Totals of the report on screen, computed once per report.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Findings per severity, indexed by `Severity as usize`.
    findings: [usize; 4],
    /// Flows per protocol; unclassified ones are not counted.
    protos: BTreeMap<Proto, usize>,
    /// Rows that need attention, per tab (indexed by the tab's position): licensing that
    /// fails, heartbeats overdue, sessions whose keep-alives stopped.
    trouble: [usize; 5],
}

impl Totals {
    fn of(report: &Report) -> Totals {
        let mut t = Totals::default();
        for f in &report.findings {
            t.findings[f.severity as usize] += 1;
        }
        for f in &report.flows {
            if let Some(p) = f.proto {
                *t.protos.entry(p).or_default() += 1;
            }
        }
        t.trouble[Tab::Licensing.index()] = report
            .licensing
            .iter()
            .filter(|s| licensing::in_trouble(s))
            .count();
        t.trouble[Tab::Heartbeats.index()] = report
            .heartbeats
            .iter()
            .filter(|h| heartbeats::in_trouble(h))
            .count();
        t.trouble[Tab::Sessions.index()] = report
            .sessions
            .iter()
            .filter(|s| sessions::in_trouble(s))
            .count();
        t
    }

    /// Rows of `tab` that need attention.
    pub fn trouble_in(&self, tab: Tab) -> usize {
        self.trouble[tab.index()]
    }

    pub fn findings_of(&self, s: Severity) -> usize {
        self.findings[s as usize]
    }

    pub fn flows_of(&self, p: Proto) -> usize {
        self.protos.get(&p).copied().unwrap_or(0)
    }
}

/// The detail pane of the Flows view.
#[derive(Clone, Debug)]
pub struct Detail {
    pub flow: FlowId,
    /// First line shown (clamped when drawn).
    pub scroll: usize,
    /// First column shown (clamped when drawn).
    pub hscroll: usize,
    pub stream: Option<SharedStream>,
    /// Where the sections start (written when drawn, for `[` and `]`).
    pub sections: Vec<usize>,
    /// Lines visible (written when drawn, for paging).
    pub page: usize,
}

/// The detail pane of a Licensing, Heartbeats or Sessions row. It shows the table's selected
/// row; the flows it lists are links, one of them highlighted (the cursor) for Enter to jump
/// to.
#[derive(Clone, Debug, Default)]
pub struct RecordPane {
    /// The row shown (its table key); another row starts again at the top.
    pub key: Option<u64>,
    /// First line shown (clamped when drawn).
    pub scroll: usize,
    /// First column shown (clamped when drawn).
    pub hscroll: usize,
    /// The highlighted link, an index into `links`.
    pub cursor: usize,
    /// The cursor moved: scroll it into view when drawn.
    pub reveal: bool,
    /// Written when drawn: the line of each flow link, in order.
    pub links: Vec<(usize, FlowId)>,
    /// Written when drawn: where the sections start.
    pub sections: Vec<usize>,
    /// Written when drawn: lines visible.
    pub page: usize,
}

impl RecordPane {
    /// Shows the row with identity `key`, from the top if it is another row.
    pub fn show_row(&mut self, key: Option<u64>) {
        if self.key != key {
            *self = RecordPane {
                key,
                page: self.page,
                ..RecordPane::default()
            };
        }
    }

    /// The highlighted flow.
    pub fn flow(&self) -> Option<FlowId> {
        self.links.get(self.cursor).map(|&(_, id)| id)
    }

    /// Fits scroll and cursor to a document of `len` lines on a `height`-line screen: the
    /// cursor is scrolled into view if it moved; if the view moved away from it, it goes to
    /// the first link in view.
    pub fn fit(&mut self, len: usize, height: usize) {
        self.page = height;
        self.cursor = self.cursor.min(self.links.len().saturating_sub(1));
        let cursor_line = self.links.get(self.cursor).map(|&(line, _)| line);
        if self.reveal
            && let Some(line) = cursor_line
        {
            if line < self.scroll {
                self.scroll = line;
            } else if line >= self.scroll + height {
                self.scroll = line + 1 - height.max(1);
            }
        }
        self.reveal = false;
        self.scroll = self.scroll.min(len.saturating_sub(height));
        let in_view = |line: usize| (self.scroll..self.scroll + height).contains(&line);
        if cursor_line.is_some_and(|l| !in_view(l))
            && let Some(first) = self.links.iter().position(|&(l, _)| in_view(l))
        {
            self.cursor = first;
        }
    }

    fn key(&mut self, code: KeyCode) {
        let page = self.page.max(1);
        let last = self.links.len().saturating_sub(1);
        if let Some(by) = sideways(code) {
            self.hscroll = self.hscroll.saturating_add_signed(by * HSTEP);
            return;
        }
        match code {
            // Arrows move from link to link; past the last one (or without any) they scroll.
            KeyCode::Down | KeyCode::Char('j') if self.cursor < last => {
                self.cursor += 1;
                self.reveal = true;
            }
            KeyCode::Up | KeyCode::Char('k') if self.cursor > 0 && !self.links.is_empty() => {
                self.cursor -= 1;
                self.reveal = true;
            }
            KeyCode::Down | KeyCode::Char('j') => self.scroll = self.scroll.saturating_add(1),
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_add(page),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(page),
            KeyCode::Home | KeyCode::Char('g') => {
                self.scroll = 0;
                self.cursor = 0;
            }
            KeyCode::End | KeyCode::Char('G') => {
                // Clamped to the last page when drawn.
                self.scroll = usize::MAX;
                self.cursor = last;
            }
            KeyCode::Char(c @ ('[' | ']')) => {
                self.scroll = section_jump(&self.sections, self.scroll, c == ']');
            }
            _ => {}
        }
    }
}

/// The filter being typed.
#[derive(Clone, Debug)]
pub struct FilterInput {
    pub table: Tab,
    pub text: String,
    /// The filter before editing, restored by Esc.
    before: String,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// Screen areas of the last frame, for the mouse.
#[derive(Clone, Debug, Default)]
pub struct Hits {
    /// Column ranges of the tab titles on the tab bar.
    pub tabs: Vec<(u16, u16, Tab)>,
    pub tab_row: u16,
    /// Rows of the current table (below its header).
    pub table: Rect,
    pub detail: Rect,
    /// The table on screen hides columns (a sideways scroll shows them).
    pub columns_hidden: bool,
}

/// Where `]` (`forward`) or `[` scrolls a document whose sections start at `sections` from
/// `scroll`: the next section's start, or the previous one's (the top before the first).
fn section_jump(sections: &[usize], scroll: usize, forward: bool) -> usize {
    if forward {
        sections
            .iter()
            .find(|&&s| s > scroll)
            .copied()
            .unwrap_or(scroll)
    } else {
        sections
            .iter()
            .rev()
            .find(|&&s| s < scroll)
            .copied()
            .unwrap_or(0)
    }
}

/// `Left`/`h` and `Right`/`l`: the direction they scroll sideways.
fn sideways(code: KeyCode) -> Option<isize> {
    match code {
        KeyCode::Left | KeyCode::Char('h') => Some(-1),
        KeyCode::Right | KeyCode::Char('l') => Some(1),
        _ => None,
    }
}

/// Columns a detail pane moves sideways per key.
const HSTEP: isize = 8;
/// Longest filter accepted.
const MAX_FILTER: usize = 512;
/// Lines the mouse wheel moves.
const WHEEL: isize = 3;
/// New reports are applied at most this often, or less often if filtering and sorting them
/// takes long (at most a tenth of the UI thread's time).
const MIN_APPLY_INTERVAL: Duration = Duration::from_millis(250);

pub struct App {
    source: SourceInfo,
    /// The protocols the filters and the help name.
    registry: Registry,
    tab: Tab,
    report: Option<Arc<Report>>,
    /// A newer report not shown yet (paused, or too soon after the last one).
    pending: Option<Arc<Report>>,
    counters: Option<Counters>,
    totals: Totals,
    /// While a file loads.
    loading: Option<Progress>,
    paused: bool,
    pub flows: TableView<Flows>,
    pub licensing: TableView<Licensing>,
    pub heartbeats: TableView<Heartbeats>,
    pub sessions: TableView<Sessions>,
    pub findings: TableView<Findings>,
    /// The Flows view's detail pane.
    detail: Option<Detail>,
    /// The detail panes of Licensing, Heartbeats and Sessions (see [`Tab::pane_slot`]); each
    /// view keeps its own.
    panes: [Option<RecordPane>; 3],
    help: bool,
    input: Option<FilterInput>,
    message: Option<Message>,
    quit: bool,
    /// How long filtering and sorting the last report took.
    refresh_cost: Duration,
    applied_at: Option<Instant>,
    started: Instant,
    now: Instant,
    pub hits: Hits,
}

impl App {
    pub fn new(source: SourceInfo, registry: Registry) -> App {
        let now = Instant::now();
        let loading = matches!(source.kind, SourceKind::File(_)).then(Progress::default);
        App {
            source,
            registry,
            tab: Tab::Flows,
            report: None,
            pending: None,
            counters: None,
            totals: Totals::default(),
            loading,
            paused: false,
            flows: TableView::default(),
            licensing: TableView::default(),
            heartbeats: TableView::default(),
            sessions: TableView::default(),
            findings: TableView::default(),
            detail: None,
            panes: Default::default(),
            help: false,
            input: None,
            message: None,
            quit: false,
            refresh_cost: Duration::ZERO,
            applied_at: None,
            started: now,
            now,
            hits: Hits::default(),
        }
    }

    // ---- what the views read ----

    pub fn source(&self) -> &SourceInfo {
        &self.source
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn is_live(&self) -> bool {
        matches!(self.source.kind, SourceKind::Live { .. })
    }

    pub fn tab(&self) -> Tab {
        self.tab
    }

    pub fn report(&self) -> Option<&Arc<Report>> {
        self.report.as_ref()
    }

    pub fn counters(&self) -> Option<&Counters> {
        self.counters.as_ref()
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    pub fn loading(&self) -> Option<&Progress> {
        self.loading.as_ref()
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn detail(&self) -> Option<&Detail> {
        self.detail.as_ref()
    }

    pub fn detail_mut(&mut self) -> Option<&mut Detail> {
        self.detail.as_mut()
    }

    /// The open detail pane of a Licensing, Heartbeats or Sessions row.
    pub fn pane(&self, tab: Tab) -> Option<&RecordPane> {
        self.panes[tab.pane_slot()?].as_ref()
    }

    pub fn pane_mut(&mut self, tab: Tab) -> Option<&mut RecordPane> {
        self.panes[tab.pane_slot()?].as_mut()
    }

    /// The selected row of `tab`'s table: its index into the report's list and its key.
    pub fn selection(&self, tab: Tab) -> (Option<usize>, Option<u64>) {
        let table = self.table(tab);
        (table.selected_index(), table.selected_key())
    }

    /// Whether the current view shows a detail pane.
    pub fn pane_open(&self) -> bool {
        match self.tab {
            Tab::Flows => self.detail.is_some(),
            tab => self.pane(tab).is_some(),
        }
    }

    pub fn help_shown(&self) -> bool {
        self.help
    }

    pub fn input(&self) -> Option<&FilterInput> {
        self.input.as_ref()
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Time since the UI started (live captures show it).
    pub fn elapsed(&self) -> Duration {
        self.now.duration_since(self.started)
    }

    // ---- data ----

    /// New data from the feed; the effect is for a detail pane that follows the selection to
    /// another flow (the new data moved it).
    pub fn on_feed(&mut self, msg: FeedMsg, now: Instant) -> Option<Effect> {
        self.now = now;
        match msg {
            FeedMsg::Progress(p) => {
                if self.loading.is_some() {
                    self.loading = Some(p);
                }
                None
            }
            FeedMsg::Snapshot(s) => self.on_snapshot(*s, now),
            FeedMsg::Loaded(error) => {
                self.loading = None;
                if let Some(e) = error {
                    self.notify_error(format!("{e} (the packets before it were analysed)"));
                }
                None
            }
            FeedMsg::Stopped(e) => {
                self.notify_error(format!("capture stopped: {e}"));
                None
            }
        }
    }

    fn on_snapshot(&mut self, s: Snapshot, now: Instant) -> Option<Effect> {
        self.counters = Some(Counters {
            packets: s.packets,
            bytes: s.bytes,
            kernel: s.kernel,
            timeline: s.timeline,
        });
        let report = s.report?;
        self.pending = Some(report);
        self.tick(now)
    }

    /// Time passes: shows a pending report when it is due (and the detail pane follows the
    /// selection if the new rows moved it).
    pub fn tick(&mut self, now: Instant) -> Option<Effect> {
        self.now = now;
        if self.paused {
            return None;
        }
        let interval = MIN_APPLY_INTERVAL.max(self.refresh_cost * 10);
        let due = self
            .applied_at
            .is_none_or(|at| now.duration_since(at) >= interval);
        let report = self.pending.take_if(|_| due)?;
        self.show(report, now);
        self.follow_selection()
    }

    fn show(&mut self, report: Arc<Report>, now: Instant) {
        let started = Instant::now();
        for tab in Tab::ALL {
            self.table_mut(tab).show(Some(Arc::clone(&report)));
        }
        self.totals = Totals::of(&report);
        self.refresh_cost = started.elapsed();
        self.report = Some(report);
        self.applied_at = Some(now);
    }

    /// Tells the user something (a background job finished, a key that does nothing here).
    pub fn notify(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
        });
    }

    pub fn notify_error(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
        });
    }

    /// The stream the runtime collects for the detail pane.
    pub fn set_stream(&mut self, flow: FlowId, stream: SharedStream) {
        if let Some(d) = self.detail.as_mut().filter(|d| d.flow == flow) {
            d.stream = Some(stream);
        }
    }

    // ---- keys ----

    pub fn on_key(&mut self, key: KeyEvent) -> Option<Effect> {
        // Whatever the key did (moved, filtered, sorted, jumped), the open detail panes show
        // the selected rows afterwards.
        let effect = self.key(key);
        effect.or_else(|| self.follow_selection())
    }

    fn key(&mut self, key: KeyEvent) -> Option<Effect> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.quit();
        }
        if self.input.is_some() {
            self.filter_key(key);
            return None;
        }
        self.message = None;
        if self.help {
            self.help = false;
            return (key.code == KeyCode::Char('q'))
                .then(|| self.quit())
                .flatten();
        }
        match key.code {
            KeyCode::Char('q') => return self.quit(),
            KeyCode::Char('?') => self.help = true,
            _ if self.waiting_for_file() => {}
            KeyCode::Tab => self.switch(self.tab.step(1)),
            KeyCode::BackTab => self.switch(self.tab.step(-1)),
            KeyCode::Char(c @ '1'..='5') => {
                let n = usize::from(c as u8 - b'1');
                self.switch(Tab::ALL[n]);
            }
            KeyCode::Char('p') => self.toggle_pause(),
            KeyCode::Char('e') => return self.export(),
            KeyCode::Char('/') => self.open_filter(),
            KeyCode::Char('s') => self.sort(false),
            KeyCode::Char('S') => self.sort(true),
            _ => {
                return match self.tab {
                    Tab::Flows if self.detail.is_some() => self.detail_key(key.code),
                    Tab::Flows => self.flows_key(key.code),
                    Tab::Findings => self.findings_key(key.code),
                    tab if self.pane(tab).is_some() => self.pane_key(tab, key.code),
                    tab => self.record_key(tab, key.code),
                };
            }
        }
        None
    }

    /// A file is loading and nothing of it can be shown yet (the loading screen is up).
    fn waiting_for_file(&self) -> bool {
        self.loading.is_some() && self.report.is_none()
    }

    /// The table of `tab`.
    fn table(&self, tab: Tab) -> &dyn AnyTable {
        match tab {
            Tab::Flows => &self.flows,
            Tab::Licensing => &self.licensing,
            Tab::Heartbeats => &self.heartbeats,
            Tab::Sessions => &self.sessions,
            Tab::Findings => &self.findings,
        }
    }

    fn table_mut(&mut self, tab: Tab) -> &mut dyn AnyTable {
        match tab {
            Tab::Flows => &mut self.flows,
            Tab::Licensing => &mut self.licensing,
            Tab::Heartbeats => &mut self.heartbeats,
            Tab::Sessions => &mut self.sessions,
            Tab::Findings => &mut self.findings,
        }
    }

    fn quit(&mut self) -> Option<Effect> {
        self.quit = true;
        Some(Effect::Quit)
    }

    fn switch(&mut self, tab: Tab) {
        self.tab = tab;
    }

    fn toggle_pause(&mut self) {
        if !self.is_live() {
            self.notify("pause is for live captures");
            return;
        }
        self.paused = !self.paused;
        if self.paused {
            self.notify("view paused; the capture goes on (p resumes)");
        } else {
            self.tick(self.now);
        }
    }

    fn export(&mut self) -> Option<Effect> {
        let report = self.report.clone()?;
        let (table, rows) = match self.tab {
            Tab::Flows => (Table::Flows, self.flows.rows()),
            Tab::Licensing => (Table::Licensing, self.licensing.rows()),
            Tab::Heartbeats => (Table::Heartbeats, self.heartbeats.rows()),
            Tab::Sessions => (Table::Sessions, self.sessions.rows()),
            Tab::Findings => (Table::Findings, self.findings.rows()),
        };
        Some(Effect::Export(Export {
            table,
            report,
            rows: rows.to_vec(),
        }))
    }

    fn sort(&mut self, reverse: bool) {
        let table = self.table_mut(self.tab);
        if reverse {
            table.reverse_sort();
        } else {
            table.cycle_sort();
        }
    }

    fn open_filter(&mut self) {
        let text = self.table(self.tab).filter_text().to_string();
        self.input = Some(FilterInput {
            table: self.tab,
            before: text.clone(),
            text,
            error: None,
        });
    }

    fn filter_key(&mut self, key: KeyEvent) {
        let Some(input) = self.input.as_mut() else {
            return;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                let before = input.before.clone();
                let table = input.table;
                self.input = None;
                self.apply_filter(table, before);
                return;
            }
            KeyCode::Enter => {
                if input.error.is_none() {
                    self.input = None;
                }
                return;
            }
            KeyCode::Backspace => {
                input.text.pop();
            }
            KeyCode::Char('u') if ctrl => input.text.clear(),
            KeyCode::Char(c) if !ctrl && !c.is_control() && input.text.len() < MAX_FILTER => {
                input.text.push(c);
            }
            _ => return,
        }
        let (table, text) = (input.table, input.text.clone());
        self.apply_filter(table, text);
    }

    /// Applies `text` as the filter of `table` if it parses; records the error otherwise
    /// (typing goes on, the rows stay as they were).
    fn apply_filter(&mut self, table: Tab, text: String) {
        let registry = self.registry.clone();
        let error = self.table_mut(table).try_filter(text, &registry).err();
        if let Some(input) = self.input.as_mut() {
            input.error = error;
        }
    }

    fn page(&self, area: Rect) -> isize {
        isize::try_from(area.height.max(2)).unwrap_or(2) - 1
    }

    /// Selection movement for navigation keys, `None` for other keys.
    fn nav(code: KeyCode, page: isize) -> Option<Nav> {
        Some(match code {
            KeyCode::Up | KeyCode::Char('k') => Nav::By(-1),
            KeyCode::Down | KeyCode::Char('j') => Nav::By(1),
            KeyCode::PageUp => Nav::By(-page),
            KeyCode::PageDown => Nav::By(page),
            KeyCode::Home | KeyCode::Char('g') => Nav::Top,
            KeyCode::End | KeyCode::Char('G') => Nav::Bottom,
            _ => return None,
        })
    }

    fn move_table(&mut self, tab: Tab, nav: Nav) {
        nav.apply(self.table_mut(tab));
    }

    /// Arrows and sideways keys of a table: true if `code` was one.
    fn table_key(&mut self, tab: Tab, code: KeyCode) -> bool {
        if let Some(nav) = Self::nav(code, self.page(self.hits.table)) {
            self.move_table(tab, nav);
        } else if let Some(by) = sideways(code) {
            self.table_mut(tab).scroll_columns(by);
        } else {
            return false;
        }
        true
    }

    fn flows_key(&mut self, code: KeyCode) -> Option<Effect> {
        if self.table_key(Tab::Flows, code) {
            return None;
        }
        match code {
            KeyCode::Enter | KeyCode::Char('d') => self.open_detail(),
            KeyCode::Char('w') => self.write_pcap(),
            _ => None,
        }
    }

    fn selected_flow(&self) -> Option<Arc<FlowRecord>> {
        let report = self.report.as_ref()?;
        let i = self.flows.selected_index()?;
        report.flows.get(i).cloned()
    }

    fn open_detail(&mut self) -> Option<Effect> {
        let flow = self.selected_flow()?;
        self.detail = Some(Detail {
            flow: flow.id,
            scroll: 0,
            hscroll: 0,
            stream: None,
            sections: Vec::new(),
            page: 0,
        });
        Some(Effect::OpenStream(flow.id))
    }

    fn write_pcap(&mut self) -> Option<Effect> {
        let flow = self.selected_flow()?;
        if let SourceKind::Live { write: None } = self.source.kind {
            self.notify_error(
                "live packets are not kept: start with --write FILE to be able to save a flow",
            );
            return None;
        }
        Some(Effect::WritePcap(flow))
    }

    fn detail_key(&mut self, code: KeyCode) -> Option<Effect> {
        match code {
            KeyCode::Enter | KeyCode::Char('d') | KeyCode::Esc => {
                self.detail = None;
                return Some(Effect::CloseStream);
            }
            // The pane follows (see `on_key`).
            KeyCode::Char('J') => {
                self.move_table(Tab::Flows, Nav::By(1));
                return None;
            }
            KeyCode::Char('K') => {
                self.move_table(Tab::Flows, Nav::By(-1));
                return None;
            }
            KeyCode::Char('w') => return self.write_pcap(),
            _ => {}
        }
        let detail = self.detail.as_mut()?;
        let page = detail.page.max(1) as isize;
        if let Some(by) = sideways(code) {
            detail.hscroll = detail.hscroll.saturating_add_signed(by * HSTEP);
            return None;
        }
        match code {
            KeyCode::Char(c @ ('[' | ']')) => {
                detail.scroll = section_jump(&detail.sections, detail.scroll, c == ']');
            }
            other => match Self::nav(other, page)? {
                Nav::By(d) => detail.scroll = detail.scroll.saturating_add_signed(d),
                Nav::Top => detail.scroll = 0,
                // Clamped to the last page when drawn.
                Nav::Bottom => detail.scroll = usize::MAX,
            },
        }
        None
    }

    /// The open detail panes show the selected rows: a Licensing, Heartbeats or Sessions pane
    /// starts again at the top of another row; the Flows pane opens the newly selected flow
    /// (its stream is the effect). With no row selected (a filter hides them all) a pane
    /// says so.
    fn follow_selection(&mut self) -> Option<Effect> {
        for tab in [Tab::Licensing, Tab::Heartbeats, Tab::Sessions] {
            let key = self.table(tab).selected_key();
            if let Some(pane) = self.pane_mut(tab) {
                pane.show_row(key);
            }
        }
        let flow = self.selected_flow()?;
        let detail = self.detail.as_mut()?;
        if detail.flow == flow.id {
            return None;
        }
        *detail = Detail {
            flow: flow.id,
            scroll: 0,
            hscroll: 0,
            stream: None,
            sections: Vec::new(),
            page: detail.page,
        };
        Some(Effect::OpenStream(flow.id))
    }

    fn findings_key(&mut self, code: KeyCode) -> Option<Effect> {
        if self.table_key(Tab::Findings, code) {
            return None;
        }
        if code == KeyCode::Enter {
            self.jump_to_finding_flow();
        }
        None
    }

    /// Shows the flow of the selected finding in the Flows view.
    fn jump_to_finding_flow(&mut self) {
        let Some(report) = self.report.clone() else {
            return;
        };
        let Some(finding) = self
            .findings
            .selected_index()
            .and_then(|i| report.findings.get(i))
        else {
            return;
        };
        let Some(id) = finding.flow else {
            self.notify("this finding is about the capture, not one flow");
            return;
        };
        self.show_flow(id);
    }

    /// Shows flow `id` in the Flows view, clearing the filter if it hides the flow.
    fn show_flow(&mut self, id: FlowId) {
        if self.report.as_ref().is_none_or(|r| r.flow(id).is_none()) {
            self.notify_error(format!(
                "flow {id} is not in the report (over the flow record cap)"
            ));
            return;
        }
        self.tab = Tab::Flows;
        if !self.flows.select_key(id) {
            self.flows.clear_filter();
            self.flows.select_key(id);
            self.notify(format!("filter cleared to show flow {id}"));
        }
    }

    /// The flows the selected row of `tab` lists, in the order its detail pane shows them.
    fn selected_links(&self, tab: Tab) -> Vec<FlowId> {
        fn of<M: FlowLinks>(table: &TableView<M>, report: &Report) -> Vec<FlowId> {
            table
                .selected_index()
                .map(|i| M::flows(report, i))
                .unwrap_or_default()
        }
        let Some(report) = self.report.as_deref() else {
            return Vec::new();
        };
        match tab {
            Tab::Licensing => of(&self.licensing, report),
            Tab::Heartbeats => of(&self.heartbeats, report),
            Tab::Sessions => of(&self.sessions, report),
            Tab::Flows | Tab::Findings => Vec::new(),
        }
    }

    /// Keys of the Licensing, Heartbeats and Sessions tables (no pane open).
    fn record_key(&mut self, tab: Tab, code: KeyCode) -> Option<Effect> {
        if self.table_key(tab, code) {
            return None;
        }
        match code {
            KeyCode::Enter | KeyCode::Char('d') => {
                let key = self.table(tab).selected_key();
                if key.is_some()
                    && let Some(slot) = tab.pane_slot()
                {
                    let mut pane = RecordPane::default();
                    pane.show_row(key);
                    self.panes[slot] = Some(pane);
                }
            }
            KeyCode::Char('f') => match self.selected_links(tab).first() {
                Some(&id) => self.show_flow(id),
                None => self.notify("no flow to go to"),
            },
            _ => {}
        }
        None
    }

    /// Keys of an open Licensing, Heartbeats or Sessions detail pane.
    fn pane_key(&mut self, tab: Tab, code: KeyCode) -> Option<Effect> {
        match code {
            KeyCode::Esc | KeyCode::Char('d') => {
                if let Some(slot) = tab.pane_slot() {
                    self.panes[slot] = None;
                }
            }
            KeyCode::Enter | KeyCode::Char('f') => match self.pane(tab).and_then(|p| p.flow()) {
                Some(id) => self.show_flow(id),
                None => self.notify("no flow listed here"),
            },
            KeyCode::Char('J') | KeyCode::Char('K') => {
                let by = if code == KeyCode::Char('J') { 1 } else { -1 };
                self.move_table(tab, Nav::By(by));
            }
            other => {
                if let Some(pane) = self.pane_mut(tab) {
                    pane.key(other);
                }
            }
        }
        None
    }

    // ---- mouse ----

    pub fn on_mouse(&mut self, m: MouseEvent) -> Option<Effect> {
        if self.waiting_for_file() || self.help || self.input.is_some() {
            return None;
        }
        let at = Position::new(m.column, m.row);
        let wheel = match m.kind {
            MouseEventKind::ScrollDown => WHEEL,
            MouseEventKind::ScrollUp => -WHEEL,
            MouseEventKind::Down(MouseButton::Left) => return self.click(at),
            _ => return None,
        };
        if self.hits.detail.contains(at) {
            if self.tab == Tab::Flows
                && let Some(d) = self.detail.as_mut()
            {
                d.scroll = d.scroll.saturating_add_signed(wheel);
            } else if let Some(p) = self.pane_mut(self.tab) {
                p.scroll = p.scroll.saturating_add_signed(wheel);
            }
            return None;
        }
        self.move_table(self.tab, Nav::By(wheel));
        self.follow_selection()
    }

    fn click(&mut self, at: Position) -> Option<Effect> {
        if at.y == self.hits.tab_row
            && let Some(&(_, _, tab)) = self
                .hits
                .tabs
                .iter()
                .find(|(x0, x1, _)| (*x0..*x1).contains(&at.x))
        {
            self.switch(tab);
            return None;
        }
        let detail = self.hits.detail;
        if detail.contains(at)
            && let Some(pane) = self.pane_mut(self.tab)
        {
            // A click on a listed flow highlights it.
            let line = pane.scroll + usize::from(at.y - detail.y);
            if let Some(i) = pane.links.iter().position(|&(l, _)| l == line) {
                pane.cursor = i;
            }
            return None;
        }
        let table = self.hits.table;
        if !table.contains(at) {
            return None;
        }
        let row = usize::from(at.y - table.y);
        let view = self.table_mut(self.tab);
        let at = view.offset() + row;
        if at < view.shown() {
            view.select_position(at);
        }
        self.follow_selection()
    }
}

/// A selection movement.
#[derive(Clone, Copy, Debug)]
enum Nav {
    By(isize),
    Top,
    Bottom,
}

impl Nav {
    fn apply(self, table: &mut dyn AnyTable) {
        match self {
            Nav::By(d) => table.move_by(d),
            Nav::Top => table.select_position(0),
            Nav::Bottom => table.select_position(usize::MAX),
        }
    }
}
