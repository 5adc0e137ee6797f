//! The Findings table: what the analysis says is wrong, most severe first.

use super::flows::flow_term;
use super::{ColumnSpec, Sort, TableModel, sort_rows};
use crate::model::{Finding, Report};
use crate::tui::query::{Query, TermKind};
use crate::tui::text::time_of_day;
use std::fmt::Write as _;
use strum::VariantArray;

/// The columns, in display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, VariantArray)]
pub enum FindingColumn {
    Severity,
    Time,
    Code,
    Flow,
    Count,
    Message,
}

pub struct Findings;

fn finding(report: &Report, i: usize) -> &Finding {
    &report.findings[i]
}

/// `3`, or `3,7` when a second flow is involved.
pub fn flows_cell(f: &Finding) -> String {
    match (f.flow, f.related_flow) {
        (Some(a), Some(b)) => format!("{a},{b}"),
        (Some(a), None) => a.to_string(),
        (None, Some(b)) => format!("-,{b}"),
        (None, None) => "-".to_string(),
    }
}

impl TableModel for Findings {
    type Column = FindingColumn;
    const KEYS: &'static [&'static str] = &["sev", "code", "flow", "proto", "port", "host"];
    const DEFAULT_SORT: Sort<FindingColumn> = Sort {
        column: FindingColumn::Severity,
        descending: true,
    };

    fn spec(column: FindingColumn) -> ColumnSpec {
        // Widths leave room for the header and its sort arrow.
        let (header, width, right, keep) = match column {
            FindingColumn::Severity => ("SEVERITY", 9, false, 0),
            // Severity, time, code and message are what the view is about; the flow and the
            // count are in the panel below and a scroll away.
            FindingColumn::Time => ("TIME", 12, false, 1),
            FindingColumn::Code => ("CODE", 28, false, 2),
            FindingColumn::Flow => ("FLOW", 7, true, 4),
            FindingColumn::Count => ("COUNT", 6, true, 5),
            // The message takes what is left; its width is a minimum.
            FindingColumn::Message => ("MESSAGE", 24, false, 3),
        };
        ColumnSpec {
            header,
            width,
            right,
            keep,
            fill: column == FindingColumn::Message,
            extra: column == FindingColumn::Count,
        }
    }

    fn len(report: &Report) -> usize {
        report.findings.len()
    }

    fn key(_report: &Report, i: usize) -> u64 {
        // Findings are only ever appended (repeats raise a count), so the position is an
        // identity that survives new snapshots.
        i as u64
    }

    fn cell(report: &Report, i: usize, column: FindingColumn) -> String {
        let f = finding(report, i);
        match column {
            FindingColumn::Severity => f.severity.name().to_string(),
            FindingColumn::Time => time_of_day(f.first),
            FindingColumn::Code => f.code.to_string(),
            FindingColumn::Flow => flows_cell(f),
            FindingColumn::Count => f.count.to_string(),
            FindingColumn::Message => f.message.clone(),
        }
    }

    fn sort(report: &Report, rows: &mut [usize], column: FindingColumn, descending: bool) {
        let f = |i: usize| finding(report, i);
        let d = descending;
        let id = |i: usize| i as u64;
        match column {
            FindingColumn::Severity => sort_rows(rows, d, |i| (f(i).severity, id(i))),
            FindingColumn::Time => sort_rows(rows, d, |i| (f(i).first, id(i))),
            FindingColumn::Code => sort_rows(rows, d, |i| (f(i).code, id(i))),
            FindingColumn::Flow => sort_rows(rows, d, |i| (f(i).flow, id(i))),
            FindingColumn::Count => sort_rows(rows, d, |i| (f(i).count, id(i))),
            FindingColumn::Message => sort_rows(rows, d, |i| (f(i).message.as_str(), id(i))),
        }
    }

    fn search_text(report: &Report, i: usize, out: &mut String) {
        let f = finding(report, i);
        let _ = write!(
            out,
            "{} {} {} {}",
            f.severity,
            f.code,
            flows_cell(f),
            f.message
        );
    }

    fn matches(report: &Report, i: usize, query: &Query, text: &str) -> bool {
        let f = finding(report, i);
        query.matches(|term| match term {
            TermKind::Severity(min) => f.severity >= *min,
            TermKind::Code(prefix) => f.code.starts_with(prefix.as_str()),
            TermKind::Flow(id) => f.flow == Some(*id) || f.related_flow == Some(*id),
            TermKind::Text(needle) => text.contains(needle.as_str()),
            // Everything else is about the flow the finding is on.
            other => f
                .flow
                .and_then(|id| report.flow(id))
                .is_some_and(|flow| flow_term(flow, other)),
        })
    }
}
