//! Per-direction counters of one connection.

use super::info::SegmentInfo;
use serde::Serialize;

/// What one direction of a connection carried and what the reassembler made of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirCounters {
    /// Segments sent in this direction.
    pub segments: u64,
    /// Payload bytes the segments announced (captured plus cut off by the snaplen).
    pub payload_bytes: u64,
    /// Bytes handed over in order as `Delivery::Data`.
    pub delivered_bytes: u64,
    /// `Delivery::Gap` hand-overs and the bytes they stood for.
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Wireshark's tcp.analysis.* per segment (spurious and fast retransmissions also count as
    /// retransmissions).
    pub retransmissions: u64,
    pub spurious_retransmissions: u64,
    pub out_of_order: u64,
    pub lost_segments: u64,
    /// Segments acknowledging bytes of the peer that were never captured.
    pub acked_unseen: u64,
    pub fast_retransmissions: u64,
    pub duplicate_acks: u64,
    pub keep_alives: u64,
    pub zero_windows: u64,
    pub zero_window_probes: u64,
    /// Segments partly repeating received bytes, and overlapping bytes that differed.
    pub overlaps: u64,
    pub overlap_conflicts: u64,
    /// Times the out-of-order store hit its cap and released held data with gaps.
    pub cap_flushes: u64,
    /// Delivered bytes dropped before the peer acknowledged them (the per-direction cap
    /// `limits.unacked_bytes_per_direction`, the global budget, or a gap after them): a later
    /// copy of them could not be compared.
    pub unacked_released_bytes: u64,
    pub syns: u64,
    pub syn_acks: u64,
    pub fins: u64,
    pub rsts: u64,
    /// Payload bytes beyond this direction's FIN (not delivered).
    pub beyond_fin_bytes: u64,
    /// Segments sent after the connection was reset.
    pub after_reset: u64,
}

impl DirCounters {
    /// Counts the per-segment analysis flags of a segment sent in this direction. Reassembly
    /// facts (overlaps, conflicts, cap flushes, gaps) are counted where they are found, in the
    /// direction whose bytes they concern.
    pub(super) fn count_analysis(&mut self, info: SegmentInfo) {
        if info.is_empty() {
            return; // the common case: an ordinary segment
        }
        let flags = [
            (SegmentInfo::RETRANSMISSION, &mut self.retransmissions),
            (
                SegmentInfo::SPURIOUS_RETRANSMISSION,
                &mut self.spurious_retransmissions,
            ),
            (SegmentInfo::OUT_OF_ORDER, &mut self.out_of_order),
            (SegmentInfo::LOST_SEGMENT, &mut self.lost_segments),
            (SegmentInfo::ACKED_UNSEEN, &mut self.acked_unseen),
            (
                SegmentInfo::FAST_RETRANSMISSION,
                &mut self.fast_retransmissions,
            ),
            (SegmentInfo::DUPLICATE_ACK, &mut self.duplicate_acks),
            (SegmentInfo::KEEP_ALIVE, &mut self.keep_alives),
            (SegmentInfo::ZERO_WINDOW, &mut self.zero_windows),
            (SegmentInfo::ZERO_WINDOW_PROBE, &mut self.zero_window_probes),
            (SegmentInfo::AFTER_RESET, &mut self.after_reset),
        ];
        for (flag, counter) in flags {
            *counter += u64::from(info.has(flag));
        }
    }
}
