//! Limits: what every cap cost, and the counters of the bounded tables.

use super::DirCounters;
use serde::Serialize;

/// Segments of one connection direction kept waiting for their ACK to time the RTT (Wireshark
/// keeps up to 10,000; 256 full-size segments are 370 KB in flight, more than a Citrix
/// connection's window). A segment sent while this many wait is not timed.
pub const RTT_SEGMENTS_PER_DIRECTION: usize = 256;

/// Every cap that was hit, so nothing is lost silently.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LimitStats {
    pub flow_table: FlowTableStats,
    /// Finished connections not kept in the report because `limits.max_flow_records` was hit.
    pub flow_records_dropped: u64,
    /// Decoded events not kept (per-connection cap).
    pub events_dropped: u64,
    /// Findings not kept because `limits.max_findings` distinct findings existed.
    pub findings_dropped: u64,
    pub announcements: AnnouncementStats,
    /// Licensing sessions, Citrix sessions and heartbeat series not kept
    /// (`limits.max_sessions`), each counted once however many connections it had.
    pub sessions_dropped: u64,
    /// Sources whose connection attempts were forgotten by the scan detector before their
    /// window ended, because `limits.max_scan_sources` newer sources came since.
    pub scan_sources_dropped: u64,
    /// Times the bytes held for reassembly over all connections exceeded
    /// `limits.reassembly_bytes_total` and a connection's buffers were released (held data as
    /// gaps).
    pub reassembly_budget_flushes: u64,
    /// Times a connection direction's out-of-order store hit
    /// `limits.reassembly_bytes_per_direction` or `limits.reassembly_segments_per_direction`
    /// and released held data as gaps (the sum of the flows' `cap_flushes`).
    pub reassembly_cap_flushes: u64,
    /// Delivered bytes that left the retransmission check before their ACK
    /// (`limits.unacked_bytes_per_direction` or the global budget; the sum of the flows'
    /// `unacked_released_bytes`): copies of them were not compared.
    pub unacked_released_bytes: u64,
    /// Segments not timed for the RTT because [`RTT_SEGMENTS_PER_DIRECTION`] of their
    /// direction were awaiting their ACK (the sum of the flows' `rtt_untracked_segments`).
    pub rtt_untracked_segments: u64,
    /// pcapng interface blocks beyond the cap on interfaces per section (their packets are
    /// counted as malformed).
    pub pcapng_interfaces_refused: u64,
    /// EDT (UDP) attempts not followed because `limits.max_edt_attempts` client/server pairs
    /// were tracked: neither an answer nor a fallback to TCP is judged for them.
    pub edt_attempts_dropped: u64,
}

impl LimitStats {
    /// Adds what a connection's caps cost it, from the counters of both its directions.
    pub fn count_connection(&mut self, directions: [DirCounters; 2]) {
        for c in directions {
            self.reassembly_cap_flushes += c.cap_flushes;
            self.unacked_released_bytes += c.unacked_released_bytes;
            self.rtt_untracked_segments += c.rtt_untracked_segments;
        }
    }
}

/// The flow table's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlowTableStats {
    pub created: u64,
    pub peak_concurrent: u64,
    pub retired_closed: u64,
    pub retired_idle: u64,
    /// Connections not tracked because the table was full (their packets are only counted).
    /// Distinct 5-tuples, told apart by a cache of the last few thousand refused, so a
    /// connection is counted again only after thousands of others were refused since.
    pub rejected_at_cap: u64,
    /// Packets of those connections.
    pub packets_untracked: u64,
}

/// Ports announced by lmgrd, and what became of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AnnouncementStats {
    pub registered: u64,
    /// Announcements that saw a connection.
    pub claimed: u64,
    /// Further connections to an announced port within its wait (retries). Left out of the
    /// JSON when zero (the common case).
    #[serde(skip_serializing_if = "is_zero")]
    pub reclaimed: u64,
    /// Announcements whose wait ran out without any connection.
    pub expired: u64,
    /// Dropped because the table was full.
    pub dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
