//! One report out of the reports of flow-sharded workers, and the order every report is
//! given in, so that the output is the same whatever the number of workers.
//!
//! - Flow IDs: a worker numbers a flow by the packet that created it (see `shard`); here they
//!   are renumbered 1, 2, ... in that order, as one engine numbers them, everywhere they occur.
//! - Findings: in the order they were first raised ([`Finding::raised`]); at the same packet
//!   (a sweep retires many flows at once) by flow, findings on no flow first, those by code. A
//!   finding on no flow raised by several workers is one finding: counts added, the first and
//!   last sighting widened, the message of the first raised.
//! - Licensing sessions by their first sighting, then client, server and vendor; Citrix
//!   sessions by their first connection (and numbered 1, 2, ... in that order); heartbeat
//!   series by flow and kind.
//! - A vendor daemon's port changing between two clients' handshakes is judged here, over
//!   every worker's redirects in capture order (see `analysis::licensing::ports`).
//! - Counters are added, except `limits.scan_sources_dropped` (every worker's scan detector
//!   sees every attempt, so each counts the same) and `limits.flow_table.peak_concurrent`,
//!   which every worker reports the same: the most, over the workers' meetings at the sweeps,
//!   of the sum of their flow table sizes (see `shard`).

use super::shard::Part;
use crate::analysis::{Deferred, Findings, judge_deferred};
use crate::ids::FlowId;
use crate::model::{
    CaptureStats, CitrixSession, Finding, FlowRecord, FlowTableStats, HeartbeatSeries,
    LicensingSession, LimitStats, Report, SourceSummary,
};
use ctxscope_dissectors::{Timestamp, WireText};
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

/// What the reader knows that no worker does: the capture's first and last timestamps.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReaderClock {
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

/// Puts a report's lists in their canonical order (see the module).
pub fn canonical_order(report: &mut Report) {
    report.flows.sort_by_key(|r| r.id);
    report
        .findings
        .sort_by(|a, b| finding_key(a).cmp(&finding_key(b)));
    report
        .licensing
        .sort_by(|a, b| licensing_key(a).cmp(&licensing_key(b)));
    report.sessions.sort_by_key(session_key);
    for (i, s) in report.sessions.iter_mut().enumerate() {
        s.id = i as u64 + 1;
    }
    report.heartbeats.sort_by_key(heartbeat_key);
}

pub(super) fn finding_key(f: &Finding) -> (u64, Option<FlowId>, &'static str) {
    (f.raised, f.flow, if f.flow.is_none() { f.code } else { "" })
}

pub(super) fn licensing_key(
    l: &LicensingSession,
) -> (Timestamp, IpAddr, IpAddr, &Option<WireText>) {
    (l.first, l.client, l.server, &l.vendor)
}

pub(super) fn session_key(s: &CitrixSession) -> (Option<FlowId>, IpAddr) {
    (s.flows.first().copied(), s.client)
}

pub(super) fn heartbeat_key(h: &HeartbeatSeries) -> (FlowId, u8) {
    (h.flow, h.stats.kind as u8)
}

/// The report of a capture analysed by the workers that made `parts`.
pub fn merge(parts: Vec<Part>, clock: ReaderClock) -> Report {
    merge_numbered(parts, clock, None).0
}

/// [`merge`], and the workers' ID of each flow of the report: flow `n` is the workers' `[n - 1]`
/// (what a live view names to tap a flow's stream in its worker). Snapshots of the workers
/// pass the [`Renumbered`] records of the last one, so that only the records that changed
/// are copied to be renumbered.
pub fn merge_numbered(
    parts: Vec<Part>,
    clock: ReaderClock,
    kept: Option<&mut Renumbered>,
) -> (Report, Vec<FlowId>) {
    let (reports, deferred): (Vec<Report>, Vec<Deferred>) =
        parts.into_iter().map(|p| (p.report, p.deferred)).unzip();
    let dropped: u64 = deferred.iter().map(|d| d.dropped).sum();
    let mut all = add_all(reports);
    all.limits.events_dropped += dropped;
    add_findings(&mut all, judge_deferred(deferred));
    all.capture.first = clock.first;
    all.capture.last = clock.last;
    all.findings = one_per_flowless_code(std::mem::take(&mut all.findings));
    let ids = renumber(&mut all, kept);
    canonical_order(&mut all);
    (all, ids)
}

/// The workers' reports added up.
fn add_all(reports: Vec<Report>) -> Report {
    let mut parts = reports.into_iter();
    let Some(mut all) = parts.next() else {
        return Report {
            sources: Vec::new(),
            capture: Default::default(),
            limits: Default::default(),
            flows: Vec::new(),
            findings: Vec::new(),
            licensing: Vec::new(),
            heartbeats: Vec::new(),
            sessions: Vec::new(),
        };
    };
    for part in parts {
        add(&mut all, part);
    }
    all
}

/// Findings judged here, counted on their flows' records too.
fn add_findings(all: &mut Report, findings: Vec<Finding>) {
    let records: FxHashMap<FlowId, usize> = all
        .flows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id, i))
        .collect();
    for f in &findings {
        if let Some(&i) = f.flow.as_ref().and_then(|id| records.get(id)) {
            Arc::make_mut(&mut all.flows[i]).findings += f.count;
        }
    }
    all.findings.extend(findings);
}

/// Adds one worker's report to the others'.
fn add(all: &mut Report, part: Report) {
    for (s, p) in all.sources.iter_mut().zip(&part.sources) {
        add_source(s, p);
    }
    add_capture(&mut all.capture, &part.capture);
    add_limits(&mut all.limits, &part.limits);
    all.flows.extend(part.flows);
    all.findings.extend(part.findings);
    all.licensing.extend(part.licensing);
    all.heartbeats.extend(part.heartbeats);
    all.sessions.extend(part.sessions);
}

/// Adds one worker's capture counters to the others'.
pub(super) fn add_capture(c: &mut CaptureStats, p: &CaptureStats) {
    add_counters!(c, p; packets, bytes, tcp_packets, udp_packets, other_ip_packets,
        non_ip_packets, headers_cut, payload_cut, malformed, unsupported_link, ipv6_fragments);
    add_counters!(c.ipv4_fragments, p.ipv4_fragments; fragments, datagrams_reassembled,
        datagrams_timed_out, datagrams_evicted, fragments_refused);
}

/// Adds what one worker's caps cost to the others' (see the module for the two exceptions).
pub(super) fn add_limits(l: &mut LimitStats, p: &LimitStats) {
    add_flow_table(&mut l.flow_table, &p.flow_table);
    add_counters!(l, p; flow_records_dropped, events_dropped, findings_dropped, sessions_dropped,
        reassembly_budget_flushes, reassembly_cap_flushes, unacked_released_bytes,
        rtt_untracked_segments, pcapng_interfaces_refused, edt_attempts_dropped);
    add_counters!(l.announcements, p.announcements; registered, claimed, reclaimed, expired,
        dropped);
    l.scan_sources_dropped = l.scan_sources_dropped.max(p.scan_sources_dropped);
}

fn add_source(s: &mut SourceSummary, p: &SourceSummary) {
    add_counters!(s, p; packets, bytes);
    if s.error.is_none() {
        s.error.clone_from(&p.error);
    }
}

fn add_flow_table(t: &mut FlowTableStats, p: &FlowTableStats) {
    add_counters!(t, p; created, retired_closed, retired_idle, rejected_at_cap,
        packets_untracked);
    // Every worker reports the same peak of all the tables together (see `shard`).
    t.peak_concurrent = t.peak_concurrent.max(p.peak_concurrent);
}

/// Folds the findings on no flow that several workers raised with the same code into one.
fn one_per_flowless_code(findings: Vec<Finding>) -> Vec<Finding> {
    let mut kept = Findings::new(usize::MAX);
    for f in findings {
        kept.add(f);
    }
    kept.into_list()
}

/// The flow records of the last snapshot merged, renumbered, by the workers' record: a
/// record a worker has not changed since (the same `Arc`) keeps its renumbered copy, as long
/// as its numbers stay (they do, but where a cap drops records). Holds the records of one
/// snapshot.
#[derive(Default)]
pub struct Renumbered {
    records: FxHashMap<FlowId, (Arc<FlowRecord>, Arc<FlowRecord>)>,
}

/// Flow IDs 1, 2, ... in the order of the workers' IDs (the packets that created the flows);
/// the workers' IDs in that order.
fn renumber(report: &mut Report, kept: Option<&mut Renumbered>) -> Vec<FlowId> {
    let mut ids: BTreeSet<FlowId> = report
        .flows
        .iter()
        .flat_map(|r| [Some(r.id), r.announced_by])
        .flatten()
        .collect();
    each_other_flow_id(report, &mut |id| {
        ids.insert(*id);
    });
    let new: FxHashMap<FlowId, FlowId> = ids.iter().copied().zip(1..).collect();
    let mut renumber = |id: &mut FlowId| {
        if let Some(&n) = new.get(id) {
            *id = n;
        }
    };
    let mut last = kept.map(|k| (std::mem::take(&mut k.records), k));
    for r in &mut report.flows {
        let mut id = r.id;
        renumber(&mut id);
        let mut announced_by = r.announced_by;
        announced_by.iter_mut().for_each(&mut renumber);
        let set = |r: &mut Arc<FlowRecord>| {
            let ours = Arc::make_mut(r);
            ours.id = id;
            ours.announced_by = announced_by;
        };
        let Some((records, kept)) = &mut last else {
            set(r);
            continue;
        };
        let theirs = Arc::clone(r);
        match records.remove(&theirs.id) {
            Some((was, ours))
                if Arc::ptr_eq(&was, &theirs)
                    && ours.id == id
                    && ours.announced_by == announced_by =>
            {
                *r = ours;
            }
            _ => set(r),
        }
        kept.records.insert(theirs.id, (theirs, Arc::clone(r)));
    }
    each_other_flow_id(report, &mut renumber);
    ids.into_iter().collect()
}

/// Every flow ID in the report outside its flow records.
fn each_other_flow_id(report: &mut Report, f: &mut impl FnMut(&mut FlowId)) {
    for x in &mut report.findings {
        x.flow.iter_mut().for_each(&mut *f);
        x.related_flow.iter_mut().for_each(&mut *f);
    }
    for l in &mut report.licensing {
        for h in &mut l.handshakes {
            f(&mut h.flow);
            if let Some(a) = &mut h.announced {
                a.vendor_flow.iter_mut().for_each(&mut *f);
            }
        }
        for v in &mut l.vendor_connections {
            f(&mut v.flow);
            v.announced_by.iter_mut().for_each(&mut *f);
        }
    }
    for h in &mut report.heartbeats {
        f(&mut h.flow);
    }
    for s in &mut report.sessions {
        s.flows.iter_mut().for_each(&mut *f);
        s.edt_attempts.iter_mut().for_each(&mut *f);
    }
}
