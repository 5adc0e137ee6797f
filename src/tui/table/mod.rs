//! The tables of the UI (flows, licensing, heartbeats, sessions, findings) as data: which rows pass the filter, in which order,
//! which one is selected, and what each cell says. No drawing here.
//!
//! Filtering and sorting are O(n log n) and run only when the data, the query or the sort
//! changes; moving the selection and drawing touch only the visible rows.

pub mod findings;
pub mod flows;
pub mod heartbeats;
pub mod licensing;
pub mod sessions;

use super::query::Query;
use crate::model::{FlowId, Report};
use ctxscope_dissectors::Registry;
use std::cmp::Reverse;
use std::sync::Arc;
use strum::VariantArray;

/// How a column is shown: header, width, alignment, and how important it is to keep when the
/// terminal is narrow (lower `keep` stays longer).
#[derive(Clone, Copy, Debug)]
pub struct ColumnSpec {
    pub header: &'static str,
    pub width: u16,
    pub right: bool,
    pub keep: u8,
    /// Takes the width left over (`width` is then a minimum).
    pub fill: bool,
    /// Not one of the view's main facts: it makes way (a scroll away) for a filling column
    /// whose text would be cut.
    pub extra: bool,
}

/// What a table needs to know about its rows.
pub trait TableModel {
    /// Its variants in display order.
    type Column: Copy + Eq + std::fmt::Debug + VariantArray + 'static;
    /// All columns in display order.
    const COLUMNS: &'static [Self::Column] = Self::Column::VARIANTS;
    /// Filter keys that mean something for these rows.
    const KEYS: &'static [&'static str];
    /// The order rows come in until the user picks another.
    const DEFAULT_SORT: Sort<Self::Column>;

    fn spec(column: Self::Column) -> ColumnSpec;
    fn len(report: &Report) -> usize;
    /// A stable identity for row `i`, so the selection survives new data and re-sorting.
    fn key(report: &Report, i: usize) -> u64;
    fn cell(report: &Report, i: usize, column: Self::Column) -> String;
    /// The cell for a column `width` characters wide; only cells that draw to their width
    /// (a timeline) need more than [`TableModel::cell`].
    fn sized_cell(report: &Report, i: usize, column: Self::Column, _width: u16) -> String {
        Self::cell(report, i, column)
    }
    /// Sorts `rows` (indices into the report's list) by `column`; see [`sort_rows`].
    fn sort(report: &Report, rows: &mut [usize], column: Self::Column, descending: bool);
    /// Whether row `j` of `old` and row `i` of `new` are the same, unchanged (so its search
    /// text can be kept). Only asked for rows with the same key.
    fn same_row(_old: &Report, _j: usize, _new: &Report, _i: usize) -> bool {
        false
    }
    /// Writes what free text is matched against for row `i`: the row as shown.
    fn search_text(report: &Report, i: usize, out: &mut String);
    /// Whether row `i` passes `query`; `text` is its search text, lower-cased (empty when the
    /// query has no free text).
    fn matches(report: &Report, i: usize, query: &Query, text: &str) -> bool;
}

/// A table whose rows are about connections (licensing, heartbeats, sessions): its detail pane
/// lists flows to jump to.
pub trait FlowLinks: TableModel {
    /// The flows of row `i`, in the order its detail pane lists them.
    fn flows(report: &Report, i: usize) -> Vec<FlowId>;
}

/// Whether a flow of the report has findings.
pub fn has_findings(report: &Report, flows: &[FlowId]) -> bool {
    flows
        .iter()
        .any(|&id| report.flow(id).is_some_and(|f| f.findings > 0))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort<C> {
    pub column: C,
    pub descending: bool,
}

/// Rows shown, selection and scrolling of one table over the report on screen.
#[derive(Clone, Debug)]
pub struct TableView<M: TableModel> {
    report: Option<Arc<Report>>,
    /// Indices into the report's list, filtered and sorted.
    rows: Vec<usize>,
    /// Index into `rows`.
    selected: usize,
    /// The identity of the selected row, kept across recomputations.
    selected_key: Option<u64>,
    /// First visible row (index into `rows`).
    offset: usize,
    /// How far the columns are scrolled right (0: the most important columns; clamped to
    /// what the width can reach when drawn).
    pub column_offset: usize,
    pub sort: Sort<M::Column>,
    query: Query,
    /// The filter as typed.
    pub filter_text: String,
    /// Lower-cased search text of every row of `report`, built when the report arrives (rows
    /// that did not change keep theirs), so typing free text costs a substring test per row
    /// instead of formatting every row.
    search: Vec<Box<str>>,
}

impl<M: TableModel> Default for TableView<M> {
    fn default() -> Self {
        TableView {
            report: None,
            rows: Vec::new(),
            selected: 0,
            selected_key: None,
            offset: 0,
            column_offset: 0,
            sort: M::DEFAULT_SORT,
            query: Query::default(),
            filter_text: String::new(),
            search: Vec::new(),
        }
    }
}

impl<M: TableModel> TableView<M> {
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// Rows before filtering.
    pub fn total(&self) -> usize {
        self.report.as_deref().map_or(0, M::len)
    }

    pub fn selected_index(&self) -> Option<usize> {
        self.rows.get(self.selected).copied()
    }

    pub fn selected_key(&self) -> Option<u64> {
        self.selected_key
    }

    /// Position of the selection among the rows shown.
    pub fn selected_position(&self) -> usize {
        self.selected
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn is_filtered(&self) -> bool {
        !self.query.is_empty()
    }

    /// Checks `text` as a filter for this table without applying it.
    pub fn parse_filter(text: &str, registry: &Registry) -> Result<Query, String> {
        let query = Query::parse(text, registry).map_err(|e| e.0)?;
        if let Some(key) = query.unsupported(M::KEYS) {
            return Err(format!(
                "`{key}:` does not apply here (keys here: {})",
                M::KEYS.join(", ")
            ));
        }
        Ok(query)
    }

    pub fn set_filter(&mut self, text: String, query: Query) {
        self.filter_text = text;
        self.query = query;
        self.recompute();
    }

    /// Sorts by the next column, keeping the selection.
    pub fn cycle_sort(&mut self) {
        let cols = M::COLUMNS;
        let at = cols
            .iter()
            .position(|c| *c == self.sort.column)
            .unwrap_or(0);
        self.sort = Sort {
            column: cols[(at + 1) % cols.len()],
            descending: false,
        };
        self.recompute();
    }

    pub fn reverse_sort(&mut self) {
        self.sort.descending = !self.sort.descending;
        self.recompute();
    }

    /// Shows `report`: filters and sorts its rows, keeping the selected row if it is still
    /// shown (else the row now at the same position).
    pub fn show(&mut self, report: Option<Arc<Report>>) {
        let same = match (&self.report, &report) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            let old = self.report.take();
            let old_search = std::mem::take(&mut self.search);
            if let Some(new) = &report {
                self.search = build_search::<M>(new, old.as_deref(), old_search);
            }
        }
        self.report = report;
        self.recompute();
    }

    fn recompute(&mut self) {
        self.rows.clear();
        let Some(report) = self.report.clone() else {
            self.selected = 0;
            self.selected_key = None;
            return;
        };
        let total = M::len(&report);
        if self.query.is_empty() {
            self.rows.extend(0..total);
        } else {
            let text = |i: usize| self.search.get(i).map_or("", |s| s);
            let query = &self.query;
            self.rows
                .extend((0..total).filter(|&i| M::matches(&report, i, query, text(i))));
        }
        let Sort { column, descending } = self.sort;
        M::sort(&report, &mut self.rows, column, descending);
        let kept = self
            .selected_key
            .and_then(|k| self.rows.iter().position(|&i| M::key(&report, i) == k));
        self.selected = kept.unwrap_or(self.selected.min(self.rows.len().saturating_sub(1)));
        self.selected_key = self.rows.get(self.selected).map(|&i| M::key(&report, i));
    }

    /// Moves the selection by `delta` rows (clamped).
    pub fn move_by(&mut self, delta: isize) {
        let last = self.rows.len().saturating_sub(1);
        let to = self.selected.saturating_add_signed(delta).min(last);
        self.select_position(to);
    }

    pub fn select_position(&mut self, position: usize) {
        let (Some(report), false) = (&self.report, self.rows.is_empty()) else {
            return;
        };
        self.selected = position.min(self.rows.len() - 1);
        self.selected_key = self.rows.get(self.selected).map(|&i| M::key(report, i));
    }

    /// Selects the row with identity `key`; false if it is not shown.
    pub fn select_key(&mut self, key: u64) -> bool {
        let Some(report) = &self.report else {
            return false;
        };
        match self.rows.iter().position(|&i| M::key(report, i) == key) {
            Some(p) => {
                self.selected = p;
                self.selected_key = Some(key);
                true
            }
            None => false,
        }
    }

    /// Adjusts the scroll offset so that the selection is visible in `height` rows, and returns
    /// the range of row positions to draw.
    pub fn visible(&mut self, height: usize) -> std::ops::Range<usize> {
        let len = self.rows.len();
        if height == 0 || len == 0 {
            self.offset = 0;
            return 0..0;
        }
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
        self.offset..(self.offset + height).min(len)
    }
}

/// What the app does with a table whatever its rows are: sort, filter, move, show new data.
pub trait AnyTable {
    fn cycle_sort(&mut self);
    fn reverse_sort(&mut self);
    fn filter_text(&self) -> &str;
    /// Parses `text` and applies it; the reason it does not parse otherwise (the rows stay
    /// as they were). `proto:` takes the protocols of `registry`.
    fn try_filter(&mut self, text: String, registry: &Registry) -> Result<(), String>;
    fn clear_filter(&mut self);
    fn move_by(&mut self, delta: isize);
    fn select_position(&mut self, position: usize);
    /// The selected row, as an index into the report's list.
    fn selected_index(&self) -> Option<usize>;
    fn selected_key(&self) -> Option<u64>;
    fn shown(&self) -> usize;
    fn offset(&self) -> usize;
    /// Scrolls the columns right (positive) or left.
    fn scroll_columns(&mut self, by: isize);
    fn show(&mut self, report: Option<Arc<Report>>);
}

impl<M: TableModel> AnyTable for TableView<M> {
    fn cycle_sort(&mut self) {
        TableView::cycle_sort(self);
    }

    fn reverse_sort(&mut self) {
        TableView::reverse_sort(self);
    }

    fn filter_text(&self) -> &str {
        &self.filter_text
    }

    fn try_filter(&mut self, text: String, registry: &Registry) -> Result<(), String> {
        let query = Self::parse_filter(&text, registry)?;
        self.set_filter(text, query);
        Ok(())
    }

    fn clear_filter(&mut self) {
        self.set_filter(String::new(), Query::default());
    }

    fn move_by(&mut self, delta: isize) {
        TableView::move_by(self, delta);
    }

    fn select_position(&mut self, position: usize) {
        TableView::select_position(self, position);
    }

    fn selected_index(&self) -> Option<usize> {
        TableView::selected_index(self)
    }

    fn selected_key(&self) -> Option<u64> {
        self.selected_key
    }

    fn shown(&self) -> usize {
        self.rows.len()
    }

    fn offset(&self) -> usize {
        self.offset
    }

    fn scroll_columns(&mut self, by: isize) {
        self.column_offset = self.column_offset.saturating_add_signed(by);
    }

    fn show(&mut self, report: Option<Arc<Report>>) {
        TableView::show(self, report);
    }
}

/// Sorts `rows` by the key `key` gives each row (extracted once per row, so the sort itself
/// runs over contiguous keys), then by the row's identity (the second element), ascending
/// whichever way the key runs: equal keys keep a stable, predictable order (flow ID, or the
/// order findings were raised).
pub fn sort_rows<K: Ord>(rows: &mut [usize], descending: bool, key: impl Fn(usize) -> (K, u64)) {
    if descending {
        rows.sort_by_cached_key(|&i| {
            let (k, id) = key(i);
            (Reverse(k), id)
        });
    } else {
        rows.sort_by_cached_key(|&i| key(i));
    }
}

/// An `f64` as a `u64` with the same order as `f64::total_cmp`.
pub fn f64_order(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The lower-cased search text of every row of `new`, taking it from `old` for rows that did
/// not change (both lists are in key order, so one pass pairs them up).
fn build_search<M: TableModel>(
    new: &Report,
    old: Option<&Report>,
    mut old_search: Vec<Box<str>>,
) -> Vec<Box<str>> {
    let mut scratch = String::new();
    let mut j = 0;
    (0..M::len(new))
        .map(|i| {
            if let Some(old) = old {
                let key = M::key(new, i);
                while j < old_search.len() && M::key(old, j) < key {
                    j += 1;
                }
                if j < old_search.len() && M::key(old, j) == key && M::same_row(old, j, new, i) {
                    return std::mem::take(&mut old_search[j]);
                }
            }
            scratch.clear();
            M::search_text(new, i, &mut scratch);
            scratch.make_ascii_lowercase();
            Box::from(scratch.as_str())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_order_matches_total_cmp() {
        let xs = [-1e9, -1.5, -0.0, 0.0, 1e-9, 1.5, 1e300, f64::INFINITY];
        for a in xs {
            for b in xs {
                assert_eq!(f64_order(a).cmp(&f64_order(b)), a.total_cmp(&b), "{a} {b}");
            }
        }
    }

    #[test]
    fn equal_keys_keep_identity_order_both_ways() {
        let keys = [3, 1, 3, 2, 1];
        let mut rows: Vec<usize> = (0..5).collect();
        sort_rows(&mut rows, false, |i| (keys[i], i as u64));
        assert_eq!(rows, [1, 4, 3, 0, 2]);
        sort_rows(&mut rows, true, |i| (keys[i], i as u64));
        assert_eq!(rows, [0, 2, 3, 1, 4]);
    }
}
