//! One memory budget, `limits.memory`, shared by everything that grows with the traffic, as
//! Suricata's memcaps share its memory: each part gets a documented share of the budget, and
//! its cap is that share divided by what one item of the part costs (measured with a counting
//! allocator, `tests/memory.rs`). A cap set on its own wins over the one derived here.
//!
//! The shares add up to 85%: the rest is headroom for what is not counted item by item (the
//! allocator's slack, hash tables between two growths, the dissectors' message buffers). The
//! small fixed tables (announcements, fragments, scan sources, EDT pairs) and the reading
//! thread's buffers are not in the budget; they are the fixed overhead the README gives.

use super::{Limits, Size};

/// A part of the budget: the cap it sets, its share in percent and what one item costs.
pub struct Share {
    pub part: &'static str,
    pub percent: u64,
    pub item_bytes: u64,
}

/// Tracked connections (`max_flows`): a flow table slot, its reassembly and dissector state.
/// The item is the 1,500 bytes it was when an idle connection cost 1,834, scaled by the drop to
/// 994 (`tests/flow_memory.rs`, slot and index included); connections holding payload draw on
/// the reassembly share.
pub const FLOWS: Share = Share {
    part: "max_flows",
    percent: 30,
    item_bytes: 815,
};
/// Bytes held for reassembly (`reassembly_bytes_total`): out-of-order segments and delivered
/// bytes awaiting their ACK, with the memory around each.
pub const REASSEMBLY: Share = Share {
    part: "reassembly_bytes_total",
    percent: 25,
    item_bytes: 1,
};
/// Finished connections kept for the report (`max_flow_records`).
pub const RECORDS: Share = Share {
    part: "max_flow_records",
    percent: 15,
    item_bytes: 750,
};
/// Decoded events kept over all connections (`max_events_total`).
pub const EVENTS: Share = Share {
    part: "max_events_total",
    percent: 10,
    item_bytes: 400,
};
/// Distinct findings kept (`max_findings`).
pub const FINDINGS: Share = Share {
    part: "max_findings",
    percent: 3,
    item_bytes: 1_000,
};
/// Licensing sessions, Citrix sessions and heartbeat series kept, each (`max_sessions`).
pub const SESSIONS: Share = Share {
    part: "max_sessions",
    percent: 2,
    item_bytes: 2_000,
};

/// Every share, in the order the README lists them.
pub const SHARES: [Share; 6] = [FLOWS, REASSEMBLY, RECORDS, EVENTS, FINDINGS, SESSIONS];

/// The smallest budget: below it the derived caps leave too few connections to analyse.
pub const MIN_MEMORY: Size = Size::mib(4);

impl Share {
    /// The cap this share of `memory` sets: how many items fit in it.
    pub fn cap(&self, memory: Size) -> usize {
        Size(memory.0 / 100 * self.percent / self.item_bytes).bytes()
    }
}

impl Limits {
    /// The default caps for a budget of `memory`: the parts' caps derived from it, the caps
    /// of one connection and of the small tables fixed.
    pub fn within(memory: Size) -> Limits {
        Limits {
            memory,
            max_flows: FLOWS.cap(memory),
            max_flow_records: RECORDS.cap(memory),
            max_events_per_flow: 100,
            max_events_total: EVENTS.cap(memory),
            max_findings: FINDINGS.cap(memory),
            max_announcements: 4096,
            reassembly_bytes_per_direction: Size::mib(1),
            reassembly_segments_per_direction: 2048,
            unacked_bytes_per_direction: Size(64 << 10),
            reassembly_bytes_total: Size(REASSEMBLY.cap(memory) as u64),
            stream_depth: true,
            max_fragmented_datagrams: 1024,
            max_sessions: SESSIONS.cap(memory),
            max_scan_sources: 1024,
            max_edt_attempts: 4096,
        }
    }

    /// One of `workers` flow-sharded workers' caps: the budget is one for the process, so each
    /// worker gets its share of every part of it (at least one item). The caps of one
    /// connection stay, and so do the small fixed tables (the scan detector, which every
    /// worker replicates, needs the whole of its own).
    pub fn per_worker(&self, workers: usize) -> Limits {
        let n = workers.max(1);
        let share = |cap: usize| (cap / n).max(1);
        Limits {
            memory: Size(self.memory.0 / n as u64),
            max_flows: share(self.max_flows),
            max_flow_records: share(self.max_flow_records),
            max_events_total: share(self.max_events_total),
            max_findings: share(self.max_findings),
            reassembly_bytes_total: Size(share(self.reassembly_bytes_total.bytes()) as u64),
            max_sessions: share(self.max_sessions),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_is_shared_as_documented() {
        let l = Limits::default();
        assert_eq!(l.memory, Size::mib(150));
        assert_eq!(l.max_flows, 57_896);
        assert_eq!(l.reassembly_bytes_total, Size(39_321_600));
        assert_eq!(l.max_flow_records, 31_457);
        assert_eq!(l.max_events_total, 39_321);
        assert_eq!(l.max_findings, 4_718);
        assert_eq!(l.max_sessions, 1_572);
        let shared: u64 = SHARES.iter().map(|s| s.percent).sum();
        assert_eq!(shared, 85);
    }

    #[test]
    fn workers_share_the_budget() {
        let whole = Limits::default();
        let half = whole.per_worker(2);
        assert_eq!(half.max_flows, 28_948);
        assert_eq!(half.reassembly_bytes_total, Size(19_660_800));
        assert_eq!(half.max_flow_records, 15_728);
        assert_eq!(half.max_events_total, 19_660);
        assert_eq!(half.max_findings, 2_359);
        assert_eq!(half.max_sessions, 786);
        assert_eq!(half.max_events_per_flow, whole.max_events_per_flow);
        assert_eq!(half.max_scan_sources, whole.max_scan_sources);
        assert_eq!(whole.per_worker(1).max_flows, whole.max_flows);
    }

    #[test]
    fn caps_scale_with_the_budget() {
        let small = Limits::within(Size::mib(16));
        let large = Limits::within(Size::mib(1600));
        assert_eq!(large.max_flows, 617_566);
        assert_eq!(small.max_flows, 6_175);
        assert_eq!(small.reassembly_bytes_total, Size(4_194_300));
        // What does not grow with the traffic as a whole stays.
        assert_eq!(small.max_events_per_flow, large.max_events_per_flow);
        assert_eq!(
            small.reassembly_bytes_per_direction,
            Limits::default().reassembly_bytes_per_direction
        );
    }
}
